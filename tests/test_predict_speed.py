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


def _library(n_refs: int, n_specimens: int, seed: int) -> ReferenceLibrary:
    rng = np.random.default_rng(seed)
    sid = [f"S{rng.integers(n_specimens):03d}" for _ in range(n_refs)]
    meta = pd.DataFrame({"spectrum_id": [f"f{i}.txt" for i in range(n_refs)],
                         "specimen_id": sid, "mineral": "Quartz", "locality": "Mine",
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
