"""Every similarity an answer needs, from one matrix product per block of queries.

Torch-free. An answer compares each query with every reference spectrum three ways: the
cosine over the whole grid (the country models' neighbours and the novelty score), the cosine
over the matching window (species and specimens, ``library.MATCH_MAX_SHIFT_CM1``) and the
Pearson correlation (the HQI, and a novelty view). With ``c = x - mean x`` (each reference
centred once, when the model loads) all three follow from one product ``q.c`` and per-row sums,
because ``sum(c) = 0``:

    correlation = q.c / (|q - mean q| |c|)
    cosine      = (q.c + mean(x) sum(q)) / (|q| |x|)
    window      = (q_w.c_w + mean(x) sum(q_w)) / (|q_w| |x_w|)     (window columns only)

and ``q.c`` is computed, split as (window part) + (rest), only over the columns where some
query of the block is non-zero: a spectrum is zero outside its measured range, and those
columns add nothing. A map measured over 150-1,100 cm-1 touches a fifth of a 2,048-point
grid. The product is float32, as before; the answers differ from the separate products only
by float32 rounding (block sizes alone already move the last bits of a BLAS product).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Queries per block: the block's three (block, references) float32 matrices stay ~100 MB.
BLOCK = 512


@dataclass
class Similarities:
    """One block of queries against every reference: ``cosine`` (whole grid), ``window``
    (matching window) and ``correlation``, each (queries, references) float32."""

    cosine: np.ndarray
    window: np.ndarray
    correlation: np.ndarray


def _inverse(norm: np.ndarray) -> np.ndarray:
    """1 / norm as float32, 0 where the norm is 0 (a zero row has no direction: similarity
    0, as a zero row of ``unit_rows`` gives)."""
    norm = np.asarray(norm, dtype=np.float64)
    return np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0).astype(np.float32)


def _norms(X: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row, summed in float64 (no squared copy of ``X``)."""
    return np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))


def _centred_t(X: np.ndarray, keep: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """``(X - mean)[:, keep].T``, contiguous, made with one copy of the columns."""
    out = np.ascontiguousarray(X[:, keep].T)
    out -= mean[None, :]
    return out


def _scaled(dot: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``dot`` times ``rows`` down and ``columns`` across, in place."""
    dot *= rows[:, None]
    dot *= columns[None, :]
    return dot


class LibraryViews:
    """The reference spectra (float32 rows of ``X`` on a grid) with what the similarities
    need of them, computed once: norms over the grid and the window, sums, centred norms."""

    def __init__(self, X: np.ndarray, window: np.ndarray) -> None:
        X = np.asarray(X, dtype=np.float32)
        self.window = np.asarray(window, dtype=bool)
        self.n_points = X.shape[1]
        self.mean = X.mean(axis=1, dtype=np.float64).astype(np.float32)
        square = np.einsum("ij,ij->i", X, X, dtype=np.float64)
        self.inverse = _inverse(np.sqrt(square))
        self.inverse_window = _inverse(_norms(X[:, self.window]))
        mean = X.mean(axis=1, dtype=np.float64)  # |x - mean|^2 = |x|^2 - G mean^2
        self.inverse_centred = _inverse(np.sqrt(np.maximum(
            square - self.n_points * mean ** 2, 0.0)))
        # Centred, transposed (one row per grid point), window and rest apart: a block's
        # points are then whole rows to copy, or none when it uses all of a part.
        self.parts = tuple(_centred_t(X, keep, self.mean)
                           for keep in (self.window, ~self.window))
        self._rows: dict[int, tuple[bytes, np.ndarray]] = {}

    def rows(self, part: int, keep: np.ndarray) -> np.ndarray:
        """The centred references at the points ``keep`` of ``parts[part]`` (points,
        references), kept for the next block with the same points (a map's blocks)."""
        if keep.all():
            return self.parts[part]
        key = np.packbits(keep).tobytes()
        kept = self._rows.get(part)  # read once: blocks may run in threads side by side
        if kept is None or kept[0] != key:
            kept = (key, self.parts[part][keep])
            self._rows[part] = kept
        return kept[1]

    def similarities(self, queries: np.ndarray) -> Similarities:
        """The three similarities of one block of queries (rows on the library's grid)."""
        Q = np.asarray(queries, dtype=np.float32)
        if Q.ndim != 2 or Q.shape[1] != self.n_points:
            raise ValueError(f"spectra of shape {Q.shape}: expected (n, {self.n_points}) on "
                             "the library's grid")
        used = (Q != 0).any(axis=0)
        inside, outside = used & self.window, used & ~self.window
        part = Q[:, inside] @ self.rows(0, inside[self.window])
        rest = Q[:, outside] @ self.rows(1, outside[~self.window]) if outside.any() else None
        Q64 = Q.astype(np.float64)
        q_sum, q_sum_window = Q64.sum(axis=1), Q64[:, self.window].sum(axis=1)
        q_norm2 = np.einsum("ij,ij->i", Q64, Q64)
        q_window = np.sqrt(np.einsum("ij,ij->i", Q64[:, self.window], Q64[:, self.window]))
        q_centred = np.sqrt(np.maximum(q_norm2 - q_sum ** 2 / self.n_points, 0.0))
        correlation = part + rest if rest is not None else part.copy()
        cosine = correlation + np.outer(q_sum.astype(np.float32), self.mean)
        part += np.outer(q_sum_window.astype(np.float32), self.mean)
        return Similarities(
            cosine=_scaled(cosine, _inverse(np.sqrt(q_norm2)), self.inverse),
            window=_scaled(part, _inverse(q_window), self.inverse_window),
            correlation=_scaled(correlation, _inverse(q_centred), self.inverse_centred))
