"""Split-conformal prediction sets of countries, with held-out scores grouped by specimen.

Torch-free. The score is one minus the probability of the true country (LAC, Sadinle et al.
2019), which gives the smallest mean set size among sets that threshold one score; a set holds
every country whose probability is at least ``1 - q``, and never less than the top country (an
empty set tells a user nothing). ``q`` is the conformal quantile of the held-out scores.

Why not MAPIE or crepes: both treat calibration rows as exchangeable, but spectra of one specimen
are not (an oriented series gives one specimen a dozen near-identical spectra). Here the scores
come from out-of-fold predictions of inner splits grouped by specimen, and the finite-sample
correction counts specimens, not spectra (the exchangeable units), which is slightly
conservative and needs ten lines of numpy.
"""

from __future__ import annotations

import numpy as np


class SplitConformal:
    """Prediction sets with marginal coverage ``coverage`` (e.g. 0.9)."""

    def __init__(self, coverage: float = 0.9) -> None:
        if not 0.0 < coverage < 1.0:
            raise ValueError(f"coverage must be in (0, 1), got {coverage}")
        self.coverage = coverage

    def fit(self, proba: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None
            ) -> SplitConformal:
        """Quantile of the held-out scores ``1 - p(true)``; ``groups`` are specimen IDs."""
        y = np.asarray(y)
        scores = 1.0 - proba[np.arange(len(y)), y]
        n_units = len(np.unique(groups)) if groups is not None else len(y)
        level = min(1.0, np.ceil((n_units + 1) * self.coverage) / n_units)
        self.quantile_ = float(np.quantile(scores, level, method="higher"))
        self.threshold_ = 1.0 - self.quantile_
        return self

    def predict_set(self, proba: np.ndarray) -> np.ndarray:
        """Boolean mask (n, n_classes) of each spectrum's set (always holds its top class)."""
        return conformal_set(proba, self.threshold_)


def conformal_set(proba: np.ndarray, threshold: float | np.ndarray) -> np.ndarray:
    """Boolean mask (n, n_classes) of the classes at or above ``threshold`` (one, or one per
    row), always holding each row's top class (an empty set tells a user nothing); one row
    may be given 1-D."""
    proba = np.atleast_2d(proba)
    t = np.asarray(threshold, dtype=float)
    mask = proba >= (t[:, None] if t.ndim == 1 else t)
    mask[np.arange(len(proba)), proba.argmax(axis=1)] = True
    return mask


def coverage_and_size(sets: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Share of spectra whose set holds the true class, and the mean set size."""
    covered = sets[np.arange(len(y)), np.asarray(y)]
    return float(covered.mean()), float(sets.sum(axis=1).mean())
