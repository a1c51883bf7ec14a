"""One answer for one sample from several of its spectra: pooled, calibrated, with its set.

Torch-free. Spectra of one sample (the files of one specimen, the points of a map, the orientations
of a series) are strongly correlated: multiplying their probabilities as if they were independent
evidence makes the answer far too sure. The pooled answer is a mean of the spectra's answers, of
their log-probabilities (a geometric mean) or of their probabilities, whichever gives the lower
pooled log-loss on the inner folds (``POOL_RULES``; one spectrum alone is unchanged by either), put
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


def pool_mean(proba: np.ndarray, codes: np.ndarray, n_groups: int | None = None
              ) -> np.ndarray:
    """Per group, the mean of its rows' probabilities: robust to one odd spectrum, which a
    geometric mean lets veto a country."""
    codes = np.asarray(codes, np.int64)
    n_groups = int(n_groups if n_groups is not None else codes.max() + 1)
    sums = np.zeros((n_groups, proba.shape[1]))
    np.add.at(sums, codes, np.asarray(proba, np.float64))
    return sums / np.maximum(sums.sum(axis=1, keepdims=True), EPS)


#: Pooling rules tried on the inner folds; a saved fit without ``rule`` used ``log_mean``.
POOL_RULES = {"log_mean": pool_log_mean, "mean": pool_mean}


def group_codes(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct groups (sorted) and each row's code into them."""
    uniques, codes = np.unique(np.asarray(groups), return_inverse=True)
    return uniques, codes


def group_labels(y: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """The label of each group (its first row's; a specimen has one country)."""
    out = np.zeros(n_groups, np.int64)
    out[codes[::-1]] = np.asarray(y)[::-1]
    return out


def fit_pool(inner_raw: np.ndarray, y: np.ndarray, groups: np.ndarray,
             levels: tuple[float, ...]) -> dict[str, Any]:
    """Calibration and conformal thresholds of pooled answers, from the per-spectrum inner
    out-of-fold probabilities ``inner_raw`` pooled by specimen (``groups``); plain JSON."""
    _, codes = group_codes(groups)
    n_groups = int(codes.max()) + 1
    y_group = group_labels(y, codes, n_groups)
    fits = {}
    for rule, pool in POOL_RULES.items():
        pooled = pool(inner_raw, codes, n_groups)
        cal = Calibrator().fit(pooled, y_group)
        pooled_cal = cal.transform(pooled)
        fits[rule] = (float(log_loss_per_sample(pooled_cal, y_group).mean()), cal, pooled_cal)
    rule = min(fits, key=lambda r: fits[r][0])
    _, cal, pooled_cal = fits[rule]
    thresholds = {str(lv): SplitConformal(lv).fit(pooled_cal, y_group).threshold_
                  for lv in levels}
    return {"rule": rule, **cal.params_, "set_thresholds": thresholds, "n_groups": n_groups,
            "inner_log_loss": {r: f[0] for r, f in fits.items()}}


def pooled_by_group(raw: np.ndarray, groups: np.ndarray, params: dict[str, Any]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Distinct groups and their calibrated pooled probabilities (n_groups, n_classes)."""
    uniques, codes = group_codes(groups)
    pool = POOL_RULES[params.get("rule", "log_mean")]
    return uniques, apply_calibration(pool(raw, codes, len(uniques)), params)


def pooled_answer(raw: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Calibrated pooled probabilities (one row) of one sample's raw per-spectrum rows."""
    return pooled_by_group(raw, np.zeros(len(raw), np.int64), params)[1][0]

