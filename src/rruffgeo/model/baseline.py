"""1-nearest-neighbour baseline by cosine similarity on the same grid and folds.

When it scores close to the network, the network may be recognising near-duplicate spectra
(siblings of one specimen) rather than anything geographic (findings section 1).
"""

from __future__ import annotations

import numpy as np


def _unit_rows(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return np.divide(X, norms, out=np.zeros_like(X), where=norms > 0)


def nn1_cosine_scores(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray,
                      n_classes: int, chunk: int = 1024) -> np.ndarray:
    """Per test spectrum and class, the highest cosine similarity to a training spectrum.

    The argmax is the 1-NN prediction; the full ranking gives its top-3 accuracy. Classes
    without training spectra score -inf.
    """
    y_train = np.asarray(y_train)
    order = np.argsort(y_train, kind="stable")
    train = _unit_rows(X_train)[order]
    classes, starts = np.unique(y_train[order], return_index=True)
    test = _unit_rows(X_test)
    scores = np.full((len(test), n_classes), -np.inf, dtype=np.float32)
    for lo in range(0, len(test), chunk):
        sims = test[lo:lo + chunk] @ train.T
        scores[lo:lo + chunk, classes] = np.maximum.reduceat(sims, starts, axis=1)
    return scores
