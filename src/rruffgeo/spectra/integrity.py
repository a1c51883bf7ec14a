"""Is a cached matrix the one that was written? SHA-256 and finiteness in one streaming pass.

``meta.json`` records the SHA-256 of the matrix's bytes when it is built. A cached
``matrix.npy`` that was edited, half-copied or damaged on disk (or holds NaN/inf from anything
but the builder, which never writes them) would otherwise train to a loss of NaN with exit 0.
The check reads the file once, in blocks of ``CHUNK_BYTES`` (memory stays bounded however large
the matrix), and a file verified in this process is not hashed again until its size, time or
expected digest change: one pass per run, however many stages load the matrix (its cost:
docs/guide.md, "Why the defaults").
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

#: Bytes hashed per block (bounded memory; large enough that numpy's per-call cost vanishes).
CHUNK_BYTES = 16 << 20

_verified: set[tuple[str, int, int, str]] = set()


def matrix_digest(X: np.ndarray, chunk_bytes: int = CHUNK_BYTES) -> tuple[str, int]:
    """SHA-256 of the C-order bytes of ``X`` and the number of rows holding NaN or inf.

    Equals ``hashlib.sha256(np.ascontiguousarray(X).tobytes()).hexdigest()`` without making
    that copy: rows are read ``chunk_bytes`` at a time (a memory-mapped ``X`` stays on disk).
    """
    h = hashlib.sha256()
    bad_rows = 0
    rows = max(1, chunk_bytes // max(1, X[0].nbytes if len(X) else 1))
    for lo in range(0, len(X), rows):
        block = np.ascontiguousarray(X[lo:lo + rows])
        h.update(memoryview(block).cast("B"))
        if block.ndim > 1:
            bad_rows += int((~np.isfinite(block)).any(axis=tuple(range(1, block.ndim))).sum())
        else:
            bad_rows += int((~np.isfinite(block)).sum())
    return h.hexdigest(), bad_rows


def _key(path: Path, sha256: str) -> tuple[str, int, int, str]:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns, sha256


def mark_verified(path: Path, sha256: str) -> None:
    """Remember that ``path`` (just written with this digest) needs no check in this process."""
    _verified.add(_key(path, sha256))


def matrix_problem(path: Path, X: np.ndarray, expected_sha256: object) -> str | None:
    """Why the matrix ``X`` read from ``path`` cannot be trusted, or None when it can.

    No recorded digest, a different digest, or rows with NaN/inf each make it untrusted.
    Verified files are remembered (path, size, mtime, digest) so that later loads are free.
    """
    if not isinstance(expected_sha256, str) or len(expected_sha256) != 64:
        return f"{path}: meta.json records no matrix_sha256"
    key = _key(path, expected_sha256)
    if key in _verified:
        return None
    digest, bad_rows = matrix_digest(X)
    if bad_rows:
        return f"{path}: {bad_rows} row(s) hold NaN or inf"
    if digest != expected_sha256:
        return f"{path}: SHA-256 differs from the one recorded in meta.json (file changed)"
    _verified.add(key)
    return None


__all__ = ["CHUNK_BYTES", "mark_verified", "matrix_digest", "matrix_problem"]
