"""Calibration of class probabilities: temperature scaling and the top-label calibration error.

Torch-free. ``TemperatureScaling`` (Guo et al. 2017) rescales log-probabilities by ``1 / T`` and
renormalises: one parameter, fitted by minimising the log-loss on held-out probabilities (the
out-of-fold predictions of inner splits of a training fold, never a test fold). It keeps the
ranking, so top-k accuracy is unchanged; only the confidence moves.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

#: Floor on probabilities before taking logs (keeps the log-loss finite).
EPS = 1e-12


def log_loss_per_sample(proba: np.ndarray, y: np.ndarray) -> np.ndarray:
    """-log p(true class) per sample."""
    return -np.log(np.maximum(proba[np.arange(len(y)), np.asarray(y)], EPS))


def apply_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities proportional to ``proba ** (1 / temperature)``."""
    logits = np.log(np.maximum(np.asarray(proba, np.float64), EPS)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=1, keepdims=True)


class TemperatureScaling:
    """One temperature for all classes, fitted on held-out probabilities by log-loss."""

    def __init__(self, bounds: tuple[float, float] = (0.05, 20.0)) -> None:
        self.bounds = bounds

    def fit(self, proba: np.ndarray, y: np.ndarray) -> TemperatureScaling:
        y = np.asarray(y)

        def loss(log_t: float) -> float:
            return float(log_loss_per_sample(apply_temperature(proba, np.exp(log_t)), y).mean())

        lo, hi = np.log(self.bounds[0]), np.log(self.bounds[1])
        res = minimize_scalar(loss, bounds=(lo, hi), method="bounded",
                              options={"xatol": 1e-4})
        self.temperature_ = float(np.exp(res.x))
        return self

    def transform(self, proba: np.ndarray) -> np.ndarray:
        return apply_temperature(proba, self.temperature_)


def reliability_table(proba: np.ndarray, y: np.ndarray, n_bins: int = 15) -> dict[str, list]:
    """Top-label confidence vs accuracy in ``n_bins`` equal-width bins of [0, 1].

    Returns lists per bin: ``lower``, ``upper``, ``count``, ``confidence`` (mean top
    probability), ``accuracy`` (share whose top class is right); NaN for empty bins.
    """
    conf = proba.max(axis=1)
    right = (proba.argmax(axis=1) == np.asarray(y)).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, weights=conf, minlength=n_bins) / count
        acc = np.bincount(which, weights=right, minlength=n_bins) / count
    return {"lower": edges[:-1].tolist(), "upper": edges[1:].tolist(),
            "count": count.tolist(), "confidence": mean_conf.tolist(), "accuracy": acc.tolist()}


def top_label_ece(proba: np.ndarray, y: np.ndarray, n_bins: int = 15) -> float:
    """Expected calibration error of the top label: sum over bins of share * |acc - conf|."""
    t = reliability_table(proba, y, n_bins)
    count = np.asarray(t["count"], float)
    gap = np.abs(np.nan_to_num(np.asarray(t["accuracy"]) - np.asarray(t["confidence"])))
    return float((count * gap).sum() / max(count.sum(), 1))
