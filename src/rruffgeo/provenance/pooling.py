"""One answer for one sample from several of its spectra: pooled, calibrated, with its set.

Torch-free. Spectra of one sample (the files of one specimen, the points of a map, the
orientations of a series) are strongly correlated: multiplying their probabilities as if they
were independent evidence makes the answer far too sure. The pooled answer is the mean of the
spectra's log-probabilities (a geometric mean, which one spectrum alone leaves unchanged) put
through a calibration of its own (temperature, then top-label isotonic, as
``calibration.Calibrator``) and a conformal threshold of its own, both fitted on pooled
out-of-fold answers of inner splits grouped by specimen: one pooled answer per training
specimen, so the fit sees exactly the kind of answer it will be used on, and the conformal
units are specimens.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rruffgeo.provenance.calibration import EPS, Calibrator, apply_calibration
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
    pooled = pool_log_mean(inner_raw, codes, n_groups)
    y_group = group_labels(y, codes, n_groups)
    cal = Calibrator().fit(pooled, y_group)
    pooled_cal = cal.transform(pooled)
    thresholds = {str(lv): SplitConformal(lv).fit(pooled_cal, y_group).threshold_
                  for lv in levels}
    return {**cal.params_, "set_thresholds": thresholds, "n_groups": n_groups}


def pooled_answer(raw: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Calibrated pooled probabilities (one row) of one sample's raw per-spectrum rows."""
    pooled = pool_log_mean(raw, np.zeros(len(raw), np.int64), 1)
    return apply_calibration(pooled, params)[0]


def pooled_by_group(raw: np.ndarray, groups: np.ndarray, params: dict[str, Any]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Distinct groups and their calibrated pooled probabilities (n_groups, n_classes)."""
    uniques, codes = group_codes(groups)
    return uniques, apply_calibration(pool_log_mean(raw, codes, len(uniques)), params)


def conformal_set(proba: np.ndarray, threshold: float) -> np.ndarray:
    """Boolean mask of the classes at or above ``threshold``, always holding the top class."""
    proba = np.atleast_2d(proba)
    mask = proba >= threshold
    mask[np.arange(len(proba)), proba.argmax(axis=1)] = True
    return mask
