"""The continent answer scored under a CV protocol, for the report.

Torch-free. The winner's out-of-fold country probabilities are summed per continent; each
outer fold's continent model (calibration chosen on inner splits, 90% conformal sets) is
fitted on the other folds' out-of-fold rows (``continents.cross_fit``), so no row is scored
by a model that saw it. The baseline is the continent prior of each training fold (the class
prior's country shares summed per continent): its top class is the majority continent, its
top three the three largest, and the intervals of the differences resample specimens, as for
the countries (``metrics.compare_to_baseline``).
"""

from __future__ import annotations

import logging

import numpy as np

from rruffgeo.provenance.calibration import top_label_ece
from rruffgeo.provenance.continents import continent_of, cross_fit, membership
from rruffgeo.provenance.metrics import compare_to_baseline
from rruffgeo.results import ContinentTable, VsMajority

log = logging.getLogger(__name__)
COVERAGE = 0.9


def fold_of_rows(splits: list[tuple[np.ndarray, np.ndarray]], n: int) -> np.ndarray:
    """Each row's outer fold (the split whose test rows hold it)."""
    folds = np.full(n, -1, np.int64)
    for k, (_, te) in enumerate(splits):
        folds[te] = k
    return folds


def continent_table(model: str, proba: np.ndarray, prior: np.ndarray, y: np.ndarray,
                    groups: np.ndarray, folds: np.ndarray, classes: list[str]
                    ) -> ContinentTable | None:
    """The continent answer of ``model``'s out-of-fold country probabilities ``proba``
    (``prior``: the class prior's, same folds); None when the countries span one continent."""
    names, M = membership(continent_of(classes))
    if len(names) < 2:
        return None
    r = cross_fit(proba, y, groups, folds, classes, coverage=COVERAGE)
    yc, p, sets = r["y"], r["proba"], r["sets"]
    vs = compare_to_baseline(p, np.asarray(prior) @ M, yc, groups)
    counts = np.bincount(yc, minlength=len(names))
    return ContinentTable(
        model=model, continents=[str(n) for n in names], vs_majority=VsMajority.from_json(vs),
        ece=top_label_ece(p, yc), ece_summed=top_label_ece(r["summed"], yc),
        coverage90=float(sets[np.arange(len(yc)), yc].mean()),
        size90=float(sets.sum(axis=1).mean()),
        recalibrated_folds=int(np.sum(r["recalibrated"])), n_folds=len(r["recalibrated"]),
        shares={str(n): float(c / counts.sum()) for n, c in zip(names, counts, strict=True)})
