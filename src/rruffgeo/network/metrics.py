"""Classification metrics of one fold and their mean +/- std over folds (paper 5, B.1)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
)

from rruffgeo.results import METRICS

__all__ = ["METRICS", "fold_metrics", "per_class_metrics", "per_class_summary", "summarise",
           "top_k_accuracy"]


def top_k_accuracy(y_true: np.ndarray, scores: np.ndarray, k: int = 3) -> float:
    """Share of samples whose true class is among the ``k`` highest scores."""
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return float((top == np.asarray(y_true)[:, None]).any(axis=1).mean())


def fold_metrics(y_true: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """The seven metrics from true class indices and per-class scores (n_samples, n_classes).

    Macro averages run over the classes present in the fold's truth or predictions
    (scikit-learn's default), so a class absent from a fold does not count as a zero.
    """
    y_pred = scores.argmax(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "accuracy": float(accuracy_score(y_true, y_pred)),
            "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
            "f1_macro": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
            "f1_weighted": float(f1_score(y_true, y_pred, average="weighted", zero_division=0)),
            "precision_macro": float(precision_score(y_true, y_pred, average="macro",
                                                     zero_division=0)),
            "recall_macro": float(recall_score(y_true, y_pred, average="macro", zero_division=0)),
            "top3_accuracy": top_k_accuracy(y_true, scores, 3),
        }


def per_class_metrics(y_true: np.ndarray, scores: np.ndarray, n_classes: int
                      ) -> dict[str, list[float | None]]:
    """F1, precision and recall per class; None for classes without test samples in the fold."""
    y_pred = scores.argmax(axis=1)
    p, r, f, support = precision_recall_fscore_support(
        y_true, y_pred, labels=np.arange(n_classes), zero_division=0)
    absent = support == 0
    return {name: [None if a else float(v) for v, a in zip(vals, absent, strict=True)]
            for name, vals in (("f1", f), ("precision", p), ("recall", r))}


def summarise(folds: Sequence[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and (population) std of each metric over folds."""
    return {m: {"mean": float(np.mean([f[m] for f in folds])),
                "std": float(np.std([f[m] for f in folds]))} for m in METRICS}


def per_class_summary(per_fold: Sequence[dict[str, list[float | None]]]
                      ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Mean and std per class over the folds where the class had test samples (NaN if none)."""
    out = {}
    for name in ("f1", "precision", "recall"):
        arr = np.array([[np.nan if v is None else v for v in f[name]] for f in per_fold],
                       dtype=float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out[name] = (np.nanmean(arr, axis=0), np.nanstd(arr, axis=0))
    return out
