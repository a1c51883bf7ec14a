"""Hit Quality Index (HQI), the match score library-search software reports beside a hit.

Torch-free. Our similarity is the cosine of two spectra on the model's grid; commercial search
(Thermo OMNIC's correlation search, KnowItAll's HQI) reports the squared Pearson correlation
scaled to 0-100 instead, which a mineralogist reads without translation:

    r   = sum((q - mean q) (x - mean x)) / sqrt(sum((q - mean q)^2) sum((x - mean x)^2))
    HQI = 100 * r^2  when r > 0, else 0

over all points of the model's grid (each spectrum resampled and min-max normalised as the
library is). A negative correlation is not a match, so it gives 0 rather than its square.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rruffgeo.provenance.library import ReferenceLibrary, species_key, unit_rows


def correlation_rows(X: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit length: their dot product is the Pearson r."""
    X = np.asarray(X, dtype=np.float32)
    return unit_rows(X - X.mean(axis=1, keepdims=True))


def hqi(queries: np.ndarray, references: np.ndarray) -> np.ndarray:
    """HQI (n_queries, n_references), 0-100 (see the module doc)."""
    r = correlation_rows(np.atleast_2d(queries)) @ correlation_rows(
        np.atleast_2d(references)).T
    return 100.0 * np.square(np.clip(r, 0.0, 1.0))


def species_hqi(library: ReferenceLibrary, spectra: np.ndarray,
                species: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """Each species table with an ``hqi`` column after ``similarity``: the best HQI of the
    query against that species' reference spectra."""
    scores = hqi(spectra, library.X)
    out = []
    for row, table in zip(scores, species, strict=True):
        table = table.copy()
        best = [float(row[library.species == species_key(name)].max(initial=0.0))
                for name in table["species"]]
        table.insert(int(table.columns.get_loc("similarity")) + 1, "hqi", best)
        out.append(table)
    return out

