"""Train/test splits: by spectrum (the paper's protocol) or grouped by specimen (no leakage).

``spectrum`` uses ``StratifiedKFold``: every class keeps its share in each fold. A class with
fewer spectra than folds (possible: the paper keeps countries with only 2 samples) cannot be in
every fold; scikit-learn spreads its samples over as many folds as it has samples (it warns), so
in the other folds that country appears only in training, and it is never evaluated there.

``specimen`` uses ``StratifiedGroupKFold``: all spectra of one RRUFF specimen fall in the same
fold, so no specimen is on both sides; stratification holds only as far as the grouping allows
(a country with a single specimen is in the test fold once and then absent from training).

The hold-out split of ``rruffgeo train`` (80/20) is the first fold of the same scheme with
``round(1 / test_size)`` folds, so both protocols treat rare classes the same way.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from rruffgeo.config import Split


def cv_splits(
    y: np.ndarray, groups: np.ndarray | None, split: Split | str, n_folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n_folds`` (train, test) index pairs, deterministic for a given seed.

    ``groups`` holds the values of ``split.group_column`` row by row (None when the protocol
    does not group): no value is on both sides of a fold.
    """
    if split not in list(Split):
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(Split)}")
    split = Split(split)
    if split.group_column is not None and groups is None:
        raise ValueError(f"split {split}: needs the {split.group_column} of every row")
    y = np.asarray(y)
    if n_folds < 2 or n_folds > len(y):
        raise ValueError(f"cannot make {n_folds} folds of {len(y)} samples")
    dummy = np.zeros(len(y))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class")
        if split.group_column is None:
            it = StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(dummy, y)
        else:
            groups = np.asarray(groups)
            if len(np.unique(groups)) < n_folds:
                raise ValueError(f"cannot make {n_folds} folds of {len(np.unique(groups))} "
                                 f"distinct {split.group_column} values")
            it = StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed).split(
                dummy, y, groups)
        return [(np.sort(tr), np.sort(te)) for tr, te in it]


def holdout_split(
    y: np.ndarray, groups: np.ndarray | None, split: Split | str, test_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The paper's 80/20 split (``test_size`` 0.2), by spectrum or grouped by specimen."""
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    n_folds = max(2, round(1 / test_size))
    return cv_splits(y, groups, split, n_folds, seed)[0]


def inner_split(
    y: np.ndarray, groups: np.ndarray, split: str, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """A training part's (fit, validation) rows for recipe choices, grouped like ``split``.

    The first fold of ``round(1 / fraction)`` folds of the training part only (so about
    ``fraction`` of it), with a seed of its own: grouped by specimen when the evaluated split
    is, so the validation curves see the same kind of unseen spectra the test fold holds.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"inner_val_fraction must be in (0, 1), got {fraction}")
    return holdout_split(y, groups, split, fraction, seed + 1)
