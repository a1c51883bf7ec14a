"""The vectorised predict path gives exactly what the per-spectrum code it replaced gave.

Each reference below is the replaced code, kept verbatim: the fast code must match it bit for
bit (ties, duplicates and short rows included), so speed never changes an answer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rruffgeo.provenance.library import SPECIMEN_COLUMNS, ReferenceLibrary


def reference_nearest_specimens(lib: ReferenceLibrary, sims: np.ndarray, n: int
                                ) -> list[pd.DataFrame]:
    """What ``nearest_specimens`` did: a full stable sort of every row."""
    specimen = lib.meta["specimen_id"].to_numpy()
    out = []
    for row in sims:
        order = np.argsort(-row, kind="stable")
        _, first = np.unique(specimen[order], return_index=True)
        picks = order[np.sort(first)[:n]]
        df = lib.meta.iloc[picks][SPECIMEN_COLUMNS[1:-2] + ["spectrum_id"]].copy()
        df.insert(0, "rank", np.arange(1, len(picks) + 1))
        df.insert(len(SPECIMEN_COLUMNS) - 2, "similarity", row[picks])
        out.append(df.reset_index(drop=True)[SPECIMEN_COLUMNS])
    return out


def reference_species_match(lib: ReferenceLibrary, sims: np.ndarray, top_k: int
                            ) -> list[pd.DataFrame]:
    """What ``species_match`` did: a table built per query."""
    codes, uniques = pd.factorize(lib.species)
    order = np.argsort(codes, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(codes[order])) + 1]
    best = np.maximum.reduceat(sims[:, order], starts, axis=1)
    names = lib.meta["mineral"].groupby(codes).first().to_numpy()
    n_spec = lib.meta.groupby(codes)["specimen_id"].nunique().to_numpy()
    k = min(top_k, len(uniques))
    out = []
    for row in best:
        top = np.argsort(-row, kind="stable")[:k]
        out.append(pd.DataFrame({"rank": np.arange(1, k + 1), "species": names[top],
                                 "similarity": row[top], "n_specimens": n_spec[top]}))
    return out


def _library(n_refs: int, n_specimens: int, seed: int) -> ReferenceLibrary:
    rng = np.random.default_rng(seed)
    sid = [f"S{rng.integers(n_specimens):03d}" for _ in range(n_refs)]
    meta = pd.DataFrame({"spectrum_id": [f"f{i}.txt" for i in range(n_refs)],
                         "specimen_id": sid,
                         "mineral": [f"Min{int(x[1:]) % 7}" for x in sid], "locality": "Mine",
                         "country_iso3": "ITA", "country_name": "Italy",
                         "lat": rng.normal(size=n_refs), "lon": np.nan})
    return ReferenceLibrary(rng.random((n_refs, 32)), meta, np.arange(32.0))


@pytest.mark.parametrize(("n_refs", "n_specimens", "n", "decimals"), [
    (300, 120, 10, 6),   # few ties: the partition settles most rows
    (300, 120, 10, 1),   # many ties at the m-th similarity: rows fall back to the full sort
    (50, 4, 10, 3),      # fewer specimens than asked
    (2000, 1500, 25, 2),  # a larger m settles them after the first try
])
def test_nearest_specimens_match_the_full_sort(n_refs, n_specimens, n, decimals):
    lib = _library(n_refs, n_specimens, seed=n_refs + decimals)
    queries = np.random.default_rng(1).random((70, 32))
    sims = np.round(lib.similarities(queries), decimals).astype(np.float32)
    sims[3] = 0.5  # one row all tied
    fast = lib.nearest_specimens(sims, n)
    slow = reference_nearest_specimens(lib, sims, n)
    assert len(fast) == len(slow) == len(sims)
    for a, b in zip(fast, slow, strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    for top_k in (3, 20):  # 20: more than the 7 species
        fast = lib.species_match(sims, top_k)
        slow = reference_species_match(lib, sims, top_k)
        assert len(fast) == len(slow) == len(sims)
        for a, b in zip(fast, slow, strict=True):
            pd.testing.assert_frame_equal(a, b, check_exact=True)


def reference_prepare_all(items, grid, minmax=True, steps=()):
    """What ``prepare_all`` did: ``prepare_row`` one spectrum at a time."""
    from rruffgeo.spectra.prepare import Prepared, prepare_row

    out = Prepared()
    for item in items:
        if isinstance(item, str):
            out.warnings.append(item)
            continue
        if isinstance(item, tuple):
            out.refused.append(item)
            continue
        try:
            row, notes = prepare_row(item, grid, minmax, steps)
        except ValueError as exc:
            out.refused.append((item.source, str(exc)))
            continue
        out.names.append(item.source)
        out.rows.append(row)
        out.spectra.append(item)
        out.warnings.extend(notes)
    return out


def _mixed_items():
    """A map's points on one axis, files on their own axes, and ones refused on the way."""
    from rruffgeo.spectra.spectrum import Spectrum

    rng = np.random.default_rng(3)
    x = np.linspace(80.0, 1500.0, 700)
    peak = np.exp(-0.5 * ((x - 465) / 8) ** 2)
    items = []
    for i in range(40):
        y = 1000 * peak * rng.uniform(0.5, 2) + rng.uniform(0, 300) * x / 1500 \
            + rng.normal(0, 5, len(x))
        y[rng.integers(len(x))] += 5000  # a cosmic ray
        items.append(Spectrum(x, y, {"source": f"map.wdf#{i + 1}"}))
        if i % 9 == 0:
            items.append(f"note {i}")
            items.append((f"bad{i}.spc", "unreadable"))
    for i in range(6):  # own axes, one descending, one only a fragment of the window
        xi = np.linspace(100.0 + 10 * i, 1200.0 + 50 * i, 500 + i)[::-1 if i == 2 else 1]
        items.append(Spectrum(xi, np.cos(xi / 50) + 2 + rng.normal(0, 0.01, len(xi)),
                              {"source": f"file{i}.txt"}))
    items.append(Spectrum(x, np.zeros_like(x), {"source": "flat.txt"}))
    items.append(Spectrum(x[:300], peak[:300] + 1, {"source": "short.txt"}))
    return items


@pytest.mark.parametrize("preprocess", ["none", "auto", "despike,smooth:7,crop:900-1450"])
@pytest.mark.parametrize("minmax", [True, False])
def test_prepare_all_matches_one_spectrum_at_a_time(preprocess, minmax):
    import warnings

    from rruffgeo.spectra.prepare import prepare_all
    from rruffgeo.spectra.preprocess import parse_steps

    grid = np.linspace(0.0, 1700.0, 512)
    steps = parse_steps(preprocess)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = prepare_all(_mixed_items(), grid, minmax, steps)
        slow = reference_prepare_all(_mixed_items(), grid, minmax, steps)
    assert fast.names == slow.names and len(fast.names) > 40
    assert fast.refused == slow.refused and len(fast.refused) >= 5
    assert fast.warnings == slow.warnings
    np.testing.assert_array_equal(fast.matrix(len(grid)), slow.matrix(len(grid)))
    for a, b in zip(fast.rows, slow.rows, strict=True):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("method", ["arpls", "aspls", "asls"])
def test_baseline_fitter_kept_for_one_axis_fits_as_a_fresh_one(method):
    from pybaselines import Baseline

    from rruffgeo.spectra.preprocess import baseline
    from rruffgeo.spectra.spectrum import Spectrum

    rng = np.random.default_rng(5)
    axes = [np.linspace(100.0, 1400.0, 400), np.linspace(150.0, 1300.0, 380)]
    for k in range(12):  # the axis changes now and then: the kept fitter must follow it
        x = axes[(k // 4) % 2]
        y = 500 * np.exp(-0.5 * ((x - 700) / 9) ** 2) + rng.uniform(0, 200) * x / 1400 \
            + rng.normal(0, 3, len(x))
        got = baseline(Spectrum(x, y, {"source": f"s{k}"}), method, lam=1e4).intensity
        fresh = y - getattr(Baseline(x_data=x), method)(y, lam=1e4)[0]
        assert got.tobytes() == fresh.tobytes()
