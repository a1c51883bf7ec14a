"""asLS baselines of many spectra sharing one length, fitted together: pybaselines' ``asls``,
bit for bit, at a fraction of its cost.

Why our own: pybaselines fits one spectrum at a time through LAPACK's banded Cholesky
(``solveh_banded``), whose per-row cost for a band of two is a handful of BLAS calls; a map's
10,000 points took ~20 s there. Here the same factorisation and the same two triangular solves
run row by row over every spectrum at once (NumPy operations along the spectra), with
pybaselines' operations in pybaselines' (LAPACK's) order: the same square roots, the same
reciprocal-then-multiply in the factor, the same divisions in the solves, the same weights
and the same stopping rule per spectrum (each stops at its own iteration). The tests check
equality with pybaselines on random spectra.

Shapes: spectra are rows ``(S, N)``; internally the work is ``(N, S)`` so each step of the
recurrences is one contiguous vector over the spectra.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.linalg import get_lapack_funcs

from rruffgeo.parallel import usable_cores

#: Most spectra per block: large enough that each vector operation outweighs NumPy's call
#: overhead. Blocks are made equal, as many per thread. Any block size gives the same
#: baselines (every operation acts on one spectrum's column only).
BLOCK = 2048


def penalty_bands(n: int, lam: float) -> np.ndarray:
    """``lam`` times the lower bands of D'D, D the (n-2, n) second-difference matrix, in
    ``solveh_banded``'s lower layout (row 0 the diagonal, rows 1-2 the sub-diagonals)."""
    bands = np.zeros((3, n))
    stencil = (1.0, -2.0, 1.0)
    for a in range(3):  # integers: exact, in any order
        for b in range(a + 1):
            bands[a - b, b:b + max(n - 2, 0)] += stencil[a] * stencil[b]
    return lam * bands


def asls_one(y: np.ndarray, lam: float = 1e6, p: float = 1e-2, max_iter: int = 50,
             tol: float = 1e-3) -> np.ndarray:
    """The asLS baseline of one spectrum (N >= 3 finite values), as
    ``pybaselines.Baseline().asls(y, lam, p, max_iter=max_iter, tol=tol)`` gives it: the same
    LAPACK solve (``pbsv``, lower bands) of the same system, weights and stopping rule, without
    the set-up and checks around each solve that cost most of a 2,000-point fit there.
    ValueError when a solve fails (the caller asks pybaselines why)."""
    y = np.asarray(y, dtype=np.float64)
    pen = _penalty(len(y), float(lam))
    weights = np.ones_like(y)
    for _ in range(max_iter + 1):
        ab = pen.copy()
        ab[0] = pen[0] + weights
        _, base, info = _pbsv(ab, weights * y, lower=1, overwrite_ab=1, overwrite_b=1)
        if info != 0:
            raise ValueError(f"asLS: banded solve failed (info {info})")
        new = np.where(y > base, p, 1 - p)
        change = np.linalg.norm(new - weights) / np.maximum(np.linalg.norm(weights),
                                                            np.finfo(float).eps)
        if change < tol:
            break
        weights = new
    return base


@functools.lru_cache(maxsize=64)
def _penalty(n: int, lam: float) -> np.ndarray:
    """``penalty_bands``, kept for the next spectrum of the same length (read-only)."""
    pen = penalty_bands(n, lam)
    pen.flags.writeable = False
    return pen


_pbsv = get_lapack_funcs("pbsv", (np.zeros(1),))


def _solve(pen: np.ndarray, W: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Solve ``(diag(W[:, s]) + P) x = B[:, s]`` for every column ``s`` (P from ``pen``):
    LAPACK's dpbtf2 factor then dpbtrs' two banded triangular solves, in their order. ``B``
    is overwritten with the solution. The loops index lists of row views: indexing an
    array for each of the ~20 operations a point costs more than the operation itself."""
    n, s = W.shape
    D, L1, L2 = np.empty((n, s)), np.empty((n, s)), np.empty((n, s))  # L1[0], L2[:2] unused
    d, l1, l2, w = list(D), list(L1), list(L2), list(W)
    p0, p1, p2 = pen[0].tolist(), pen[1].tolist(), pen[2].tolist()
    diag, nxt, nxt2 = p0[0] + w[0], np.empty(s), np.empty(s)
    off, r, t = np.full(s, p1[0]), np.empty(s), np.empty(s)
    if n > 1:
        np.add(w[1], p0[1], out=nxt)
    for j in range(n):
        np.sqrt(diag, out=d[j])
        if j + 1 == n:
            break
        a = l1[j + 1]
        np.divide(1.0, d[j], out=r)
        np.multiply(off, r, out=a)
        np.multiply(a, a, out=t)
        np.subtract(nxt, t, out=nxt)
        if j + 2 < n:
            b = l2[j + 2]
            np.multiply(r, p2[j], out=b)
            np.multiply(a, b, out=t)
            np.subtract(p1[j + 1], t, out=off)
            np.add(w[j + 2], p0[j + 2], out=nxt2)
            np.multiply(b, b, out=t)
            np.subtract(nxt2, t, out=nxt2)
        diag, nxt, nxt2 = nxt, nxt2, diag
    return _triangular_solves(d, l1, l2, B, t)


def _triangular_solves(d: list[np.ndarray], l1: list[np.ndarray], l2: list[np.ndarray],
                       Z: np.ndarray, t: np.ndarray) -> np.ndarray:
    """L z = b then L' x = z, in place in ``Z`` (OpenBLAS' dtbsv order: divide by the
    diagonal; the transposed solve subtracts a two-term dot product); ``Z`` is overwritten.
    ``d``, ``l1``, ``l2``: the factor's rows (diagonal, first and second sub-diagonal)."""
    n, z = len(d), list(Z)
    for i in range(n):
        np.divide(z[i], d[i], out=z[i])
        if i + 1 < n:
            np.multiply(z[i], l1[i + 1], out=t)
            np.subtract(z[i + 1], t, out=z[i + 1])
        if i + 2 < n:
            np.multiply(z[i], l2[i + 2], out=t)
            np.subtract(z[i + 2], t, out=z[i + 2])
    u = np.empty_like(t)
    for i in range(n - 1, -1, -1):
        if i + 1 < n:
            np.multiply(l1[i + 1], z[i + 1], out=t)
            if i + 2 < n:
                np.multiply(l2[i + 2], z[i + 2], out=u)
                np.add(t, u, out=t)
            np.subtract(z[i], t, out=z[i])
        np.divide(z[i], d[i], out=z[i])
    return Z


def _norms(M: np.ndarray) -> np.ndarray:
    """Euclidean norm of each column as ``np.linalg.norm`` gives it for that column alone."""
    rows = np.ascontiguousarray(M.T)
    return np.array([np.linalg.norm(row) for row in rows])


def _converged(old: np.ndarray, new: np.ndarray, tol: float) -> np.ndarray:
    """Per column, pybaselines' ``relative_difference(old, new) < tol``. The norms are summed
    for all columns at once; only columns whose ratio lies within a relative 1e-6 of ``tol``
    (where the summation order could decide) get ``np.linalg.norm``'s, column by column."""
    eps = np.finfo(float).eps
    change = new - old
    ratio = np.sqrt(np.einsum("ij,ij->j", change, change)) / np.maximum(
        np.sqrt(np.einsum("ij,ij->j", old, old)), eps)
    close = np.flatnonzero(~(np.abs(ratio - tol) > 1e-6 * tol))  # NaN too
    if len(close):
        ratio[close] = _norms(change[:, close]) / np.maximum(_norms(old[:, close]), eps)
    return ratio < tol


def _asls_block(Yt: np.ndarray, pen: np.ndarray, p: float, max_iter: int, tol: float
                ) -> np.ndarray:
    """Baselines (N, S) of the columns of ``Yt``, each stopping at its own iteration."""
    out = np.empty_like(Yt)
    active = np.arange(Yt.shape[1])
    W, Y = np.ones_like(Yt), Yt
    for i in range(max_iter + 1):
        base = _solve(pen, W, W * Y)
        new = np.where(base < Y, p, 1 - p)
        done = _converged(W, new, tol) if i < max_iter else np.ones(len(active), bool)
        out[:, active[done]] = base[:, done]
        if done.all():
            break
        keep = ~done
        active, W, Y = active[keep], new[:, keep], Y[:, keep]
    return out


def asls_many(Y: np.ndarray, lam: float = 1e6, p: float = 1e-2, max_iter: int = 50,
              tol: float = 1e-3, threads: int | None = None) -> np.ndarray:
    """asLS baselines (S, N) of the rows of ``Y`` (S spectra of N finite values each), as
    ``pybaselines.Baseline().asls(y, lam, p, max_iter=max_iter, tol=tol)`` gives each.

    ``threads`` (default: the usable cores, at most 2 blocks' worth) fit blocks of
    ``BLOCK`` spectra side by side; the baselines do not depend on it. Rows that are not
    finite give non-finite baselines; N must be at least 3.
    """
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim != 2 or Y.shape[1] < 3:
        raise ValueError(f"asls_many: expected (spectra, points >= 3), got shape {Y.shape}")
    if not 0 < p < 1:
        raise ValueError("p must be between 0 and 1")
    pen = _penalty(Y.shape[1], float(lam))
    workers = max(1, threads or usable_cores())
    n_blocks = -(-len(Y) // BLOCK)
    n_blocks = -(-n_blocks // workers) * workers  # as many blocks per worker
    size = max(1, -(-len(Y) // max(n_blocks, 1)))
    starts = range(0, len(Y), size)

    def one(lo: int) -> np.ndarray:
        with np.errstate(all="ignore"):
            return _asls_block(np.ascontiguousarray(Y[lo:lo + size].T), pen, p, max_iter,
                               tol).T

    workers = min(workers, len(starts))
    if workers <= 1:
        parts = [one(lo) for lo in starts]
    else:
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(one, starts))
    return np.concatenate(parts) if parts else np.zeros_like(Y)
