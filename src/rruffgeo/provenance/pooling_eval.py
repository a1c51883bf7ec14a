"""Pooled answers per specimen against per-spectrum answers, scored on the provenance CV's folds.

A user who measures several spectra of one sample gets one pooled answer (``pooling``). This
asks, fold by fold, whether that answer is better than the single answers it pools, and
whether it is still calibrated: for the CV's winning model, each test specimen's pooled answer
(the rule, calibration and conformal threshold its fold chose and fitted on inner folds)
against its spectra's own answers, weighted each specimen once (a specimen's per-spectrum
scores averaged) or each spectrum once. Every score stands beside the majority country's and
the prior's under the same weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rruffgeo.provenance.calibration import log_loss_per_sample, top_label_ece
from rruffgeo.provenance.conformal import conformal_set
from rruffgeo.provenance.pooling import group_codes, pooled_by_group
from rruffgeo.results import PooledRow, PoolingTable

#: The conformal level scored (predict's default ``--coverage``).
LEVEL = "0.9"
Splits = list[tuple[np.ndarray, np.ndarray]]


@dataclass
class Answers:
    """Answers to score: probabilities, sets, labels, each row's weight and the prior."""

    proba: np.ndarray
    sets: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    prior: np.ndarray


def score_answers(answer: str, weights: str, a: Answers) -> PooledRow:
    """Every metric of ``a`` under its weights, with the majority and prior baselines."""
    w = a.weight / a.weight.sum()
    rows = np.arange(len(a.y))

    def in_top3(p: np.ndarray) -> np.ndarray:
        return (np.argsort(-p, axis=1, kind="stable")[:, :3] == a.y[:, None]).any(axis=1)

    return PooledRow(
        answer=answer, weights=weights,
        top1=float(w @ (a.proba.argmax(axis=1) == a.y)),
        majority_top1=float(w @ (a.prior.argmax(axis=1) == a.y)),
        top3=float(w @ in_top3(a.proba)), prior_top3=float(w @ in_top3(a.prior)),
        log_loss=float(w @ log_loss_per_sample(a.proba, a.y)),
        prior_log_loss=float(w @ log_loss_per_sample(a.prior, a.y)),
        ece=top_label_ece(a.proba, a.y, weights=a.weight),
        coverage90=float(w @ a.sets[rows, a.y]), size90=float(w @ a.sets.sum(axis=1)))


def per_spectrum(y: np.ndarray, splits: Splits, folds: list[dict[str, Any]], model: str
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Calibrated answers, their 90% sets and the prior, row for row of the data."""
    n, c = len(y), folds[0][model]["calibrated"].shape[1]
    proba, sets, prior = np.zeros((n, c)), np.zeros((n, c), bool), np.zeros((n, c))
    for (_, te), f in zip(splits, folds, strict=True):
        proba[te] = f[model]["calibrated"]
        sets[te] = conformal_set(proba[te], f[model]["params"]["set_thresholds"][LEVEL])
        prior[te] = f["prior"]["raw"]
    return proba, sets, prior


@dataclass
class FoldPools:
    """One fold's pooled answers per test specimen and what scoring them needs."""

    proba: np.ndarray
    sets: np.ndarray
    y: np.ndarray
    n: np.ndarray
    prior: np.ndarray
    #: each specimen's mean per-spectrum top-1 (the single answers it pools)
    single_top1: np.ndarray


def pooled_fold(y: np.ndarray, groups: np.ndarray, fold: dict[str, Any], model: str
                ) -> FoldPools:
    """One fold's pooled answers per test specimen (``y``, ``groups``: the fold's test rows),
    each pooled once, with the per-spectrum top-1 averaged over the same specimens."""
    pool = fold[model]["params"]["pool"]
    _, codes = group_codes(groups)
    _, p = pooled_by_group(fold[model]["raw"], groups, pool, fold[model].get("best_sim"))
    first = np.unique(codes, return_index=True)[1]
    n = np.bincount(codes).astype(float)
    each = (fold[model]["calibrated"].argmax(axis=1) == y).astype(float)
    return FoldPools(p, conformal_set(p, pool["set_thresholds"][LEVEL]), y[first], n,
                     fold["prior"]["raw"][first], np.bincount(codes, weights=each) / n)


def top1_gain(pools: list[FoldPools], n_boot: int = 2000, seed: int = 0
              ) -> tuple[float, float, float]:
    """Pooled top-1 minus per-spectrum top-1 (averaged over its spectra), specimen by
    specimen: the mean and a 95% bootstrap interval over specimens."""
    d = np.concatenate([(f.proba.argmax(axis=1) == f.y) - f.single_top1 for f in pools])
    rng = np.random.default_rng(seed)
    boot = [d[rng.integers(0, len(d), len(d))].mean() for _ in range(n_boot)]
    return float(d.mean()), float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))


def pooling_table(y: np.ndarray, groups: np.ndarray, splits: Splits,
                  folds: list[dict[str, Any]], model: str) -> PoolingTable | None:
    """The four ways of scoring (per-spectrum or pooled answers, each specimen or each
    spectrum once) and the pooled top-1 gain; None when the folds hold no pooled fit for
    ``model`` (a fold cache written before pooling)."""
    if any("pool" not in f[model]["params"] for f in folds):
        return None
    proba, sets, prior = per_spectrum(y, splits, folds, model)
    _, codes = group_codes(groups)
    once = 1.0 / np.bincount(codes)[codes]
    pools = [pooled_fold(y[te], groups[te], f, model)
             for (_, te), f in zip(splits, folds, strict=True)]
    pool = Answers(*(np.concatenate([getattr(f, k) for f in pools])
                     for k in ("proba", "sets", "y", "n", "prior")))
    specimen_once = Answers(pool.proba, pool.sets, pool.y, np.ones(len(pool.y)), pool.prior)
    rows = [score_answers("per spectrum", "each specimen once",
                          Answers(proba, sets, y, once, prior)),
            score_answers("pooled", "each specimen once", specimen_once),
            score_answers("per spectrum", "each spectrum once",
                          Answers(proba, sets, y, np.ones(len(y)), prior)),
            score_answers("pooled", "each spectrum once", pool)]
    gain, low, high = top1_gain(pools)
    rules = [str(f[model]["params"]["pool"].get("rule", "log_mean")) for f in folds]
    return PoolingTable(model=model, rules=rules, rows=rows, top1_gain=gain,
                        top1_gain_low=low, top1_gain_high=high)
