"""``run_provenance_cv``: the provenance models' cross-validation, scored and written to metrics/.

Torch-free. Scores the out-of-fold probabilities of :mod:`rruffgeo.provenance.cv` per
spectrum: top-1, top-3, macro-F1 and log-loss beside the class prior (the majority class) with
paired bootstrap intervals over specimens, top-label ECE (15 bins) before and after calibration
(temperature, then top-label isotonic), conformal coverage and set size at each
``ProvenanceSettings.levels``, and the winner's goals. Writes the
``rruffgeo.results.ProvenanceReport`` to
``metrics/provenance_cv_<split>.json`` (everything, ``WorkDir.provenance_cv_file``) and beside it
(``WorkDir.provenance_cv_part``) ``..._models.csv`` (one row per model), ``..._oof.parquet`` (per
spectrum and model: fold, true and predicted country, probabilities, the 90% set),
``..._oof_proba.npz`` (every model's calibrated probabilities) and ``..._confusion.csv`` (the
winner, most common countries).

``evaluate_provenance`` is what ``provenance-cv``, ``cv`` and ``run`` call: it adds the network's
out-of-fold probabilities when ``rruffgeo cv`` left fold models for the split
(:func:`rruffgeo.provenance.network_oof.network_oof` decides, and says why not otherwise).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rruffgeo.config import Settings, Split
from rruffgeo.provenance.calibration import log_loss_per_sample, reliability_table, top_label_ece
from rruffgeo.provenance.conformal import conformal_set, coverage_and_size
from rruffgeo.provenance.continents_eval import continent_table, fold_of_rows
from rruffgeo.provenance.cv import (
    FAMILIES,
    cv_key,
    load_fold,
    network_inner,
    run_fold,
    save_fold,
)
from rruffgeo.provenance.data import ProvenanceData, load_provenance_data
from rruffgeo.provenance.metrics import (
    compare_to_baseline,
    most_predicted,
    one_class_note,
    top_share,
)
from rruffgeo.provenance.pooling_eval import pooling_table
from rruffgeo.results import (
    ContinentTable,
    Coverage,
    Goal,
    ModelScores,
    MostPredicted,
    ProvenanceReport,
    Reliability,
    VsMajority,
    Winner,
    lowest_log_loss,
)
from rruffgeo.splits import cv_splits
from rruffgeo.workdir import (
    WorkDir,
    atomic_path,
    write_csv_atomic,
    write_parquet_atomic,
)

log = logging.getLogger(__name__)

#: Models whose species evidence is the mineral name from the file (``--mineral auto``).
MINERAL_MODELS = ("species_freq+mineral", "combination+mineral")
N_CONFUSION = 10


def evidence_of(name: str) -> str:
    return "spectrum+mineral" if name in MINERAL_MODELS else "spectrum"


@dataclass
class ProvenanceEvaluation:
    """One split's provenance CV report, and whether (or why not) the network took part."""

    report: ProvenanceReport
    network_note: str

    @property
    def winner(self) -> str:
        return self.report.winner()

    def line(self) -> str:
        """One line: the winner by log-loss beside the class prior, and the network's part."""
        ll = self.report.scores().vs_majority.log_loss
        return (f"{self.report.split}: {self.winner} wins (log-loss {ll.value:.3f}, "
                f"prior {ll.baseline:.3f}); {self.network_note}")


def evaluate_provenance(workdir: WorkDir, settings: Settings | None = None,
                        split: str = "specimen", network: bool = True,
                        progress: bool = True) -> ProvenanceEvaluation:
    """The provenance CV of ``split``, with the network's out-of-fold probabilities when the
    fold models of ``rruffgeo cv --split split`` fit the data (else without, saying why)."""
    from rruffgeo.provenance.network_oof import network_oof

    settings = settings or Settings()
    data = load_provenance_data(workdir, settings)
    oof, note = None, "network left out (not asked for)"
    ps, ts = settings.provenance, settings.train
    if network and (ps.n_folds, ps.seed) != (ts.n_folds, ts.seed):
        note = (f"network left out: its folds ({ts.n_folds} with seed {ts.seed}) are not the "
                f"provenance CV's ({ps.n_folds} with seed {ps.seed})")
    elif network:
        splits = cv_splits(data.y, data.split_groups(split), split, ps.n_folds, ps.seed)
        oof, reason = network_oof(workdir, data, splits, split, ts.device)
        note = reason if oof is not None else f"network left out: {reason}"
    report = run_provenance_cv(workdir, settings, split, oof, progress, data=data,
                               network_note=note)
    return ProvenanceEvaluation(report, note)


def run_provenance_cv(workdir: WorkDir, settings: Settings | None = None,
                      split: str = "specimen", network_oof: dict[int, np.ndarray] | None = None,
                      progress: bool = True, data: ProvenanceData | None = None,
                      network_note: str = "") -> ProvenanceReport:
    """Cross-validate the provenance models (see module doc); returns the metrics report.

    ``data`` is the provenance data when the caller has loaded it already; ``network_note``
    (whether and why the network took part) is kept in the report for the HTML page."""
    settings = settings or Settings()
    t0 = time.perf_counter()
    data = data if data is not None else load_provenance_data(workdir, settings)
    ps = settings.provenance
    splits = cv_splits(data.y, data.split_groups(split), split, ps.n_folds, ps.seed)
    key = cv_key(data, settings, split, network_oof is not None)
    folder = workdir.provenance_cv_cache(split)
    folder.mkdir(parents=True, exist_ok=True)
    folds = []  # one outer fold at a time: its inner splits run side by side (cv._inner_oof)
    for k, (tr, te) in enumerate(splits):
        result = load_fold(folder, k, key)
        if result is None:
            t1 = time.perf_counter()
            result = run_fold(data, tr, te, ps, network_inner(network_oof, splits, k))
            save_fold(folder, k, key, result)
            if progress:
                print(f"provenance cv {split}: fold {k + 1}/{len(splits)} done in "
                      f"{time.perf_counter() - t1:.0f} s", flush=True)
        folds.append(result)
    report = score(data, splits, folds, split, ps.levels)
    report.pooling = pooling_table(data.y, data.groups, splits, folds, report.winner("spectrum"))
    report.continents = continents_of(data, splits, folds, report.winner("spectrum"))
    report.network_note = network_note or ("network: out-of-fold probabilities given"
                                           if network_oof is not None else
                                           "network left out (no fold models given)")
    report.wall_s = time.perf_counter() - t0
    write_outputs(workdir, data, splits, folds, report)
    return report


def continents_of(data: ProvenanceData, splits: list[tuple[np.ndarray, np.ndarray]],
                  folds: list[dict[str, Any]], model: str) -> ContinentTable | None:
    """The continent answer of ``model`` on these folds (None, with a warning, where the
    folds are too small for one)."""
    proba = _assemble(splits, folds, model, "calibrated")
    prior = _assemble(splits, folds, "prior", "raw")
    try:
        return continent_table(model, proba, prior, data.y, data.groups,
                               fold_of_rows(splits, len(data.y)), data.classes)
    except ValueError as exc:
        log.warning("no continent table: %s", exc)
        return None


def _assemble(splits: list[tuple[np.ndarray, np.ndarray]], folds: list[dict[str, Any]],
              name: str, kind: str) -> np.ndarray:
    n = sum(len(te) for _, te in splits)
    out = np.zeros((n, folds[0][name][kind].shape[1]), np.float64)
    for (_, te), f in zip(splits, folds, strict=True):
        out[te] = f[name][kind]
    return out


def _sets(splits: list[tuple[np.ndarray, np.ndarray]], folds: list[dict[str, Any]], name: str,
          proba: np.ndarray, level: float) -> np.ndarray:
    """Each spectrum's conformal set at ``level``, with its own fold's threshold."""
    mask = np.zeros(proba.shape, bool)
    for (_, te), f in zip(splits, folds, strict=True):
        mask[te] = conformal_set(proba[te], f[name]["params"]["set_thresholds"][str(level)])
    return mask


def score_model(data: ProvenanceData, splits: list[tuple[np.ndarray, np.ndarray]],
                folds: list[dict[str, Any]], name: str, prior: np.ndarray,
                levels: tuple[float, ...]) -> ModelScores:
    """Every metric of one model's out-of-fold probabilities."""
    raw = _assemble(splits, folds, name, "raw")
    cal = _assemble(splits, folds, name, "calibrated")
    conformal = {}
    for lv in levels:
        cov, size = coverage_and_size(_sets(splits, folds, name, cal, lv), data.y)
        conformal[str(lv)] = Coverage(cov, size)
    top = most_predicted(cal, data.classes)
    return ModelScores(
        evidence=evidence_of(name),
        vs_majority=VsMajority.from_json(compare_to_baseline(cal, prior, data.y, data.groups)),
        log_loss_uncalibrated=float(log_loss_per_sample(raw, data.y).mean()),
        ece_uncalibrated=top_label_ece(raw, data.y), ece=top_label_ece(cal, data.y),
        reliability=Reliability.from_json(reliability_table(cal, data.y)),
        reliability_uncalibrated=Reliability.from_json(reliability_table(raw, data.y)),
        conformal=conformal, most_predicted=MostPredicted(str(top["class"]), float(top["share"])),
        one_class=one_class_note(cal, data.classes),
        params_per_fold=[f[name]["params"] for f in folds])


def goals(result: ModelScores, y: np.ndarray) -> dict[str, Goal]:
    """The goals a provenance model is held to: each measured, with whether it is met."""
    vm = result.vs_majority
    top3_goal = top_share(y, 3) + 0.05
    cov90 = result.conformal["0.9"].coverage
    return {
        "log_loss_below_prior": Goal([vm.log_loss.diff_lo, vm.log_loss.diff_hi],
                                     vm.log_loss.diff_hi < 0),
        "top1_not_below_majority": Goal(vm.top1.diff, vm.top1.diff >= 0),
        "top3_at_least": Goal(vm.top3.value, vm.top3.value >= top3_goal, top3_goal),
        "ece_at_most_0.03": Goal(result.ece, result.ece <= 0.03),
        "coverage90_in_0.88_0.92": Goal(cov90, 0.88 <= cov90 <= 0.92),
    }


def score(data: ProvenanceData, splits: list[tuple[np.ndarray, np.ndarray]],
          folds: list[dict[str, Any]], split: str, levels: tuple[float, ...]
          ) -> ProvenanceReport:
    """Metrics of every model, the winner by log-loss per evidence, and the goals."""
    prior = _assemble(splits, folds, "prior", "raw")
    models = {name: score_model(data, splits, folds, name, prior, levels)
              for name in folds[0]}
    winners = {}
    for evidence in ("spectrum", "spectrum+mineral"):
        best = lowest_log_loss(models, evidence)
        winners[evidence] = Winner(best, goals(models[best], data.y))
    return ProvenanceReport(
        split=Split(split), n_folds=len(splits), n_spectra=int(len(data.y)),
        n_specimens=int(len(np.unique(data.groups))), n_classes=len(data.classes),
        classes=list(data.classes), class_names=list(data.class_names),
        top3_share=top_share(data.y, 3), families=list(FAMILIES), models=models,
        winners=winners,
        calibration="temperature scaling, then top-label isotonic recalibration, fitted "
                    "on inner out-of-fold probabilities")


def oof_table(data: ProvenanceData, splits: list[tuple[np.ndarray, np.ndarray]],
              folds: list[dict[str, Any]]) -> pd.DataFrame:
    """Per spectrum and model: fold, true and predicted country, probabilities, 90% set."""
    fold_of = np.zeros(len(data.y), np.int64)
    for k, (_, te) in enumerate(splits):
        fold_of[te] = k + 1
    classes = np.asarray(data.classes)
    parts = []
    for name in folds[0]:
        cal = _assemble(splits, folds, name, "calibrated")
        sets = _sets(splits, folds, name, cal, 0.9)
        pred = cal.argmax(axis=1)
        parts.append(pd.DataFrame({
            "model": name, "spectrum_id": data.table["spectrum_id"],
            "specimen_id": data.groups, "fold": fold_of, "true_iso3": classes[data.y],
            "predicted_iso3": classes[pred], "p_predicted": cal.max(axis=1),
            "p_true": cal[np.arange(len(pred)), data.y],
            "set90_size": sets.sum(axis=1), "set90_covered": sets[np.arange(len(pred)), data.y],
        }))
    return pd.concat(parts, ignore_index=True)


def confusion_table(oof: pd.DataFrame, model: str, n: int = N_CONFUSION) -> pd.DataFrame:
    """Counts of true (rows) by predicted (columns) country; the rest pooled as "other"."""
    df = oof[oof["model"] == model]
    common = df["true_iso3"].value_counts().index[:n].tolist()
    t = df["true_iso3"].where(df["true_iso3"].isin(common), "other")
    p = df["predicted_iso3"].where(df["predicted_iso3"].isin(common), "other")
    order = common + ["other"]
    return pd.crosstab(t, p).reindex(index=order, columns=order, fill_value=0)


def write_outputs(workdir: WorkDir, data: ProvenanceData,
                  splits: list[tuple[np.ndarray, np.ndarray]], folds: list[dict[str, Any]],
                  report: ProvenanceReport) -> None:
    split = report.split
    oof = oof_table(data, splits, folds)
    write_parquet_atomic(workdir.provenance_cv_part(split, "oof"), oof)
    write_csv_atomic(workdir.provenance_cv_part(split, "models"), report.models_table())
    winner = report.winner()
    conf = confusion_table(oof, winner).rename_axis(index="true", columns=None).reset_index()
    write_csv_atomic(workdir.provenance_cv_part(split, "confusion"), conf)
    with atomic_path(workdir.provenance_cv_part(split, "oof_proba")) as tmp, \
            open(tmp, "wb") as fh:
        np.savez_compressed(fh, spectrum_id=data.table["spectrum_id"].to_numpy(str),
                            classes=np.asarray(data.classes),
                            **{n: _assemble(splits, folds, n, "calibrated").astype(np.float32)
                               for n in folds[0]})
    report.write(workdir.provenance_cv_file(split))
