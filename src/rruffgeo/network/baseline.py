"""Baselines on the same grid and folds: 1-nearest-neighbour by cosine similarity, majority class.

When the 1-NN scores close to the network, the network may be recognising near-duplicate spectra
(siblings of one specimen) rather than anything geographic (findings section 1). The majority
class is the rate any accuracy must beat.

Both read their spectra in blocks (from the memory-mapped matrix when given its rows), so their
memory does not grow with the data set: the 1-NN holds one block of training spectra, one
block of test spectra and their similarities at a time.
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

#: Spectra per block of the 1-NN: 4,096 x 2,048 float32 is 32 MB per block.
BLOCK = 4096


def _unit_rows(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return np.divide(X, norms, out=np.zeros_like(X), where=norms > 0)


def nn1_cosine_scores(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray,
                      n_classes: int, chunk: int = BLOCK, progress: bool = False) -> np.ndarray:
    """Per test spectrum and class, the highest cosine similarity to a training spectrum.

    The argmax is the 1-NN prediction; the full ranking gives its top-3 accuracy. Classes
    without training spectra score -inf. ``X_train`` and ``X_test`` may be arrays or lazy row
    views of the matrix (anything indexable by row arrays and slices); training spectra are
    taken ``chunk`` at a time in class order, each against the test spectra ``chunk`` at a time.
    """
    y_train = np.asarray(y_train)
    order = np.argsort(y_train, kind="stable")
    y_sorted = y_train[order]
    n_test = len(X_test)
    scores = np.full((n_test, n_classes), -np.inf, dtype=np.float32)
    steps = -(-len(order) // chunk) * -(-n_test // chunk)
    with tqdm(total=steps, desc="1-NN", unit="block", disable=not progress) as bar:
        for lo in range(0, len(order), chunk):
            train = _unit_rows(X_train[order[lo:lo + chunk]])
            classes, starts = np.unique(y_sorted[lo:lo + chunk], return_index=True)
            for t in range(0, n_test, chunk):
                sims = _unit_rows(X_test[t:t + chunk]) @ train.T
                best = np.maximum.reduceat(sims, starts, axis=1)
                scores[t:t + chunk, classes] = np.maximum(scores[t:t + chunk, classes], best)
                bar.update(1)
    return scores


def majority_scores(y_train: np.ndarray, n_test: int, n_classes: int) -> np.ndarray:
    """Scores that rank the classes by their training frequency, the same for every test
    spectrum: the argmax is the majority class, so its accuracy is the majority-class rate."""
    counts = np.bincount(np.asarray(y_train, dtype=np.int64), minlength=n_classes)
    share = (counts / max(1, counts.sum())).astype(np.float32)
    return np.broadcast_to(share, (n_test, n_classes)).copy()
