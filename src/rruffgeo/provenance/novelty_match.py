"""How well a spectrum's best library matches explain it, beyond their similarity: more
features for the learned novelty score.

Torch-free. Three kinds, kept on inner open-set splits (``benchmarks/openset_candidates.py``,
where a fourth, the density of the match's species, lowered the share flagged):

* the residual of the best non-negative mix of the ``MIX`` nearest references (cosine and
  derivative views): a spectrum of an unknown compound is poorly explained even by a mix of
  library spectra, a new specimen of a known species (a solid solution, a mixture) often well;
* peak-level matching with the ``PEAK_REFS`` nearest references: the prominence-weighted share
  of the query's peaks within ``PEAK_TOL`` grid points of a reference peak, and the other way
  round (a similar outline with peaks in other places is a stranger);
* the share of the spectrum's positive intensity in each of a few fixed wide windows
  (``BANDS_CM1``), learned by the classifier like every other feature.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.ndimage import maximum_filter1d, minimum_filter1d

BANDS_CM1 = (400, 800, 1200, 1700, 2700, 3200)
MIX = 10
PEAK_REFS = 5
#: Peak tolerance in grid points (about 10 cm-1 on the 2,048-point grid).
PEAK_TOL = 4
#: A peak is a local maximum standing ``PEAK_MIN`` (of the 0-1 range) above the lower of the
#: minima within ``PEAK_WINDOW`` grid points on each side (a windowed prominence).
PEAK_WINDOW, PEAK_MIN = 25, 0.02
#: Coordinate-descent sweeps of the non-negative mix (the residual settles in far fewer).
SWEEPS = 60
BLOCK = 512
MATCH_NAMES = ("mix_residual_cosine", "mix_residual_derivative", "peaks_matched_best",
               "peaks_matched_top1", "peaks_back_best", "peaks_f1_best",
               *(f"band_share_{i}" for i in range(len(BANDS_CM1) + 1)))


def band_edges(grid_cm1: np.ndarray) -> np.ndarray:
    """Grid indices where the ``BANDS_CM1`` windows start."""
    return np.searchsorted(np.asarray(grid_cm1, np.float64), BANDS_CM1).astype(np.int64)


def band_shares(X: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(n, len(edges) + 1) share of each row's positive intensity in each window."""
    pos = np.clip(np.asarray(X, np.float32), 0, None)
    parts = np.split(pos, np.asarray(edges, np.int64), axis=1)
    sums = np.column_stack([p.sum(axis=1) for p in parts]).astype(np.float64)
    return sums / (sums.sum(axis=1, keepdims=True) + 1e-9)


def mix_residual(Q: np.ndarray, R: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Per query row of ``Q``: ``|q - A w|^2 / |q|^2`` for the best ``w >= 0``, ``A`` the rows
    of ``R`` in the query's row of ``idx`` (batched coordinate descent on the Gram matrix).
    Neither the query's nor a reference's scale changes it."""
    out = np.zeros(len(Q))
    for s in range(0, len(Q), BLOCK):
        q = np.asarray(Q[s:s + BLOCK], np.float32)
        A = np.asarray(R[idx[s:s + BLOCK]], np.float32)
        G = np.matmul(A, A.transpose(0, 2, 1)).astype(np.float64)
        c = np.matmul(A, q[:, :, None])[:, :, 0].astype(np.float64)
        diag = np.maximum(np.einsum("nkk->nk", G), 1e-12)
        w = np.zeros_like(c)
        for _ in range(SWEEPS):
            for j in range(w.shape[1]):
                grad = np.einsum("nk,nk->n", G[:, j], w) - c[:, j]
                w[:, j] = np.maximum(0.0, w[:, j] - grad / diag[:, j])
        qq = np.einsum("ng,ng->n", q, q).astype(np.float64)
        res = qq - 2 * np.einsum("nk,nk->n", c, w) + np.einsum("nk,nkl,nl->n", w, G, w)
        out[s:s + BLOCK] = np.where(qq > 0, np.clip(res, 0, None) / np.maximum(qq, 1e-12), 1.0)
    return out


def peak_weights(X: np.ndarray) -> np.ndarray:
    """Per row, the windowed prominence at its peaks (0 elsewhere; see ``PEAK_WINDOW``)."""
    X = np.asarray(X, np.float32)
    if X.shape[1] < 3:
        return np.zeros_like(X)
    lo_left = minimum_filter1d(X, PEAK_WINDOW + 1, axis=1, origin=PEAK_WINDOW // 2,
                               mode="nearest")
    lo_right = minimum_filter1d(X, PEAK_WINDOW + 1, axis=1, origin=-(PEAK_WINDOW // 2),
                                mode="nearest")
    prom = X - np.maximum(lo_left, lo_right)
    top = np.zeros(X.shape, bool)
    top[:, 1:-1] = (X[:, 1:-1] > X[:, :-2]) & (X[:, 1:-1] >= X[:, 2:])
    return np.where(top & (prom >= PEAK_MIN), prom, 0.0).astype(np.float32)


def near_peaks(W: np.ndarray) -> np.ndarray:
    """0/1 mask of grid points within ``PEAK_TOL`` of a peak of ``W`` (``peak_weights``)."""
    return maximum_filter1d((W > 0).astype(np.float32), 2 * PEAK_TOL + 1, axis=1)


def library_peaks(X: np.ndarray) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """The references' peak weights and near-peak masks, sparse (a few dozen peaks each)."""
    W, M = [], []
    for s in range(0, len(X), BLOCK):
        w = peak_weights(X[s:s + BLOCK])
        W.append(sparse.csr_matrix(w))
        M.append(sparse.csr_matrix(near_peaks(w)))
    shape = (0, np.asarray(X).shape[1])
    return (sparse.vstack(W).tocsr() if W else sparse.csr_matrix(shape, dtype=np.float32),
            sparse.vstack(M).tocsr() if M else sparse.csr_matrix(shape, dtype=np.float32))


def peak_matching(X: np.ndarray, idx: np.ndarray, lib_peaks: tuple[sparse.csr_matrix, ...]
                  ) -> np.ndarray:
    """(n, 4): share of the query's peak weight near a peak of one of its ``PEAK_REFS``
    nearest references (best, and the nearest's), the references' share near the query's
    peaks (best), and the best harmonic mean of the two shares."""
    Wl, Ml = lib_peaks
    out = np.zeros((len(X), 4))
    k = min(PEAK_REFS, idx.shape[1])
    for s in range(0, len(X), BLOCK):
        Wq = peak_weights(X[s:s + BLOCK])
        Mq, rows = near_peaks(Wq), idx[s:s + BLOCK, :k].ravel()
        shape = (len(Wq), k, Wq.shape[1])
        wl, ml = Wl[rows].toarray().reshape(shape), Ml[rows].toarray().reshape(shape)
        fwd = np.einsum("ng,nkg->nk", Wq, ml) / (Wq.sum(axis=1, keepdims=True) + 1e-9)
        back = np.einsum("nkg,ng->nk", wl, Mq) / (wl.sum(axis=2) + 1e-9)
        f1 = 2 * fwd * back / (fwd + back + 1e-9)
        out[s:s + BLOCK] = np.column_stack([fwd.max(axis=1), fwd[:, 0], back.max(axis=1),
                                            f1.max(axis=1)])
    return out
