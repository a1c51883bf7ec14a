"""One answer for one sample from several of its spectra: pooled, calibrated, with its set.

Torch-free. Spectra of one sample (the files of one specimen, the points of a map, the orientations
of a series) are strongly correlated: multiplying their probabilities as if they were independent
evidence makes the answer far too sure. The pooled answer is a mean of the spectra's answers: of
their log-probabilities (a geometric mean), of their probabilities, or of their probabilities
weighted by how well each spectrum matches the library (``exp((s - s_max) / tau)``, ``s`` its best
cosine similarity to a library spectrum, ``s_max`` the sample's best): a spectrum far from
everything the library holds (noise, fluorescence, an odd orientation) says less about where the
sample is from. The inner folds choose the rule (``POOL_RULES``) by the pooled answers' top-1,
ties by their log-loss; one spectrum alone is unchanged by every rule. The pooled answer is put
through a calibration of its own (temperature, then top-label isotonic, as
``calibration.Calibrator``) and a conformal threshold of its own, both fitted on pooled out-of-fold
answers of inner splits grouped by specimen: one pooled answer per training specimen, so the fit
sees exactly the kind of answer it will be used on, and the conformal units are specimens.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rruffgeo.provenance.calibration import (
    EPS,
    Calibrator,
    apply_calibration,
    log_loss_per_sample,
)
from rruffgeo.provenance.conformal import SplitConformal


def pool_log_mean(proba: np.ndarray, codes: np.ndarray, n_groups: int | None = None
                  ) -> np.ndarray:
    """Per group (``codes`` 0..n_groups-1), the normalised geometric mean of its rows'
    probabilities: the untempered pooled answer."""
    codes = np.asarray(codes, np.int64)
    n_groups = int(n_groups if n_groups is not None else codes.max() + 1)
    logp = np.log(np.maximum(np.asarray(proba, np.float64), EPS))
    sums = np.zeros((n_groups, logp.shape[1]))
    np.add.at(sums, codes, logp)
    counts = np.bincount(codes, minlength=n_groups).astype(float)
    mean = sums / np.maximum(counts, 1.0)[:, None]
    mean -= mean.max(axis=1, keepdims=True)
    out = np.exp(mean)
    return out / out.sum(axis=1, keepdims=True)


def pool_mean(proba: np.ndarray, codes: np.ndarray, n_groups: int | None = None,
              weights: np.ndarray | None = None) -> np.ndarray:
    """Per group, the (weighted) mean of its rows' probabilities: robust to one odd spectrum,
    which a geometric mean lets veto a country."""
    codes = np.asarray(codes, np.int64)
    n_groups = int(n_groups if n_groups is not None else codes.max() + 1)
    p = np.asarray(proba, np.float64)
    if weights is not None:
        p = p * np.asarray(weights, np.float64)[:, None]
    sums = np.zeros((n_groups, p.shape[1]))
    np.add.at(sums, codes, p)
    return sums / np.maximum(sums.sum(axis=1, keepdims=True), EPS)


def similarity_weights(best_sim: np.ndarray, codes: np.ndarray, n_groups: int, tau: float
                       ) -> np.ndarray:
    """Per row, ``exp((s - s_max) / tau)``: 1 for its group's best-matching spectrum, less
    for spectra that match the library worse (``s``: best cosine to a library spectrum)."""
    s = np.asarray(best_sim, np.float64)
    if s.shape != np.shape(codes) or not np.isfinite(s).all():
        raise ValueError("best_sim must hold one finite similarity per spectrum")
    top = np.full(n_groups, -np.inf)
    np.maximum.at(top, codes, s)
    return np.exp((s - top[codes]) / tau)


#: Similarity-weighted means tried on the inner folds: rule name -> tau (cosine units).
SIM_RULES = {"sim_0.1": 0.1, "sim_0.03": 0.03, "sim_0.01": 0.01}
#: Pooling rules tried on the inner folds; a saved fit without ``rule`` used ``log_mean``.
POOL_RULES = ("log_mean", "mean", *SIM_RULES)


def pool(rule: str, proba: np.ndarray, codes: np.ndarray, n_groups: int,
         best_sim: np.ndarray | None = None) -> np.ndarray:
    """Untempered pooled answers (n_groups, n_classes) by ``rule``; the similarity-weighted
    rules need each row's best library similarity."""
    codes = np.asarray(codes, np.int64)
    if rule == "log_mean":
        return pool_log_mean(proba, codes, n_groups)
    if rule == "mean":
        return pool_mean(proba, codes, n_groups)
    if rule not in SIM_RULES:
        raise ValueError(f"unknown pooling rule {rule!r}; known: {', '.join(POOL_RULES)}")
    if best_sim is None:
        raise ValueError(f"pooling rule {rule!r} needs each spectrum's best library similarity")
    return pool_mean(proba, codes, n_groups,
                     similarity_weights(best_sim, codes, n_groups, SIM_RULES[rule]))


def group_codes(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct groups (sorted) and each row's code into them."""
    uniques, codes = np.unique(np.asarray(groups), return_inverse=True)
    return uniques, codes


def group_labels(y: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """The label of each group (its first row's; a specimen has one country)."""
    out = np.zeros(n_groups, np.int64)
    out[codes[::-1]] = np.asarray(y)[::-1]
    return out


def choose_rule(top1: dict[str, float], log_loss: dict[str, float]) -> str:
    """The rule whose pooled inner answers are most often right, ties by the lower log-loss:
    top-1 is what pooling is for, and the rules' log-losses differ by less than their noise."""
    return min(top1, key=lambda r: (-top1[r], log_loss[r]))


def fit_pool(inner_raw: np.ndarray, y: np.ndarray, groups: np.ndarray,
             levels: tuple[float, ...], best_sim: np.ndarray) -> dict[str, Any]:
    """Pooling rule, calibration and conformal thresholds of pooled answers, from the
    per-spectrum inner out-of-fold probabilities ``inner_raw`` pooled by specimen (``groups``),
    with each spectrum's best similarity to the inner training library (``choose_rule``);
    plain JSON."""
    _, codes = group_codes(groups)
    n_groups = int(codes.max()) + 1
    y_group = group_labels(y, codes, n_groups)
    fits = {}
    for rule in POOL_RULES:
        pooled = pool(rule, inner_raw, codes, n_groups, best_sim)
        cal = Calibrator().fit(pooled, y_group)
        pooled_cal = cal.transform(pooled)
        fits[rule] = (float((pooled_cal.argmax(axis=1) == y_group).mean()),
                      float(log_loss_per_sample(pooled_cal, y_group).mean()), cal, pooled_cal)
    top1 = {r: f[0] for r, f in fits.items()}
    log_loss = {r: f[1] for r, f in fits.items()}
    rule = choose_rule(top1, log_loss)
    _, _, cal, pooled_cal = fits[rule]
    thresholds = {str(lv): SplitConformal(lv).fit(pooled_cal, y_group).threshold_
                  for lv in levels}
    return {"rule": rule, **cal.params_, "set_thresholds": thresholds, "n_groups": n_groups,
            "inner_top1": top1, "inner_log_loss": log_loss}


def pooled_by_group(raw: np.ndarray, groups: np.ndarray, params: dict[str, Any],
                    best_sim: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct groups and their calibrated pooled probabilities (n_groups, n_classes);
    ``best_sim``: each row's best library similarity (needed by the weighted rules)."""
    uniques, codes = group_codes(groups)
    pooled = pool(params.get("rule", "log_mean"), raw, codes, len(uniques), best_sim)
    return uniques, apply_calibration(pooled, params)


def pooled_answer(raw: np.ndarray, params: dict[str, Any], best_sim: np.ndarray | None = None
                  ) -> np.ndarray:
    """Calibrated pooled probabilities (one row) of one sample's raw per-spectrum rows."""
    return pooled_by_group(raw, np.zeros(len(raw), np.int64), params, best_sim)[1][0]

