"""The learned novelty's match features (mix residual, peaks, bands, density) and its trees."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.optimize import nnls

from rruffgeo.provenance.novelty_match import (
    PEAK_TOL,
    band_edges,
    band_shares,
    library_peaks,
    mix_residual,
    peak_matching,
    peak_weights,
)
from rruffgeo.provenance.novelty_trees import BoostedTrees, fit_trees

GRID = np.linspace(0, 2000, 800)


def _bands(centres: list[float], width: float = 6.0) -> np.ndarray:
    return sum(np.exp(-0.5 * ((GRID - c) / width) ** 2) for c in centres).astype(np.float32)


def test_mix_residual_is_zero_for_a_mix_one_for_a_stranger_and_agrees_with_nnls() -> None:
    R = np.vstack([_bands([300]), _bands([700]), _bands([1500]), _bands([1100])])
    mix = 0.3 * R[0] + 2.0 * R[2]
    stranger = _bands([500, 1800])
    negative = R[0] - R[1]  # needs a negative weight: only the R[0] part is explained
    idx = np.tile(np.arange(4), (3, 1))
    res = mix_residual(np.vstack([mix, stranger, negative]), R, idx)
    assert res[0] == pytest.approx(0.0, abs=1e-5)
    assert res[1] == pytest.approx(1.0, abs=1e-3)
    assert res[2] == pytest.approx(0.5, abs=1e-2)
    rng = np.random.default_rng(0)
    A, q = rng.random((10, 200)).astype(np.float32), rng.random(200).astype(np.float32)
    expected = nnls(A.T.astype(float), q.astype(float))[1] ** 2 / float(q @ q)
    got = mix_residual(q[None, :], A, np.arange(10)[None, :])[0]
    assert got == pytest.approx(expected, rel=1e-3)
    assert mix_residual(np.zeros((1, 200)), A, np.arange(10)[None, :])[0] == 1.0


def test_peaks_match_a_copy_and_not_a_shifted_spectrum() -> None:
    ref = _bands([300, 800, 1400])
    W = peak_weights(ref[None, :])
    assert np.count_nonzero(W) == 3 and np.isclose(W.max(), 1.0, atol=0.05)
    lib = np.vstack([ref, _bands([200, 1000])])
    shifted = _bands([330, 830, 1430])  # 30 cm-1 = 12 grid points, beyond the tolerance
    mostly_second = _bands([300, 200, 1000])  # one peak of the nearest, two of the next
    idx = np.tile([0, 1], (3, 1))
    m = peak_matching(np.vstack([ref, shifted, mostly_second]), idx, library_peaks(lib))
    best, first, back, f1 = m.T
    assert best[0] == pytest.approx(1.0) and first[0] == pytest.approx(1.0)
    assert back[0] == pytest.approx(1.0) and f1[0] == pytest.approx(1.0, abs=1e-6)
    assert best[1] == 0.0 and back[1] == 0.0
    assert best[2] == pytest.approx(2 / 3, abs=0.01) and first[2] == pytest.approx(1 / 3, abs=0.01)
    assert back[2] == pytest.approx(1.0, abs=0.01) and f1[2] == pytest.approx(0.8, abs=0.01)
    near = _bands([300 + (PEAK_TOL - 1) * (GRID[1] - GRID[0])])
    assert peak_matching(near[None, :], idx[:1], library_peaks(lib))[0, 1] == 1.0


def test_band_shares_sum_to_one_and_sit_where_the_intensity_is() -> None:
    edges = band_edges(GRID)
    s = band_shares(np.vstack([_bands([100]), _bands([1000, 1900]), np.zeros(len(GRID))]),
                    edges)
    assert s.shape == (3, 7)
    assert np.allclose(s[:2].sum(axis=1), 1.0) and np.allclose(s[2], 0.0)
    assert s[0, 0] > 0.99 and s[1, 2] == pytest.approx(0.5, abs=0.01)
    assert s[1, 4] == pytest.approx(0.5, abs=0.01)  # 1,700-2,700 cm-1


def test_trees_evaluate_as_sklearn_does_and_survive_plain_json() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    from rruffgeo.provenance.novelty_trees import tree_params

    rng = np.random.default_rng(1)
    F = rng.normal(size=(600, 5))
    y = (F[:, 0] * F[:, 1] + 0.3 * rng.normal(size=600)) > 0
    trees = fit_trees(F, y, seed=0)
    clf = HistGradientBoostingClassifier(random_state=0, **tree_params(600)).fit(F, y)
    assert tree_params(600)["min_samples_leaf"] == 12
    assert tree_params(10**5)["min_samples_leaf"] == 40
    test = rng.normal(size=(200, 5))
    np.testing.assert_allclose(trees.proba(test), clf.predict_proba(test)[:, 1], atol=1e-9)
    again = BoostedTrees.from_json(json.loads(json.dumps(trees.to_json())))
    np.testing.assert_allclose(again.proba(test), trees.proba(test), atol=1e-6)
    assert ((again.proba(test) > 0.5) == (test[:, 0] * test[:, 1] > 0)).mean() > 0.8
    bad = trees.to_json()
    bad["trees"][0]["left"][0] = 10_000
    with pytest.raises(ValueError, match="malformed tree"):
        BoostedTrees.from_json(bad)
    with pytest.raises(ValueError, match="in-library and out-of-library"):
        fit_trees(F, np.ones(600, bool), seed=0)
