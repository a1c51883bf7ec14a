"""Leave-specimen-out nearest-neighbour matching on the spectra matrix, for measurements.

The raw-twin and cross-instrument measurements ask how well a spectrum finds its species and
country among reference spectra of *other* specimens, with no model in between (cosine on the
grid, a country vote of the k nearest specimens), so that what they measure is the spectra
themselves. Their choices are made on one half of the specimens and reported on the other:
``split_specimens`` draws the halves, ``first_best`` picks with a tie margin.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from rruffgeo.provenance.library import stable_top

#: A later (more elaborate) choice replaces the best so far only when it gains more than this
#: on the choose half: on a tie the simpler, earlier choice stays.
MIN_GAIN = 0.005
#: Neighbours kept per query: enough to find k distinct specimens with a country.
DEPTH = 400


def split_specimens(specimens: np.ndarray, seed: int) -> np.ndarray:
    """True for rows whose specimen falls in the "choose" half (half the specimens, seeded)."""
    unique = np.unique(np.asarray(specimens).astype(str))
    chosen = np.random.default_rng(seed).permutation(unique)[: len(unique) // 2]
    return np.isin(np.asarray(specimens).astype(str), chosen)


def specimen_countries(geocoded: pd.DataFrame) -> pd.Series:
    """specimen_id -> ISO3 of every natural specimen with a country (synthetic ones left out:
    their "locality" is a laboratory)."""
    iso = geocoded["country_iso3"].fillna("").astype(str)
    natural = geocoded[iso.ne("") & ~geocoded["synthetic"].fillna(False).astype(bool)]
    return natural.drop_duplicates("specimen_id").set_index("specimen_id")["country_iso3"]


def nearest(Q: np.ndarray, L: np.ndarray, lib_specimens: np.ndarray, exclude: np.ndarray,
            libmask: np.ndarray | None = None, depth: int = DEPTH) -> np.ndarray:
    """Per query (unit rows ``Q``), the ``depth`` nearest library rows of ``L`` (unit rows)
    by cosine, best first, the query's own specimen (``exclude``) and rows outside
    ``libmask`` left out; -1 pads where fewer rows are left."""
    depth = max(1, min(depth, len(L)))
    out = np.full((len(Q), depth), -1, dtype=np.int64)
    for lo in range(0, len(Q), 256):
        sims = Q[lo:lo + 256] @ L.T
        if libmask is not None:
            sims[:, ~libmask] = -np.inf
        sims[lib_specimens[None, :] == exclude[lo:lo + 256, None]] = -np.inf
        top = stable_top(sims, depth)
        out[lo:lo + 256] = np.where(np.isfinite(np.take_along_axis(sims, top, 1)), top, -1)
    return out


def country_votes(order: np.ndarray, lib_specimens: np.ndarray, countries: pd.Series,
                  classes: Sequence[str], k: int) -> np.ndarray:
    """Per query, the share of each country among its k nearest reference specimens that
    have one (a row of zeros when none has); ``order`` rows end at their first -1."""
    index = {c: i for i, c in enumerate(classes)}
    country = countries.reindex(lib_specimens).to_numpy()
    votes = np.zeros((len(order), len(classes)))
    for q, rows in enumerate(order):
        seen: set[str] = set()
        for row in rows:
            if row < 0:
                break
            if lib_specimens[row] in seen or not isinstance(country[row], str):
                continue
            seen.add(lib_specimens[row])
            votes[q, index[country[row]]] += 1
            if len(seen) == k:
                break
    return votes / np.maximum(votes.sum(1, keepdims=True), 1)


def first_best(scores: Sequence[float], min_gain: float = MIN_GAIN) -> int:
    """Index of the best score, earlier entries kept unless beaten by more than ``min_gain``."""
    best = 0
    for i, score in enumerate(scores[1:], 1):
        if score > scores[best] + min_gain:
            best = i
    return best
