"""Species and country matching within and across RRUFF's two instruments.

The processed spectra of the high-resolution ``Raman`` instrument and of the low-resolution
LR-Raman ``Broad_Scan`` are each used as test spectra against a library of one instrument's
spectra (or both), always with the test spectrum's whole specimen left out. Per cell: top-1
species; for natural specimens with a country, the top-1 and top-3 country of the k nearest
reference specimens' vote, beside the library's majority countries. Treatments of the matrix
rows (the whole grid, the library's matching window, smoothing) are chosen on the "choose"
half of the specimens (seeded) by top-1 species against the whole library (a later one must
gain more than ``MIN_GAIN``); the cells are reported on the other half.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter1d

from rruffgeo.data.naming import TECHNIQUES
from rruffgeo.provenance.knn_eval import (
    MIN_GAIN,
    country_votes,
    first_best,
    nearest,
    specimen_countries,
    split_specimens,
)
from rruffgeo.provenance.library import MATCH_MAX_SHIFT_CM1, match_window, species_key, unit_rows
from rruffgeo.provenance.rawtwins import INPUTS, matrix_rows, read_catalog
from rruffgeo.results import CellScores, CrossInstrumentTable, TreatmentScores, cached_record
from rruffgeo.workdir import GEOCODED, MATRIX, file_key, files_digest

if TYPE_CHECKING:
    from rruffgeo.workdir import WorkDir

INSTRUMENTS = TECHNIQUES
LIBRARIES = (*TECHNIQUES, "both")
#: Changes whenever what is measured changes, so older cached tables are recomputed.
VERSION = 1

#: What each treatment does, for the tables.
LABELS = {"none": "the whole grid",
          "crop-1500": f"compare up to {MATCH_MAX_SHIFT_CM1:g} cm-1 only (the library's window)",
          **{f"smooth-raman-{s:g}": f"smooth Raman rows, sigma {s:g} cm-1" for s in (2, 4, 8)},
          **{f"smooth-all-{s:g}": f"smooth all rows, sigma {s:g} cm-1" for s in (2, 4)}}
#: Treatments measured by default: the whole grid, and the window matching uses.
DEFAULT_TREATMENTS = ("none", "crop-1500")


def smoothed(X: np.ndarray, rows: np.ndarray, sigma_cm1: float, step: float) -> np.ndarray:
    """``X`` with ``rows`` blurred by a Gaussian of ``sigma_cm1`` (the padding kept at 0)."""
    out = X.copy()
    if sigma_cm1 > 0 and rows.any():
        blurred = gaussian_filter1d(X[rows], sigma_cm1 / step, axis=1, mode="constant")
        out[rows] = np.where(X[rows] > 0, blurred, 0.0)
    return out


def treatments(technique: np.ndarray, grid: np.ndarray
               ) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Candidate treatments of the matrix rows, by key (see ``LABELS``)."""
    step = float(grid[1] - grid[0])
    high = technique == "Raman"
    every = np.ones(len(technique), bool)
    out: dict[str, Callable[[np.ndarray], np.ndarray]] = {"none": lambda X: X}
    out["crop-1500"] = lambda X: match_window(X, grid, MATCH_MAX_SHIFT_CM1)
    for sigma in (2.0, 4.0, 8.0):
        out[f"smooth-raman-{sigma:g}"] = lambda X, s=sigma: smoothed(X, high, s, step)
    for sigma in (2.0, 4.0):
        out[f"smooth-all-{sigma:g}"] = lambda X, s=sigma: smoothed(X, every, s, step)
    return out


def cell_scores(order: np.ndarray, keep: np.ndarray, cat: pd.DataFrame, countries: pd.Series,
                libmask: np.ndarray, k: int) -> dict[str, float]:
    """Top-1 species; top-1/top-3 country by the k nearest specimens' vote and by majority."""
    species = cat["mineral"].map(species_key).to_numpy()
    specimens = cat["specimen_id"].astype(str).to_numpy()
    truth_country = countries.reindex(specimens).to_numpy()
    order = order[keep]
    top = np.where(order[:, 0] >= 0, species[order[:, 0]], "")
    out: dict[str, float] = {"n": int(keep.sum()),
                             "species_top1": float(np.mean(top == species[keep]))}
    has = np.array([isinstance(c, str) for c in truth_country[keep]], dtype=bool)
    classes = sorted(set(countries))
    votes = country_votes(order[has], specimens, countries, classes, k)
    ranked = np.argsort(-votes, axis=1, kind="stable")[:, :3]
    truth = np.array([classes.index(c) for c in truth_country[keep][has]], dtype=np.int64)
    lib_countries = countries.reindex(pd.unique(specimens[libmask])).dropna()
    majority = [classes.index(c) for c in lib_countries.value_counts().index[:3]]
    return {**out, "n_country": int(has.sum()),
            "country_top1": float(np.mean(ranked[:, 0] == truth)),
            "country_top3": float(np.mean((ranked == truth[:, None]).any(1))),
            "majority_top1": float(np.mean(truth == majority[0])) if majority else 0.0,
            "majority_top3": float(np.mean(np.isin(truth, majority)))}


def run_treatment(key: str, X: np.ndarray, cat: pd.DataFrame, countries: pd.Series,
                  choose: np.ndarray, k: int) -> TreatmentScores:
    """Every (test instrument, library) cell of one treatment: the report half's cells and
    the choose half's top-1 species against the whole library."""
    U = unit_rows(X)
    specimens = cat["specimen_id"].astype(str).to_numpy()
    technique = cat["technique"].astype(str).to_numpy()
    report, chosen_hits, chosen_n = [], 0.0, 0
    for test in INSTRUMENTS:
        rows = technique == test
        for lib in LIBRARIES:
            libmask = np.ones(len(cat), bool) if lib == "both" else technique == lib
            order = np.full((len(cat), 1), -1, dtype=np.int64)
            if rows.any() and libmask.any():
                found = nearest(U[rows], U, specimens, specimens[rows], libmask)
                order = np.full((len(cat), found.shape[1]), -1, dtype=np.int64)
                order[rows] = found
            cell = cell_scores(order, ~choose & rows, cat, countries, libmask, k)
            report.append(CellScores(test=test, library=lib, **cell))  # type: ignore[arg-type]
            if lib == "both":
                s = cell_scores(order, choose & rows, cat, countries, libmask, k)
                chosen_hits += s["n"] * s["species_top1"] if s["n"] else 0.0
                chosen_n += int(s["n"])
    return TreatmentScores(name=key, label=LABELS[key],
                           choose_species_top1=chosen_hits / max(chosen_n, 1), report=report)


def load_processed(workdir: WorkDir) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, pd.Series]:
    """Processed spectra: catalog rows, matrix rows, grid, each natural specimen's country."""
    cat = read_catalog(workdir)
    cat = cat[(cat["kind"] == "processed").to_numpy()
              & cat["technique"].isin(INSTRUMENTS).to_numpy()].reset_index(drop=True)
    if not len(cat):
        raise ValueError(f"{workdir.catalog}: no processed spectrum of the instruments "
                         f"{', '.join(INSTRUMENTS)}")
    X, grid = matrix_rows(workdir, cat["spectrum_id"])
    countries = specimen_countries(pd.read_parquet(workdir.require(GEOCODED, "geocode")))
    return cat, X, grid, countries


def cache_key(workdir: WorkDir, keys: list[str], seed: int, k: int) -> str:
    """Changes with the catalog, the geocoding, the matrix or any setting of the measurement."""
    files = files_digest([file_key(workdir.catalog), file_key(workdir.geocoded),
                          file_key(workdir.spectra_dir / MATRIX)])
    text = json.dumps([VERSION, files, keys, seed, k, MIN_GAIN, MATCH_MAX_SHIFT_CM1])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cross_instrument_table(workdir: WorkDir, keys: list[str] | None = None, seed: int = 0,
                           k: int = 10, progress: bool = True, force: bool = False
                           ) -> CrossInstrumentTable:
    """The cross-instrument cells of each treatment ``keys`` (default ``DEFAULT_TREATMENTS``,
    the first the reference), cached in ``metrics/cross_instrument.json`` and recomputed
    only when its inputs or settings change (or ``force``)."""
    from tqdm.auto import tqdm

    keys = list(keys or DEFAULT_TREATMENTS)
    unknown = [key for key in keys if key not in LABELS]
    if unknown:
        raise ValueError(f"unknown treatment {unknown[0]!r}; one of {', '.join(LABELS)}")
    for name, stage in INPUTS.items():
        workdir.require(name, stage)
    cache = cache_key(workdir, keys, seed, k)

    def compute() -> CrossInstrumentTable:
        cat, X, grid, countries = load_processed(workdir)
        choose = split_specimens(cat["specimen_id"].to_numpy(), seed)
        candidates = treatments(cat["technique"].astype(str).to_numpy(), grid)
        results = [run_treatment(key, candidates[key](X), cat, countries, choose, k)
                   for key in tqdm(keys, desc="cross-instrument", unit="treatment",
                                   disable=not progress)]
        best = first_best([r.choose_species_top1 for r in results])
        return CrossInstrumentTable(key=cache, seed=seed, k=k, min_gain=MIN_GAIN,
                                    chosen=results[best].name, treatments=results)

    return cached_record(workdir.cross_instrument_file, CrossInstrumentTable.read, cache,
                         compute, force)
