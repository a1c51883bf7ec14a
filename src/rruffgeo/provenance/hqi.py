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

from rruffgeo.provenance.library import unit_rows


def correlation_rows(X: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit length: their dot product is the Pearson r."""
    X = np.asarray(X, dtype=np.float32)
    return unit_rows(X - X.mean(axis=1, keepdims=True))


def hqi(queries: np.ndarray, references: np.ndarray) -> np.ndarray:
    """HQI (n_queries, n_references), 0-100 (see the module doc)."""
    return hqi_of_correlation(correlation_rows(np.atleast_2d(queries))
                              @ correlation_rows(np.atleast_2d(references)).T)


def hqi_of_correlation(r: np.ndarray) -> np.ndarray:
    """HQI from Pearson correlations ``r`` (see the module doc): a caller holding them
    (the predictor's similarity pass) needs no second product."""
    return 100.0 * np.square(np.clip(r, 0.0, 1.0))
