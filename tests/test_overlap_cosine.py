"""The overlap cosine of ``benchmarks/overlap_cosine.py``: beta 1 is the plain cosine, beta 0
ignores what a spectrum holds outside the other's measured range."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from overlap_cosine import extents, overlap_cosine  # noqa: E402


def test_beta_one_is_the_cosine_and_beta_zero_compares_the_common_range_only():
    rng = np.random.default_rng(0)
    band = rng.random(40) + 0.1
    twin = np.zeros(60)
    twin[20:60] = band  # measured from column 20 on
    raw = np.zeros(60)
    raw[5:60] = np.concatenate([rng.random(15) + 0.1, band])  # the same, plus a low stretch
    other = rng.random((3, 60))
    L = np.vstack([twin, other])
    Q = raw[None, :]
    assert extents(L)[0][0] == 20 and extents(Q)[1][0] == 60
    plain = (Q @ L.T) / np.linalg.norm(Q) / np.linalg.norm(L, axis=1)
    assert np.allclose(overlap_cosine(Q, L, 1.0), plain)
    zero = overlap_cosine(Q, L, 0.0)
    assert np.isclose(zero[0, 0], 1.0)  # on the twin's range the raw side is the twin
    assert plain[0, 0] < 0.999 and zero[0, 0] > plain[0, 0]
    assert overlap_cosine(np.zeros((1, 60)), L, 0.0).tolist() == [[0.0] * 4]
