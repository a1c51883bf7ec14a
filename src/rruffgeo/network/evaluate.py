"""``run_train`` (80/20 hold-out) and ``run_cv`` (stratified k-fold) with the 1-NN baseline.

Both read the spectrum matrix and the learning table from the work folder, split by spectrum
(the paper's protocol) or grouped by specimen, train the network on each training part, score
it and the 1-nearest-neighbour cosine baseline on the same test part, and write
``metrics/{train,cv}_<split>.json`` plus ``*_per_country.csv`` (format in the common brief).

Resuming: each fold keeps a checkpoint after every epoch in its model folder
(``WorkDir.model_dir``) and, once finished, its model and ``result.json`` (``FoldResult``); a
re-run with the same data and settings skips finished folds and resumes the open one at its
last epoch. Where and how fast it runs (device, threads) is not part of that key
(``result_fingerprint``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rruffgeo.config import (
    Evaluation,
    Settings,
    Split,
    fingerprint,
    replace,
    result_fingerprint,
    to_dict,
)
from rruffgeo.dataset import resampled_learning_table
from rruffgeo.network import distributed
from rruffgeo.network.baseline import nn1_cosine_scores
from rruffgeo.network.curves import curves_table
from rruffgeo.network.metrics import (
    fold_metrics,
    per_class_metrics,
    per_class_summary,
    summarise,
)
from rruffgeo.network.modelio import save_model
from rruffgeo.network.runtime import (
    predict_proba,
    resolve_train_precision,
    select_device,
    set_threads,
)
from rruffgeo.network.train import fit_network
from rruffgeo.results import EvaluationResult, FoldResult
from rruffgeo.spectra.matrix import MatrixRows
from rruffgeo.splits import cv_splits, holdout_split, inner_split
from rruffgeo.workdir import (
    CHECKPOINT,
    FOLD_PREDICTIONS,
    FOLD_RESULT,
    WorkDir,
    read_json,
    write_csv_atomic,
    write_json_atomic,
)

log = logging.getLogger(__name__)

PER_COUNTRY_COLUMNS = ["country_iso3", "country_name", "n_samples", "f1_mean", "f1_std",
                       "precision_mean", "precision_std", "recall_mean", "recall_std",
                       "f1_baseline_1nn_mean", "f1_baseline_1nn_std",
                       "precision_baseline_1nn_mean", "precision_baseline_1nn_std"]


@dataclass
class Dataset:
    """Spectra, labels and specimens of the learning table, aligned row by row."""

    X: MatrixRows
    y: np.ndarray
    groups: np.ndarray
    classes: list[str]
    class_names: list[str]
    table: pd.DataFrame
    grid_cm1: np.ndarray
    key: str

    def groups_of(self, split: Split) -> np.ndarray | None:
        """What ``split`` keeps on one side (its ``group_column``), None for no grouping."""
        return None if split.group_column is None else self.table[split.group_column].to_numpy()


def load_dataset(workdir: WorkDir, settings: Settings) -> Dataset:
    """Learning table restricted to resampled spectra, with a lazy view of its matrix rows."""
    matrix, table = resampled_learning_table(workdir, settings)
    classes = sorted(table["country_iso3"].unique())
    names = table.drop_duplicates("country_iso3").set_index("country_iso3")["country_name"]
    y = table["country_iso3"].map({c: i for i, c in enumerate(classes)}).to_numpy(np.int64)
    # Rows of the memory-mapped matrix, read batch by batch by training and the baselines.
    X = MatrixRows(matrix.X, matrix.rows_of(table["spectrum_id"].tolist()))
    ids = hashlib.sha256("\n".join(table["spectrum_id"] + "\t" + table["country_iso3"])
                         .encode()).hexdigest()[:16]
    return Dataset(X, y, table["specimen_id"].to_numpy(), classes,
                   [str(names[c]) for c in classes], table, matrix.grid_cm1,
                   fingerprint(matrix.fingerprint, ids))



#: Called after each finished epoch of a fold with (fold, epoch): progress from a side process.
OnEpoch = Callable[[int, int], None]


def run_train(workdir: WorkDir, settings: Settings | None = None, split: str = Split.SPECTRUM,
              progress: bool = True, on_epoch: OnEpoch | None = None) -> EvaluationResult:
    """The paper's 80/20 hold-out: writes models/holdout_<split>/ and metrics/train_<split>.*"""
    settings = _with_split(settings, split)
    ds = _load_dataset_ranked(workdir, settings)
    return _run(workdir, settings, ds, Evaluation.HOLDOUT, _folds_of(ds, settings,
                Evaluation.HOLDOUT), [0], progress, on_epoch)


def run_cv(workdir: WorkDir, settings: Settings | None = None, split: str = Split.SPECTRUM,
           progress: bool = True, folds: Sequence[int] | None = None,
           on_epoch: OnEpoch | None = None) -> EvaluationResult:
    """Stratified k-fold CV (``settings.train.n_folds``); ``folds`` runs a subset (0-based).

    One process: folds that ``network.jobs`` trained side by side beforehand are only scored.
    Writes metrics/cv_<split>.json and metrics/cv_<split>_per_country.csv over the folds run
    so far (those of this call and finished ones of earlier calls with the same settings).
    """
    settings = _with_split(settings, split)
    wanted = _wanted_folds(settings, folds)
    ds = _load_dataset_ranked(workdir, settings)
    return _run(workdir, settings, ds, Evaluation.CV, _folds_of(ds, settings, Evaluation.CV),
                wanted, progress, on_epoch)


def unfinished_folds(workdir: WorkDir, settings: Settings, evaluation: Evaluation, split: str,
                     folds: Sequence[int] | None = None) -> list[int]:
    """The folds of ``evaluation``/``split`` (of ``folds``, 0-based; all by default) with no
    finished result for these data and settings: what a run would still have to train."""
    settings = _with_split(settings, split)
    ds = load_dataset(workdir, settings)
    wanted = [0] if evaluation is Evaluation.HOLDOUT else _wanted_folds(settings, folds)
    key = _result_key(ds, settings, evaluation)
    return [k for k in wanted if _load_result(workdir.model_dir(evaluation, split, k)
                                              / FOLD_RESULT, key) is None]


def _folds_of(ds: Dataset, settings: Settings, evaluation: Evaluation
              ) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) rows of every fold of ``evaluation``: one 80/20 split, or the CV folds."""
    ts = settings.train
    if evaluation is Evaluation.HOLDOUT:
        return [holdout_split(ds.y, ds.groups_of(ts.split), ts.split, ts.test_size, ts.seed)]
    return cv_splits(ds.y, ds.groups_of(ts.split), ts.split, ts.n_folds, ts.seed)


def _wanted_folds(settings: Settings, folds: Sequence[int] | None) -> list[int]:
    n = settings.train.n_folds
    wanted = list(range(n)) if folds is None else sorted(set(folds))
    bad = [k for k in wanted if not 0 <= k < n]
    if bad:
        raise ValueError(f"folds {bad} out of range 0-{n - 1}")
    return wanted


def _result_key(ds: Dataset, settings: Settings, evaluation: Evaluation) -> str:
    """What a finished fold's result must match to be kept (not where or how fast it ran)."""
    return result_fingerprint(ds.key, settings.spectra, settings.network, settings.train,
                              evaluation.file_stem)


def _load_dataset_ranked(workdir: WorkDir, settings: Settings) -> Dataset:
    """``load_dataset``; under torchrun rank 0 builds the matrix cache before the others read it."""
    distributed.setup_device(settings.train.device, settings.train.threads)
    if distributed.is_main():
        ds = load_dataset(workdir, settings)
        distributed.barrier()
        return ds
    distributed.barrier()
    return load_dataset(workdir, settings)


def _with_split(settings: Settings | None, split: str) -> Settings:
    settings = settings or Settings()
    return replace(settings, train=replace(settings.train, split=split))


def _run(workdir: WorkDir, settings: Settings, ds: Dataset, evaluation: Evaluation,
         splits: list[tuple[np.ndarray, np.ndarray]], wanted: list[int],
         progress: bool, on_epoch: OnEpoch | None = None) -> EvaluationResult:
    t_start = time.perf_counter()
    split = settings.train.split
    device_name, threads = distributed.setup_device(settings.train.device,
                                                    settings.train.threads)
    device = select_device(device_name)
    set_threads(threads, device)
    key = _result_key(ds, settings, evaluation)

    def model_dir(k: int) -> Path:
        return workdir.model_dir(evaluation, split, k)

    results: dict[int, FoldResult] = {}
    # Finished folds of earlier calls (same key) count too, so --folds runs add up.
    for k in range(len(splits)):
        done = _load_result(model_dir(k) / FOLD_RESULT, key) if k not in wanted else None
        if done is not None:
            results[k] = done
    if not wanted:
        raise ValueError("no fold to run")
    report = None
    for k in wanted:
        done = _load_result(model_dir(k) / FOLD_RESULT, key)
        if done is None:
            desc = f"{evaluation.file_stem} {split} fold {k + 1}/{len(splits)}"
            done = _run_fold(ds, settings, k, splits[k], model_dir(k), key, desc, progress,
                             device, on_epoch)
        if done is None:  # a rank other than 0 under torchrun: rank 0 scores and writes
            continue
        results[k] = done
        # Metrics over the folds finished so far, so a long run can be read while it goes on.
        report = _write_metrics(workdir, ds, settings, evaluation, results, t_start)
    return report  # type: ignore[return-value]  # set: ``wanted`` is not empty


def _write_metrics(workdir: WorkDir, ds: Dataset, settings: Settings, evaluation: Evaluation,
                   results: dict[int, FoldResult], t_start: float) -> EvaluationResult:
    folds = [results[k] for k in sorted(results)]
    report = _report(ds, settings, evaluation, folds, t_start)
    split = settings.train.split
    write_json_atomic(workdir.metrics_file(evaluation, split), report.to_json())
    write_csv_atomic(workdir.per_country_file(evaluation, split), _per_country(ds, folds))
    write_csv_atomic(workdir.curves_file(evaluation, split),
                     curves_table((f.fold, f.history) for f in folds))
    return report


def _run_fold(ds: Dataset, settings: Settings, k: int, fold: tuple[np.ndarray, np.ndarray],
              folder: Path, key: str, desc: str, progress: bool, device: Any,
              on_epoch: OnEpoch | None = None) -> FoldResult | None:
    """Train, score and save fold ``k``; None on ranks other than 0 (they only train)."""
    tr, te = fold
    n_classes = len(ds.classes)
    ckpt = folder / CHECKPOINT
    fit_idx, val_idx = _inner_validation(ds, settings, tr)
    model, history = fit_network(ds.X[fit_idx], ds.y[fit_idx], n_classes, settings,
                                 X_val=ds.X[te], y_val=ds.y[te], checkpoint=ckpt, key=key,
                                 progress=progress, desc=desc, device=device,
                                 monitor={"val": (ds.X[val_idx], ds.y[val_idx])},
                                 grid_step_cm1=_grid_step(ds),
                                 on_epoch=None if on_epoch is None else
                                 lambda epoch: on_epoch(k, epoch))
    if not distributed.is_main():
        return None
    scores = predict_proba(model, ds.X[te], device)
    t1 = time.perf_counter()
    base = nn1_cosine_scores(ds.X[tr], ds.y[tr], ds.X[te], n_classes, progress=progress)
    t_base = time.perf_counter() - t1
    y_te = ds.y[te]
    result = FoldResult(
        key=key, fold=k, n_train=int(len(tr)), n_test=int(len(te)),
        network=fold_metrics(y_te, scores), baseline_1nn=fold_metrics(y_te, base),
        per_class_network=per_class_metrics(y_te, scores, n_classes),
        per_class_baseline_1nn=per_class_metrics(y_te, base, n_classes),
        test_counts=_class_counts(y_te, n_classes),
        predicted_counts={"network": _class_counts(scores.argmax(axis=1), n_classes),
                          "baseline_1nn": _class_counts(base.argmax(axis=1), n_classes)},
        history=history, n_inner_val=int(len(val_idx)), world_size=distributed.world()[1],
        epoch_s_mean=float(np.mean([h["epoch_s"] for h in history])) if history else 0.0,
        network_s=sum(h["epoch_s"] for h in history), baseline_s=t_base,
    )
    save_model(folder, model, ds.classes, ds.class_names, ds.grid_cm1, settings,
               extra={"fold": k, "n_train": int(len(tr)), "test_metrics": result.network,
                      "world_size": distributed.world()[1],
                      "train_precision": resolve_train_precision(settings.train.precision,
                                                                 device).value})
    _save_predictions(folder, te, {"network": scores, "baseline_1nn": base})
    write_json_atomic(folder / FOLD_RESULT, result.to_json())
    ckpt.unlink(missing_ok=True)
    log.info("%s: network acc %.3f, 1-NN acc %.3f", desc, result.network["accuracy"],
             result.baseline_1nn["accuracy"])
    return result


def _save_predictions(folder: Path, test_rows: np.ndarray, scores: dict[str, np.ndarray]
                      ) -> None:
    """Each test spectrum's row and predicted class per model, written before the fold's
    result (which marks it finished): what breaks a CV's accuracy down spectrum by spectrum."""
    tmp = folder / f".{FOLD_PREDICTIONS}.tmp"
    with tmp.open("wb") as fh:
        np.savez(fh, test_rows=np.asarray(test_rows, dtype=np.int64),
                 **{m: s.argmax(axis=1).astype(np.int32) for m, s in scores.items()})
    tmp.replace(folder / FOLD_PREDICTIONS)


def fold_predictions(workdir: WorkDir, settings: Settings, split: str,
                     folds: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray] | None:
    """The predicted class of every test spectrum of a finished CV (``folds`` order, test rows
    concatenated) per model, or None unless every fold finished with these data and settings
    and kept its predictions (folds finished by older versions did not)."""
    settings = _with_split(settings, split)
    ds = load_dataset(workdir, settings)
    key = _result_key(ds, settings, Evaluation.CV)
    parts: dict[str, list[np.ndarray]] = {}
    for k, (_, te) in enumerate(folds):
        folder = workdir.model_dir(Evaluation.CV, split, k)
        saved = _read_predictions(folder / FOLD_PREDICTIONS)
        if (_load_result(folder / FOLD_RESULT, key) is None or saved is None
                or not np.array_equal(saved.pop("test_rows"), te)):
            return None
        for model, predicted in saved.items():
            parts.setdefault(model, []).append(predicted)
    return {model: np.concatenate(p) for model, p in parts.items()}


def _read_predictions(path: Path) -> dict[str, np.ndarray] | None:
    """A fold's saved predictions (plain arrays, never pickles), None when absent or damaged."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            return {name: saved[name] for name in saved.files}
    except (OSError, ValueError, KeyError):
        return None


def _class_counts(labels: np.ndarray, n_classes: int) -> list[int]:
    """Spectra per class index, all classes listed (zeros included)."""
    return np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes).tolist()


def _inner_validation(ds: Dataset, settings: Settings, tr: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Training part split into (fit, inner validation) rows, grouped like the evaluated split.

    Without ``inner_val_fraction`` the whole training part is fitted and validation is empty.
    """
    ts = settings.train
    if ts.inner_val_fraction <= 0:
        return tr, tr[:0]
    fit, val = inner_split(ds.y[tr], ds.groups[tr], ts.split, ts.inner_val_fraction, ts.seed)
    return tr[fit], tr[val]


def _grid_step(ds: Dataset) -> float | None:
    """Spacing of the wavenumber grid in cm-1 (for augmentation shifts given in cm-1)."""
    return float(ds.grid_cm1[1] - ds.grid_cm1[0]) if len(ds.grid_cm1) > 1 else None


def _load_result(path: Path, key: str) -> FoldResult | None:
    """A finished fold's result.json when it was made with ``key``, else None."""
    doc = read_json(path)
    if not isinstance(doc, dict) or doc.get("key") != key:
        return None
    try:
        return FoldResult.from_json(doc)
    except (KeyError, TypeError):
        return None


def _report(ds: Dataset, settings: Settings, evaluation: Evaluation, folds: list[FoldResult],
            t_start: float) -> EvaluationResult:
    return EvaluationResult(
        evaluation=evaluation, split=settings.train.split, folds=folds,
        summary={"network": summarise([f.network for f in folds]),
                 "baseline_1nn": summarise([f.baseline_1nn for f in folds])},
        n_samples=int(len(ds.y)), n_specimens=int(len(np.unique(ds.groups))),
        n_classes=len(ds.classes), classes=ds.classes, class_names=ds.class_names,
        settings={"spectra": to_dict(settings.spectra), "model": to_dict(settings.network),
                  "train": to_dict(settings.train)},
        grid_cm1={"start": float(ds.grid_cm1[0]), "stop": float(ds.grid_cm1[-1]),
                  "points": int(len(ds.grid_cm1))},
        elapsed_s=float(sum(f.network_s + f.baseline_s for f in folds)),
        wall_s_this_call=time.perf_counter() - t_start, world_size=distributed.world()[1],
    )


def _per_country(ds: Dataset, folds: list[FoldResult]) -> pd.DataFrame:
    """Per-country scores of the network and (for figures 7-8) of the 1-NN baseline; empty
    (NaN) where no fold had a test spectrum of the country."""
    stats = per_class_summary([f.per_class_network for f in folds])
    base = per_class_summary([f.per_class_baseline_1nn for f in folds])
    counts = ds.table["country_iso3"].value_counts()
    df = pd.DataFrame({
        "country_iso3": ds.classes,
        "country_name": ds.class_names,
        "n_samples": [int(counts[c]) for c in ds.classes],
        "f1_mean": stats["f1"][0], "f1_std": stats["f1"][1],
        "precision_mean": stats["precision"][0], "precision_std": stats["precision"][1],
        "recall_mean": stats["recall"][0], "recall_std": stats["recall"][1],
        "f1_baseline_1nn_mean": base["f1"][0], "f1_baseline_1nn_std": base["f1"][1],
        "precision_baseline_1nn_mean": base["precision"][0],
        "precision_baseline_1nn_std": base["precision"][1],
    })
    return df[PER_COUNTRY_COLUMNS].sort_values(["n_samples", "country_iso3"],
                                               ascending=[False, True], ignore_index=True)
