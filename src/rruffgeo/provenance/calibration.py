"""Calibration of class probabilities: temperature scaling, top-label isotonic recalibration and
the top-label calibration error.

Torch-free. ``TemperatureScaling`` (Guo et al. 2017) rescales log-probabilities by ``1 / T`` and
renormalises: one parameter, fitted by minimising the log-loss on held-out probabilities (the
out-of-fold predictions of inner splits of a training fold, never a test fold). It keeps the
ranking, so top-k accuracy is unchanged; only the confidence moves.

Fitted by log-loss, one temperature can leave the top label mis-calibrated (docs/guide.md,
"Why the defaults"). ``TopLabelIsotonic`` (top-label calibration, Gupta & Ramdas 2022) then
maps the top class's probability through an isotonic fit of "the top class is right" on it, and
scales the other classes to share the rest in their proportions. ``Calibrator`` does both, in
that order; its fit is plain numbers (JSON), so a saved model holds no code.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.isotonic import IsotonicRegression

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


#: Largest top-label probability the isotonic map may give: 1 would make every other class
#: impossible and one wrong answer cost an unbounded log-loss.
MAX_TOP = 1.0 - 1e-4


def remap_top_label(proba: np.ndarray, top: np.ndarray) -> np.ndarray:
    """``proba`` with each row's top probability set to ``top`` and the others scaled to share
    the rest in their proportions; ``top`` is raised where needed so the top class stays on top."""
    p = np.asarray(proba, np.float64)
    rows = np.arange(len(p))
    best = p.argmax(axis=1)
    conf = p[rows, best]
    second = np.partition(p, -2, axis=1)[:, -2] if p.shape[1] > 1 else np.zeros(len(p))
    # + 1e-6: the top stays on top after a float32 round-trip too (probabilities are saved so)
    keep_order = second / np.maximum(1.0 - conf + second, EPS) + 1e-6
    g = np.clip(np.maximum(np.asarray(top, np.float64), keep_order), EPS, MAX_TOP)
    rest = 1.0 - conf
    share = np.where((rest > EPS)[:, None], p / np.maximum(rest, EPS)[:, None],
                     1.0 / max(p.shape[1] - 1, 1))  # nothing left to share: spread it evenly
    out = share * (1.0 - g)[:, None]
    out[rows, best] = g
    return out / out.sum(axis=1, keepdims=True)


class TopLabelIsotonic:
    """Top-label recalibration: an increasing map from the top probability to the share of
    samples whose top class is right, fitted by isotonic regression on held-out probabilities."""

    def fit(self, proba: np.ndarray, y: np.ndarray) -> TopLabelIsotonic:
        conf = np.asarray(proba).max(axis=1)
        right = (np.asarray(proba).argmax(axis=1) == np.asarray(y)).astype(float)
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(conf, right)
        self.confidence_ = np.asarray(iso.X_thresholds_, np.float64)
        self.accuracy_ = np.asarray(iso.y_thresholds_, np.float64)
        return self

    def transform(self, proba: np.ndarray) -> np.ndarray:
        return top_label_map(proba, self.confidence_, self.accuracy_)


def top_label_map(proba: np.ndarray, confidence: np.ndarray, accuracy: np.ndarray
                  ) -> np.ndarray:
    """``proba`` with each top probability mapped through the knots (confidence -> accuracy,
    linear between them, clipped at the ends) of a ``TopLabelIsotonic`` fit."""
    conf = np.asarray(proba).max(axis=1)
    return remap_top_label(proba, np.interp(conf, np.asarray(confidence, float),
                                            np.asarray(accuracy, float)))


class Calibrator:
    """Temperature scaling, then top-label isotonic recalibration; ``params_`` is its JSON."""

    def fit(self, proba: np.ndarray, y: np.ndarray) -> Calibrator:
        ts = TemperatureScaling().fit(proba, y)
        top = TopLabelIsotonic().fit(ts.transform(proba), y)
        self.params_ = {"temperature": ts.temperature_,
                        "top_label": {"confidence": top.confidence_.tolist(),
                                      "accuracy": top.accuracy_.tolist()}}
        return self

    def transform(self, proba: np.ndarray) -> np.ndarray:
        return apply_calibration(proba, self.params_)


def apply_calibration(proba: np.ndarray, params: dict) -> np.ndarray:
    """Calibrated probabilities from a fit's parameters (``Calibrator.params_``). Models saved
    before the top-label step hold only a temperature; they get temperature scaling alone."""
    out = apply_temperature(proba, float(params["temperature"]))
    top = params.get("top_label")
    return top_label_map(out, top["confidence"], top["accuracy"]) if top else out


def reliability_table(proba: np.ndarray, y: np.ndarray, n_bins: int = 15,
                      weights: np.ndarray | None = None) -> dict[str, list]:
    """Top-label confidence vs accuracy in ``n_bins`` equal-width bins of [0, 1].

    Returns lists per bin: ``lower``, ``upper``, ``count`` (the bin's summed ``weights``
    when given: pooled answers weight each specimen once), ``confidence`` (mean top
    probability), ``accuracy`` (share whose top class is right); NaN for empty bins.
    """
    conf = proba.max(axis=1)
    right = (proba.argmax(axis=1) == np.asarray(y)).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    w = None if weights is None else np.asarray(weights, float)
    count = np.bincount(which, weights=w, minlength=n_bins)
    w = np.ones(len(conf)) if w is None else w
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, weights=w * conf, minlength=n_bins) / count
        acc = np.bincount(which, weights=w * right, minlength=n_bins) / count
    return {"lower": edges[:-1].tolist(), "upper": edges[1:].tolist(),
            "count": count.tolist(), "confidence": mean_conf.tolist(), "accuracy": acc.tolist()}


def top_label_ece(proba: np.ndarray, y: np.ndarray, n_bins: int = 15,
                  weights: np.ndarray | None = None) -> float:
    """Expected calibration error of the top label: sum over bins of share * |acc - conf|,
    shares by ``weights`` when given."""
    t = reliability_table(proba, y, n_bins, weights)
    count = np.asarray(t["count"], float)
    gap = np.abs(np.nan_to_num(np.asarray(t["accuracy"]) - np.asarray(t["confidence"])))
    return float((count * gap).sum() / max(count.sum(), 1e-300))
