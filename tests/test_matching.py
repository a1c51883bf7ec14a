"""Species matching compares spectra over the matching window only."""

import numpy as np
import pandas as pd

from rruffgeo.provenance.library import MATCH_MAX_SHIFT_CM1, ReferenceLibrary, match_window

GRID = np.linspace(100, 4000, 800)


def _band(center: float, height: float = 1.0, width: float = 10.0) -> np.ndarray:
    return height * np.exp(-0.5 * ((GRID - center) / width) ** 2)


def _library() -> ReferenceLibrary:
    """Quartz shares the query's fingerprint band; Brucite only its big OH-stretch band."""
    X = np.stack([_band(465), _band(900) + _band(3650, 5.0)])
    meta = pd.DataFrame({"spectrum_id": ["q.txt", "b.txt"], "specimen_id": ["R1", "R2"],
                         "mineral": ["Quartz", "Brucite"], "locality": ["", ""],
                         "country_iso3": ["BRA", "USA"], "country_name": ["Brazil", "USA"],
                         "lat": [np.nan, np.nan], "lon": [np.nan, np.nan]})
    return ReferenceLibrary(X, meta, GRID)


def test_matching_ignores_what_lies_above_the_window():
    query = (_band(465) + _band(3650, 5.0))[None, :]
    lib = _library()
    top = lib.species_match(lib.similarities(query), top_k=2)[0]
    assert MATCH_MAX_SHIFT_CM1 < 3650
    assert top["species"].tolist() == ["Quartz", "Brucite"]
    assert top["similarity"].iloc[0] > 0.99


def test_match_window_zeroes_only_the_columns_above():
    X = np.ones((2, len(GRID)), np.float32)
    out = match_window(X, GRID, 1500.0)
    assert out[:, GRID <= 1500].all() and not out[:, GRID > 1500].any()
    np.testing.assert_array_equal(match_window(X, GRID, None), X)
