"""Per-spectrum metrics of probabilistic country predictions, and paired bootstrap intervals.

Torch-free. Metrics are per spectrum; intervals resample specimens (an oriented series gives one
specimen a dozen spectra, so resampling spectra would make intervals too narrow). The bootstrap
works on per-specimen sums, so 2,000 resamples of ~2,500 specimens take a fraction of a second.
"""

from __future__ import annotations

import numpy as np

from rruffgeo.provenance.calibration import log_loss_per_sample
from rruffgeo.results import ONE_CLASS_SHARE, one_class_words

POINT_METRICS = ("top1", "top3", "macro_f1", "log_loss")


def _topk_hits(proba: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    k = min(k, proba.shape[1])
    top = np.argpartition(-proba, k - 1, axis=1)[:, :k]
    return (top == y[:, None]).any(axis=1).astype(float)


def _specimen_sums(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Per-specimen sums of per-spectrum values (n,) or (n, c)."""
    if values.ndim == 1:
        return np.bincount(codes, weights=values, minlength=n_groups)
    out = np.zeros((n_groups, values.shape[1]))
    np.add.at(out, codes, values)
    return out


class _Stats:
    """Per-specimen sums from which every metric follows, for any specimen weights."""

    def __init__(self, proba: np.ndarray, y: np.ndarray, codes: np.ndarray, n_groups: int):
        n_classes = proba.shape[1]
        pred = proba.argmax(axis=1)
        eye = np.eye(n_classes)
        self.n = np.bincount(codes, minlength=n_groups).astype(float)
        self.top1 = _specimen_sums((pred == y).astype(float), codes, n_groups)
        self.top3 = _specimen_sums(_topk_hits(proba, y, 3), codes, n_groups)
        self.loss = _specimen_sums(log_loss_per_sample(proba, y), codes, n_groups)
        self.tp = _specimen_sums(eye[y] * (pred == y)[:, None], codes, n_groups)
        self.true = _specimen_sums(eye[y], codes, n_groups)
        self.pred = _specimen_sums(eye[pred], codes, n_groups)

    def metrics(self, w: np.ndarray) -> dict[str, np.ndarray]:
        """Metrics for specimen weights ``w`` (n_groups,) or (B, n_groups)."""
        n = w @ self.n
        tp, true, pred = w @ self.tp, w @ self.true, w @ self.pred
        present = (true + pred) > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(present, 2 * tp / (true + pred), 0.0)
        macro = f1.sum(axis=-1) / np.maximum(present.sum(axis=-1), 1)
        return {"top1": (w @ self.top1) / n, "top3": (w @ self.top3) / n,
                "macro_f1": macro, "log_loss": (w @ self.loss) / n}


def compare_to_baseline(proba: np.ndarray, base: np.ndarray, y: np.ndarray, groups: np.ndarray,
                        n_boot: int = 2000, seed: int = 0) -> dict[str, dict[str, float]]:
    """Each metric of ``proba`` beside ``base`` with a 95% paired bootstrap interval of the
    difference (model - baseline), resampling specimens."""
    y = np.asarray(y)
    _, codes = np.unique(np.asarray(groups), return_inverse=True)
    n_groups = int(codes.max()) + 1
    model, ref = _Stats(proba, y, codes, n_groups), _Stats(base, y, codes, n_groups)
    ones = np.ones(n_groups)
    point_m, point_b = model.metrics(ones), ref.metrics(ones)
    rng = np.random.default_rng(seed)
    w = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=n_boot).astype(float)
    boot_m, boot_b = model.metrics(w), ref.metrics(w)
    out = {}
    for m in POINT_METRICS:
        diff = boot_m[m] - boot_b[m]
        lo, hi = np.quantile(diff, [0.025, 0.975])
        out[m] = {"value": float(point_m[m]), "baseline": float(point_b[m]),
                  "diff": float(point_m[m] - point_b[m]), "diff_lo": float(lo),
                  "diff_hi": float(hi)}
    return out


def one_class_note(proba: np.ndarray, class_names: list[str]) -> str:
    """Words saying the model answers (almost) one class for everything, else ""."""
    pred = proba.argmax(axis=1)
    counts = np.bincount(pred, minlength=proba.shape[1])
    top = int(counts.argmax())
    share = counts[top] / max(len(pred), 1)
    if share >= ONE_CLASS_SHARE:
        return one_class_words(class_names[top], share)
    return ""


def most_predicted(proba: np.ndarray, classes: list[str]) -> dict[str, float | str]:
    """The class predicted most often and its share of the predictions."""
    counts = np.bincount(proba.argmax(axis=1), minlength=proba.shape[1])
    top = int(counts.argmax())
    return {"class": classes[top], "share": float(counts[top] / max(counts.sum(), 1))}


def top_share(y: np.ndarray, k: int = 3) -> float:
    """Share of spectra in the ``k`` most common classes."""
    counts = np.sort(np.bincount(np.asarray(y)))[::-1]
    return float(counts[:k].sum() / counts.sum())

