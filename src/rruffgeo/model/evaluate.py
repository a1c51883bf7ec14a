"""``run_train`` (80/20 hold-out) and ``run_cv`` (stratified k-fold) with the 1-NN baseline.

Both read the spectrum matrix and the learning table from the work folder, split by spectrum
(the paper's protocol) or grouped by specimen, train the network on each training part, score
it and the 1-nearest-neighbour cosine baseline on the same test part, and write
``metrics/{train,cv}_<split>.json`` plus ``*_per_country.csv`` (format in the common brief).

Resuming: each fold keeps a checkpoint after every epoch under
``models/{cv,holdout}_<split>/fold_<k>/`` and, once finished, its model and ``result.json``; a
re-run with the same data and settings skips finished folds and resumes the open one at its
last epoch.
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

from rruffgeo.config import Settings, fingerprint, replace, to_dict
from rruffgeo.model.baseline import nn1_cosine_scores
from rruffgeo.model.metrics import (
    fold_metrics,
    per_class_metrics,
    per_class_summary,
    summarise,
)
from rruffgeo.model.modelio import save_model
from rruffgeo.model.splits import cv_splits, holdout_split
from rruffgeo.model.table import keep_frequent_countries, learning_table
from rruffgeo.model.train import fit_network, predict_proba, select_device
from rruffgeo.spectra.matrix import MatrixRows, build_matrix
from rruffgeo.workdir import (
    METRICS_DIR,
    MODELS_DIR,
    WorkDir,
    read_json,
    write_csv_atomic,
    write_json_atomic,
)

log = logging.getLogger(__name__)

PER_COUNTRY_COLUMNS = ["country_iso3", "country_name", "n_samples", "f1_mean", "f1_std",
                       "precision_mean", "precision_std", "recall_mean", "recall_std"]


@dataclass
class Dataset:
    """Spectra, labels and groups of the learning table, aligned row by row."""

    X: MatrixRows
    y: np.ndarray
    groups: np.ndarray
    classes: list[str]
    class_names: list[str]
    table: pd.DataFrame
    grid_cm1: np.ndarray
    key: str


def load_dataset(workdir: WorkDir, settings: Settings) -> Dataset:
    """Learning table restricted to resampled spectra, with a lazy view of its matrix rows."""
    matrix = build_matrix(workdir, settings)
    table = learning_table(workdir, settings)
    table = table[table["spectrum_id"].isin(matrix.index["spectrum_id"])]
    table = keep_frequent_countries(table, settings.train.min_samples_per_country)
    if table.empty:
        raise ValueError(f"{workdir.root}: no natural, geolocated spectra to learn from")
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


def run_train(workdir: WorkDir, settings: Settings | None = None, split: str = "spectrum",
              progress: bool = True) -> dict[str, Any]:
    """The paper's 80/20 hold-out: writes models/holdout_<split>/ and metrics/train_<split>.*"""
    settings = _with_split(settings, split)
    ds = load_dataset(workdir, settings)
    ts = settings.train
    tr, te = holdout_split(ds.y, ds.groups, split, ts.test_size, ts.seed)
    return _run(workdir, settings, ds, "train", [(tr, te)], [0], progress,
                model_dir=lambda k: workdir.dir(MODELS_DIR, f"holdout_{split}"))


def run_cv(workdir: WorkDir, settings: Settings | None = None, split: str = "spectrum",
           progress: bool = True, folds: Sequence[int] | None = None) -> dict[str, Any]:
    """Stratified k-fold CV (``settings.train.n_folds``); ``folds`` runs a subset (0-based).

    Writes metrics/cv_<split>.json and metrics/cv_<split>_per_country.csv over the folds run
    so far (those of this call and finished ones of earlier calls with the same settings).
    """
    settings = _with_split(settings, split)
    ds = load_dataset(workdir, settings)
    ts = settings.train
    splits = cv_splits(ds.y, ds.groups, split, ts.n_folds, ts.seed)
    wanted = list(range(ts.n_folds)) if folds is None else sorted(set(folds))
    bad = [k for k in wanted if not 0 <= k < ts.n_folds]
    if bad:
        raise ValueError(f"folds {bad} out of range 0-{ts.n_folds - 1}")
    return _run(workdir, settings, ds, "cv", splits, wanted, progress,
                model_dir=lambda k: workdir.dir(MODELS_DIR, f"cv_{split}", f"fold_{k}"))


def _with_split(settings: Settings | None, split: str) -> Settings:
    settings = settings or Settings()
    return replace(settings, train=replace(settings.train, split=split))


def _run(workdir: WorkDir, settings: Settings, ds: Dataset, protocol: str,
         splits: list[tuple[np.ndarray, np.ndarray]], wanted: list[int], progress: bool,
         model_dir: Callable[[int], Path]) -> dict[str, Any]:
    t_start = time.perf_counter()
    split = settings.train.split
    device = select_device(settings.train.device, settings.train.threads)
    # Where and how fast it runs does not change the result: not part of the key.
    train_cfg = {k: v for k, v in to_dict(settings.train).items()
                 if k not in ("device", "threads")}
    key = fingerprint(ds.key, settings.spectra, settings.model, train_cfg, protocol)
    results: dict[int, dict[str, Any]] = {}
    # Finished folds of earlier calls (same key) count too, so --folds runs add up.
    for k in range(len(splits)):
        done = _load_result(model_dir(k) / "result.json", key) if k not in wanted else None
        if done is not None:
            results[k] = done
    report: dict[str, Any] = {}
    for k in wanted:
        folder = model_dir(k)
        done = _load_result(folder / "result.json", key)
        if done is None:
            tr, te = splits[k]
            desc = f"{protocol} {split} fold {k + 1}/{len(splits)}"
            done = _run_fold(ds, settings, k, tr, te, folder, key, desc, progress, device)
        results[k] = done
        # Metrics over the folds finished so far, so a long run can be read while it goes on.
        report = _write_metrics(workdir, ds, settings, protocol, results, t_start)
    return report


def _write_metrics(workdir: WorkDir, ds: Dataset, settings: Settings, protocol: str,
                   results: dict[int, dict[str, Any]], t_start: float) -> dict[str, Any]:
    folds = [results[k] for k in sorted(results)]
    report = _report(ds, settings, protocol, folds, t_start)
    stem = f"{protocol}_{settings.train.split}"
    write_json_atomic(workdir.path(METRICS_DIR, f"{stem}.json"), report)
    write_csv_atomic(workdir.path(METRICS_DIR, f"{stem}_per_country.csv"),
                     _per_country(ds, folds))
    return report


def _run_fold(ds: Dataset, settings: Settings, k: int, tr: np.ndarray, te: np.ndarray,
              folder: Path, key: str, desc: str, progress: bool, device: Any) -> dict[str, Any]:
    n_classes = len(ds.classes)
    ckpt = folder / "checkpoint.pt"
    model, history = fit_network(ds.X[tr], ds.y[tr], n_classes, settings,
                                 X_val=ds.X[te], y_val=ds.y[te], checkpoint=ckpt, key=key,
                                 progress=progress, desc=desc, device=device)
    scores = predict_proba(model, ds.X[te], device)
    t1 = time.perf_counter()
    base = nn1_cosine_scores(ds.X[tr], ds.y[tr], ds.X[te], n_classes, progress=progress)
    t_base = time.perf_counter() - t1
    y_te = ds.y[te]
    result = {
        "key": key, "fold": k, "n_train": int(len(tr)), "n_test": int(len(te)),
        "network": fold_metrics(y_te, scores), "baseline_1nn": fold_metrics(y_te, base),
        "per_class_network": per_class_metrics(y_te, scores, n_classes),
        "per_class_baseline_1nn": per_class_metrics(y_te, base, n_classes),
        "history": history,
        "epoch_s_mean": float(np.mean([h["epoch_s"] for h in history])) if history else 0.0,
        "network_s": sum(h["epoch_s"] for h in history), "baseline_s": t_base,
    }
    save_model(folder, model, ds.classes, ds.class_names, ds.grid_cm1, settings,
               extra={"fold": k, "n_train": int(len(tr)), "test_metrics": result["network"]})
    write_json_atomic(folder / "result.json", result)
    ckpt.unlink(missing_ok=True)
    log.info("%s: network acc %.3f, 1-NN acc %.3f", desc, result["network"]["accuracy"],
             result["baseline_1nn"]["accuracy"])
    return result


def _load_result(path: Path, key: str) -> dict[str, Any] | None:
    """A finished fold's result.json when it was made with ``key``, else None."""
    result = read_json(path)
    return result if isinstance(result, dict) and result.get("key") == key else None


def _report(ds: Dataset, settings: Settings, protocol: str, folds: list[dict[str, Any]],
            t_start: float) -> dict[str, Any]:
    fold_rows = [{"fold": f["fold"], "n_train": f["n_train"], "n_test": f["n_test"],
                  "network": f["network"], "baseline_1nn": f["baseline_1nn"],
                  "epoch_s_mean": f["epoch_s_mean"]} for f in folds]
    return {
        "protocol": protocol,
        "split": settings.train.split,
        "n_samples": int(len(ds.y)),
        "n_specimens": int(len(np.unique(ds.groups))),
        "n_classes": len(ds.classes),
        "classes": ds.classes,
        "class_names": ds.class_names,
        "folds": fold_rows,
        "summary": {"network": summarise([f["network"] for f in folds]),
                    "baseline_1nn": summarise([f["baseline_1nn"] for f in folds])},
        "settings": {"spectra": to_dict(settings.spectra), "model": to_dict(settings.model),
                     "train": to_dict(settings.train)},
        "grid_cm1": {"start": float(ds.grid_cm1[0]), "stop": float(ds.grid_cm1[-1]),
                     "points": int(len(ds.grid_cm1))},
        "folds_run": [f["fold"] for f in folds],
        "elapsed_s": float(sum(f["network_s"] + f["baseline_s"] for f in folds)),
        "wall_s_this_call": time.perf_counter() - t_start,
    }


def _per_country(ds: Dataset, folds: list[dict[str, Any]]) -> pd.DataFrame:
    stats = per_class_summary([f["per_class_network"] for f in folds])
    counts = ds.table["country_iso3"].value_counts()
    df = pd.DataFrame({
        "country_iso3": ds.classes,
        "country_name": ds.class_names,
        "n_samples": [int(counts[c]) for c in ds.classes],
        "f1_mean": stats["f1"][0], "f1_std": stats["f1"][1],
        "precision_mean": stats["precision"][0], "precision_std": stats["precision"][1],
        "recall_mean": stats["recall"][0], "recall_std": stats["recall"][1],
    })
    return df[PER_COUNTRY_COLUMNS].sort_values(["n_samples", "country_iso3"],
                                               ascending=[False, True], ignore_index=True)
