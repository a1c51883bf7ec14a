"""Spectra preprocessed together give, bit for bit, what each gives alone.

A map's points share one axis, so the predict path checks, despikes and fits the asLS
baselines of all of them at once (``spectra/asls.py``, ``despike_rows``, ``AutoRule.rows``).
The references here are pybaselines itself and the per-spectrum code the batch replaced.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from rruffgeo.spectra import asls
from rruffgeo.spectra.preprocess import AutoRule, despike_rows
from rruffgeo.spectra.spectrum import Spectrum


def _spectra(n_spectra: int, n_points: int, seed: int) -> np.ndarray:
    """Bands on sloped and curved backgrounds, noise and a spike or two: what a map holds."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, 1.0, n_points)
    band = np.exp(-0.5 * ((x[None] - rng.uniform(0.2, 0.8, (n_spectra, 1))) / 0.01) ** 2)
    Y = (rng.uniform(10, 1000, (n_spectra, 1)) * band
         + rng.uniform(0, 500, (n_spectra, 1)) * x[None]
         + rng.uniform(0, 300, (n_spectra, 1)) * np.sin(3 * x[None])
         + rng.normal(0, 2, (n_spectra, n_points)))
    Y[np.arange(n_spectra), rng.integers(0, n_points, n_spectra)] += 4000
    return Y


def _pybaselines(Y: np.ndarray, **kw) -> np.ndarray:
    from pybaselines import Baseline

    fitter = Baseline(x_data=np.arange(Y.shape[1], dtype=float))
    return np.array([fitter.asls(y, **kw)[0] for y in Y])


@pytest.mark.parametrize(("n_spectra", "n_points", "lam"), [
    (40, 600, 1e6), (7, 8, 1e6), (5, 3, 1e2), (12, 1015, 1e3), (3, 257, 1e9)])
def test_asls_many_is_pybaselines_bit_for_bit(n_spectra, n_points, lam):
    Y = _spectra(n_spectra, n_points, seed=n_points)
    Y[0] = 7.5  # a constant spectrum
    fast = asls.asls_many(Y, lam=lam)
    slow = _pybaselines(Y, lam=lam)
    assert fast.tobytes() == slow.tobytes()


@pytest.mark.parametrize(("n_points", "lam"), [(3, 1e2), (8, 1e6), (600, 1e6), (2417, 1e6),
                                               (257, 1e9)])
def test_asls_one_is_pybaselines_bit_for_bit(n_points, lam):
    """The one-spectrum fit (a folder of files, each on its own axis) against pybaselines:
    many iterations, few, none, and a constant spectrum."""
    Y = _spectra(6, n_points, seed=n_points + 1)
    Y[0] = 7.5
    for max_iter, tol in ((50, 1e-3), (2, 1e-9), (0, 1e-3)):
        for y in Y:
            fast = asls.asls_one(y, lam=lam, max_iter=max_iter, tol=tol)
            slow = _pybaselines(y[None], lam=lam, max_iter=max_iter, tol=tol)[0]
            assert fast.tobytes() == slow.tobytes()


def test_few_rows_on_an_axis_fit_as_pybaselines_does():
    from rruffgeo.spectra.preprocess import BATCH_MIN, fit_baseline_rows

    Y = _spectra(BATCH_MIN - 1, 300, seed=5)
    x = np.linspace(100.0, 1500.0, 300)
    fitted = fit_baseline_rows(x, Y, "asls", 1e6, ["f.txt"] * len(Y))
    assert fitted.tobytes() == _pybaselines(Y, lam=1e6).tobytes()


def test_asls_many_stops_each_spectrum_at_its_own_iteration():
    """Spectra that need few and many iterations, and one that runs out of them."""
    Y = _spectra(20, 300, seed=9)
    Y[5] = np.random.default_rng(2).normal(0, 1, 300).cumsum() * 50  # a random walk
    for max_iter, tol in ((50, 1e-3), (3, 1e-9), (0, 1e-3)):
        fast = asls.asls_many(Y, max_iter=max_iter, tol=tol)
        assert fast.tobytes() == _pybaselines(Y, max_iter=max_iter, tol=tol).tobytes()


def test_asls_many_does_not_depend_on_blocks_or_threads(monkeypatch):
    Y = _spectra(23, 200, seed=4)
    want = asls.asls_many(Y, threads=1)
    for block, threads in ((1, 1), (5, 2), (7, 3), (64, 2)):
        monkeypatch.setattr(asls, "BLOCK", block)
        assert asls.asls_many(Y, threads=threads).tobytes() == want.tobytes()


def test_asls_convergence_test_is_pybaselines_at_the_boundary():
    """Norms summed for all spectra at once, and column by column where they decide."""
    rng = np.random.default_rng(5)
    old = rng.random((300, 40))
    new = np.where(rng.random((300, 40)) < 0.5, 0.01, 0.99)
    eps = np.finfo(float).eps
    exact = np.array([np.linalg.norm(n - o) / max(np.linalg.norm(o), eps)
                      for n, o in zip(np.ascontiguousarray(new.T), np.ascontiguousarray(old.T),
                                      strict=True)])
    for tol in (exact[3], np.nextafter(exact[3], 0), np.nextafter(exact[3], 2), 1e-3, 2.0):
        np.testing.assert_array_equal(asls._converged(old, new, tol), exact < tol)


def test_asls_many_edge_cases():
    Y = _spectra(3, 50, seed=1)
    Y[1, 10] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's invalid-value warnings stay quiet
        out = asls.asls_many(Y)
    assert not np.isfinite(out[1]).all()  # a NaN spreads through its own row only
    assert out[[0, 2]].tobytes() == _pybaselines(Y[[0, 2]]).tobytes()
    assert asls.asls_many(np.zeros((0, 10))).shape == (0, 10)
    for bad in (np.zeros((2, 2)), np.zeros(5)):
        with pytest.raises(ValueError, match="points >= 3"):
            asls.asls_many(bad)
    with pytest.raises(ValueError, match="p must be"):
        asls.asls_many(Y, p=1.0)


def reference_despike(y: np.ndarray, threshold: float = 6.0, window: int = 2) -> np.ndarray:
    """What ``despike`` did, one spike at a time."""
    if len(y) < 2 * window + 3:
        return y.copy()
    diff = np.diff(y)
    mad = np.median(np.abs(diff - np.median(diff))) or 1e-12
    z = 0.6745 * (diff - np.median(diff)) / mad
    spikes = np.zeros(len(y), dtype=bool)
    spikes[1:] |= np.abs(z) > threshold
    out = y.copy()
    for i in np.flatnonzero(spikes):
        lo, hi = max(0, i - window), min(len(y), i + window + 1)
        keep = [j for j in range(lo, hi) if not spikes[j]]
        if keep:
            out[i] = y[keep].mean()
    return out


@pytest.mark.parametrize("n_points", [4, 7, 60, 333])
def test_despike_rows_is_the_one_spike_at_a_time_code(n_points):
    rng = np.random.default_rng(n_points)
    Y = rng.normal(0, 1, (30, n_points)) * 10 ** rng.uniform(-3, 4, (30, 1))
    for row in Y[:20]:  # single spikes, runs of spikes, spikes at the ends
        at = rng.integers(0, n_points, rng.integers(1, 5))
        row[at] += rng.uniform(50, 500, len(at)) * np.abs(row).max()
    Y[20, n_points // 2:n_points // 2 + 3] += 1e4 * np.abs(Y[20]).max()
    Y[21] = 3.0  # constant: a zero MAD
    for threshold, window in ((6.0, 2), (3.0, 1), (4.0, 3)):
        got = despike_rows(Y, threshold, window)
        for g, y in zip(got, Y, strict=True):
            assert g.tobytes() == reference_despike(y, threshold, window).tobytes()


@pytest.mark.parametrize("rule", [AutoRule(), AutoRule(share=0.05), AutoRule(despike=False),
                                  AutoRule(min_shift_cm1=None, method="none")])
def test_auto_rule_on_rows_is_the_rule_one_spectrum_at_a_time(rule):
    x = np.linspace(60.0, 1400.0, 500)
    Y = _spectra(asls_batch() + 3, len(x), seed=2)
    Y[3] = Y[3, 0]  # flat
    Y[4] *= 1e-6
    xs, rows = rule.rows(x, Y, [f"map#{i}" for i in range(len(Y))])
    for i, y in enumerate(Y):
        one = rule(Spectrum(x, y, {"source": f"map#{i}"}))
        assert one.wavenumber_cm1.tobytes() == xs.tobytes()
        assert one.intensity.tobytes() == rows[i].tobytes()


def asls_batch() -> int:
    from rruffgeo.spectra.preprocess import BATCH_MIN

    return BATCH_MIN


def _map_items(n: int, seed: int, descending: bool = False) -> list:
    rng = np.random.default_rng(seed)
    x = np.linspace(50.0, 1600.0, 800)
    if descending:  # as many WDF files store the axis
        x = x[::-1].copy()
    Y = _spectra(n, len(x), seed)
    Y[2] = 0.0  # flat: refused
    Y[5, 100] = np.nan  # not finite: refused
    Y[7] *= rng.uniform(1e-3, 1e3)
    items = [Spectrum(x, y, {"source": f"map.wdf#{i + 1}"}) for i, y in enumerate(Y)]
    return items[:20] + [("gap.txt", "unreadable")] + items[20:]


@pytest.mark.parametrize("preprocess", ["auto", "none", "despike"])
@pytest.mark.parametrize("descending", [False, True])
def test_a_map_prepared_together_is_each_point_alone(preprocess, descending):
    from rruffgeo.spectra.prepare import prepare_all
    from rruffgeo.spectra.preprocess import parse_steps
    from test_predict_speed import reference_prepare_all

    grid = np.linspace(0.0, 1700.0, 512)
    steps = parse_steps(preprocess)
    items = _map_items(asls_batch() + 30, seed=11, descending=descending)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = prepare_all(items, grid, True, steps)
        slow = reference_prepare_all(items, grid, True, steps)
    assert fast.names == slow.names and len(fast.names) == len(items) - 3
    assert fast.refused == slow.refused and len(fast.refused) == 3
    assert fast.warnings == slow.warnings
    for a, b in zip(fast.rows, slow.rows, strict=True):
        assert a.tobytes() == b.tobytes()


def test_a_wdf_map_reads_as_the_reader_reads_each_spectrum(tmp_path):
    pytest.importorskip("wdf", reason="renishaw-wdf not installed")
    import io
    import sys
    from pathlib import Path

    from wdf import Wdf

    from rruffgeo.spectra.readers.binary import read_wdf

    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    from bench_predict import NCAL, write_wdf_map

    data = write_wdf_map(NCAL.with_suffix(".wdf"), tmp_path / "map.wdf", 25).read_bytes()
    spectra = read_wdf(data, "map.wdf")
    with Wdf() as wdf:
        wdf.open_fd(io.BytesIO(data))
        want = [np.asarray(wdf.spectrum(i), dtype=np.float64) for i in range(25)]
    assert [s.source for s in spectra] == [f"map.wdf#{i}" for i in range(1, 26)]
    for s, y in zip(spectra, want, strict=True):
        assert s.intensity.tobytes() == y.tobytes()
        assert s.wavenumber_cm1.tobytes() == spectra[0].wavenumber_cm1.tobytes()
    with pytest.raises(ValueError, match="not a readable WDF file"):
        read_wdf(data[:-4000], "cut.wdf")  # the file cut short
