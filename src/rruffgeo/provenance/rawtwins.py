"""Does a raw RRUFF spectrum, preprocessed, match like its processed twin?

Every raw file whose measurement has exactly one processed file (``leakage.twin_rows``: same
sample, instrument, laser and orientation) is a pair. The raw spectrum, after each
preprocessing choice, and its twin are matched against the processed reference library with
the pair's whole specimen left out: top-1 species is the mineral of the nearest reference
spectrum (cosine on the grid, compared up to the library's matching window), the country
distribution the countries of the k nearest reference specimens (one vote each). The library
is the spectra matrix as built (its rows made with ``--preprocess auto``'s rule), cropped as a
choice crops; an ``alike`` choice applies its own rule to every processed file instead. The
pairs' specimens are split in two (seeded): the choice is made on the "choose" half by top-1
species (a later, more elaborate choice must gain more than ``MIN_GAIN``); the table is the
other half. No network is used, so the numbers isolate preprocessing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rruffgeo.data.columns import read_catalog_columns
from rruffgeo.network.leakage import MEASUREMENT_COLUMNS, twin_rows
from rruffgeo.provenance.knn_eval import (
    MIN_GAIN,
    country_votes,
    first_best,
    nearest,
    specimen_countries,
    split_specimens,
)
from rruffgeo.provenance.library import MATCH_MAX_SHIFT_CM1, match_window, species_key, unit_rows
from rruffgeo.results import ChoiceScores, RawTwinTable, TwinScores, cached_record
from rruffgeo.spectra.matrix import load_matrix
from rruffgeo.spectra.preprocess import AutoRule, baseline_share, smooth
from rruffgeo.spectra.resample import clean_axis, resample_many
from rruffgeo.spectra.spectrum import Spectrum
from rruffgeo.workdir import (
    CATALOG,
    GEOCODED,
    MATRIX,
    MATRIX_INDEX,
    SPECTRA_DIR,
    file_key,
    files_digest,
)

if TYPE_CHECKING:
    from rruffgeo.workdir import WorkDir

#: Catalog columns read (those a catalog has; ``technique`` is derived for older ones).
COLUMNS = tuple(dict.fromkeys(("spectrum_id", "specimen_id", "mineral", "kind", "technique",
                               "wavenumber_min_cm1", "wavenumber_max_cm1",
                               *MEASUREMENT_COLUMNS)))
#: The files the measurement reads, and the stage that writes each.
INPUTS = {CATALOG: "ingest", GEOCODED: "geocode", f"{SPECTRA_DIR}/{MATRIX}": "spectra"}
#: Changes whenever what is measured changes, so older cached tables are recomputed.
VERSION = 1


@dataclass(frozen=True)
class Choice:
    """One preprocessing of the raw spectra (``AutoRule``'s knobs plus smoothing); ``share``
    -1 subtracts the baseline always; ``alike``: the library under the same rule (smoothing
    aside) rather than the spectra matrix as built."""

    name: str
    min_shift: float | None = None
    method: str = "none"
    lam: float = 1e5
    share: float = -1.0
    despike: bool = False
    smooth: int = 0
    alike: bool = False

    def rule(self) -> AutoRule:
        return AutoRule(self.min_shift, self.method, self.lam,
                        None if self.share < 0 else self.share, self.despike)

    def library_is_built(self) -> bool:
        """Whether the library is the spectra matrix: not alike, or alike under the very rule
        the matrix rows were built with (``AutoRule()``)."""
        return not self.alike or self.rule() == AutoRule()


def auto_choice(name: str = "auto", **changes: object) -> Choice:
    """``--preprocess auto``'s rule as a choice, its library alike (the matrix as built)."""
    r = AutoRule()
    base = Choice(name, r.min_shift_cm1, r.method, r.lam,
                  -1.0 if r.share is None else r.share, r.despike, alike=True)
    return replace(base, **changes)  # type: ignore[arg-type]


def default_choices() -> list[Choice]:
    """The short list: nothing, the crops alone, ``auto`` and what came close to it."""
    return [Choice("none"), Choice("crop<150", 150.0, despike=True),
            Choice("crop<200", 200.0, despike=True), auto_choice(),
            auto_choice("auto + smooth:5 (raw only)", smooth=5),
            auto_choice("auto + smooth:9 (raw only)", smooth=9)]


def all_choices() -> list[Choice]:
    """Every choice the rule was chosen from, simplest first (``--all-choices``)."""
    out = [Choice("none"), Choice("none, library as published", alike=True),
           Choice("despike+arpls (old auto)", None, "arpls", 1e5, -1.0, True)]
    for lo in (100.0, 150.0, 200.0):
        out += [Choice(f"crop<{lo:g}", lo, despike=True),
                Choice(f"crop<{lo:g}+arpls", lo, "arpls", 1e5, -1.0, True)]
    out += [Choice("crop<150+arpls:1e4", 150.0, "arpls", 1e4, -1.0, True), auto_choice()]
    out += [auto_choice(f"auto if share>{s:g}, library alike", share=s) for s in
            (0.05, 0.1, 0.2)]
    return out + [auto_choice(f"auto + smooth:{w} (raw only)", smooth=w) for w in (5, 9)]


@dataclass
class TwinData:
    """Catalog rows, their matrix rows, the grid, the pairs and each specimen's country."""

    cat: pd.DataFrame
    X: np.ndarray           # matrix rows in catalog order
    grid: np.ndarray
    pairs: np.ndarray       # (n, 2): raw row, processed row
    raw: list[Spectrum]
    countries: pd.Series    # specimen_id -> ISO3, natural specimens only


#: Catalog columns every catalog holds or derives; the rest of ``COLUMNS`` where stored.
REQUIRED = ("spectrum_id", "specimen_id", "mineral", "kind", "technique")


def read_catalog(workdir: WorkDir) -> pd.DataFrame:
    """The catalog's light columns that this catalog has (``technique`` derived if need be)."""
    workdir.require(CATALOG, "ingest")
    return read_catalog_columns(workdir.catalog, REQUIRED,
                                optional=[c for c in COLUMNS if c not in REQUIRED])


def matrix_rows(workdir: WorkDir, ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The spectra matrix's rows of ``ids`` (float32, in that order) and its grid."""
    workdir.require(f"{SPECTRA_DIR}/{MATRIX}", "spectra")
    again = f"run `rruffgeo spectra --workdir {workdir.root}` again"
    m = load_matrix(workdir.spectra_dir)
    if m is None:
        raise ValueError(f"{workdir.spectra_dir}: the spectra matrix is incomplete; {again}")
    try:
        rows = m.rows_of(list(ids))
    except KeyError as exc:
        raise ValueError(f"{workdir.spectra_dir / MATRIX_INDEX}: {exc.args[0]}; {again}") from None
    return np.asarray(m.X[rows], dtype=np.float32), m.grid_cm1


def read_spectra(workdir: WorkDir, ids: np.ndarray, kind: str) -> list[Spectrum]:
    """The catalog's spectra ``ids`` (all of one kind, read with a filter to save memory)."""
    arrays = pd.read_parquet(workdir.catalog, filters=[("kind", "==", kind)],
                             columns=["spectrum_id", "wavenumber_cm1", "intensity"])
    arrays = arrays.set_index("spectrum_id").loc[ids]
    return [Spectrum(np.asarray(a, float), np.asarray(b, float), {"source": s}) for s, a, b
            in zip(arrays.index, arrays["wavenumber_cm1"], arrays["intensity"], strict=True)]


def load_twins(workdir: WorkDir) -> TwinData:
    """Everything the measurement reads from a work folder (ingest, geocode, spectra)."""
    cat = read_catalog(workdir)
    geo = pd.read_parquet(workdir.require(GEOCODED, "geocode"))
    X, grid = matrix_rows(workdir, cat["spectrum_id"])
    twin = twin_rows(cat)
    raw_rows = np.flatnonzero((cat["kind"] == "raw").to_numpy() & (twin >= 0))
    if not len(raw_rows):
        raise ValueError(f"{workdir.catalog}: no raw spectrum has a processed twin")
    pairs = np.c_[raw_rows, twin[raw_rows]]
    raw = read_spectra(workdir, cat["spectrum_id"].to_numpy()[pairs[:, 0]], "raw")
    return TwinData(cat, X, grid, pairs, raw, specimen_countries(geo))


def on_grid(spectra: list[Spectrum], grid: np.ndarray) -> np.ndarray:
    """Spectra resampled and min-max normalised as the spectra matrix is."""
    X, _ = resample_many([clean_axis(s.wavenumber_cm1, s.intensity) for s in spectra], grid)
    return X


def masked(X: np.ndarray, grid: np.ndarray, min_shift: float | None, start: np.ndarray,
           stop: np.ndarray) -> np.ndarray:
    """Matrix rows as if each spectrum (measured from ``start`` to ``stop``) had been cropped
    below ``min_shift`` before resampling: those columns zeroed, min-max re-applied."""
    if min_shift is None:
        return X
    inside = (grid >= np.maximum(start, min_shift)[:, None]) & (grid <= stop[:, None])
    out = np.where(inside, X, 0.0)
    lo = np.where(inside, X, np.inf).min(axis=1, keepdims=True)
    hi = np.where(inside, X, -np.inf).max(axis=1, keepdims=True)
    ok = np.isfinite(lo) & (hi > lo)
    scaled = np.divide(out - np.where(ok, lo, 0), np.where(ok, hi - lo, 1))
    return np.where(inside & ok, scaled, np.where(ok, 0.0, X)).astype(np.float32)


class Prepared:
    """Spectra after the expensive part of a choice (despike, crop, baseline fit), cached so
    that thresholds and smoothing reuse one fit."""

    def __init__(self, spectra: list[Spectrum]) -> None:
        self.spectra = spectra
        self._cache: dict[tuple, list[tuple[Spectrum, np.ndarray, float]]] = {}

    def fitted(self, c: Choice) -> list[tuple[Spectrum, np.ndarray, float]]:
        """Per spectrum: the cropped spectrum, its baseline and the baseline's share."""
        key = (c.despike, c.min_shift, c.method, c.lam)
        if key not in self._cache:
            base = AutoRule(c.min_shift, "none", despike=c.despike)
            always = AutoRule(None, c.method, c.lam, share=None, despike=False)
            out = []
            for s in self.spectra:
                cropped = base(s)
                if c.method == "none":
                    out.append((cropped, np.zeros(len(cropped.intensity)), 0.0))
                    continue
                fitted = cropped.intensity - always(cropped).intensity
                out.append((cropped, fitted, baseline_share(cropped.intensity, fitted)))
            self._cache[key] = out
        return self._cache[key]

    def apply(self, c: Choice) -> tuple[list[Spectrum], np.ndarray]:
        """The spectra under choice ``c`` and whether each had its baseline subtracted."""
        spectra, flagged = [], []
        for cropped, fitted, share in self.fitted(c):
            use = c.method != "none" and share > c.share
            s = cropped.with_values(cropped.wavenumber_cm1, cropped.intensity - fitted) \
                if use else cropped
            spectra.append(smooth(s, c.smooth) if c.smooth else s)
            flagged.append(use)
        return spectra, np.array(flagged, dtype=bool)


def check_emulation(c: Choice, prep: Prepared, n: int = 25) -> None:
    """``Prepared`` emulates ``AutoRule`` from cached fits: check on ``n`` spectra that the
    rule itself gives the same spectra, so the numbers are those of the code."""
    emulated, _ = prep.apply(c)
    for s, e in zip(prep.spectra[:n], emulated[:n], strict=False):
        got = c.rule()(s)
        got = smooth(got, c.smooth) if c.smooth else got
        if len(got.intensity) != len(e.intensity) or not np.allclose(got.intensity,
                                                                      e.intensity):
            raise RuntimeError(f"{s.source}: AutoRule differs from the raw-twin emulation")


def built_library_share() -> float:
    """Share of the matrix's rows whose baseline the build subtracted: all under a rule that
    always subtracts, none under one without a baseline (NaN: it depends on each fit)."""
    rule = AutoRule()
    if rule.method == "none":
        return 0.0
    return 1.0 if rule.share is None else float("nan")


class Matcher:
    """The processed library (the matrix cropped as a choice crops it, or built under a
    choice's rule) and the twins' matches; a twin's row is its own library row."""

    def __init__(self, d: TwinData, k: int, max_shift: float | None,
                 library: Prepared | None) -> None:
        self.d, self.k, self.max_shift, self.library_files = d, k, max_shift, library
        self.lib_rows = np.flatnonzero((d.cat["kind"] == "processed").to_numpy())
        self.lib_specimens = d.cat["specimen_id"].astype(str).to_numpy()[self.lib_rows]
        self.lib_species = d.cat["mineral"].map(species_key).to_numpy()[self.lib_rows]
        self.classes = sorted(set(d.countries))
        self.query_specimens = d.cat["specimen_id"].astype(str).to_numpy()[d.pairs[:, 0]]
        self.twin_pos = np.searchsorted(self.lib_rows, d.pairs[:, 1])
        self._lib: dict[object, tuple[np.ndarray, float]] = {}
        self._twin: dict[object, tuple[np.ndarray, np.ndarray]] = {}

    def unit(self, X: np.ndarray) -> np.ndarray:
        return unit_rows(match_window(X, self.d.grid, self.max_shift))

    def library(self, c: Choice) -> tuple[object, np.ndarray, float]:
        """Key, unit rows and baseline-subtracted share of the library choice ``c`` uses."""
        key: object = ("built", c.min_shift) if c.library_is_built() else \
            replace(c, name="", smooth=0)
        if key not in self._lib:
            if c.library_is_built():
                cat, rows = self.d.cat, self.lib_rows
                X = masked(self.d.X[rows], self.d.grid, c.min_shift,
                           cat["wavenumber_min_cm1"].to_numpy()[rows],
                           cat["wavenumber_max_cm1"].to_numpy()[rows])
                self._lib[key] = (self.unit(X), built_library_share())
            else:
                assert self.library_files is not None
                spectra, flagged = self.library_files.apply(c)
                self._lib[key] = (self.unit(on_grid(spectra, self.d.grid)),
                                  float(flagged.mean()))
        return key, *self._lib[key]

    def match(self, Q: np.ndarray, L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Top-1 species and country distribution of each query (unit rows, one per pair)."""
        order = nearest(Q, L, self.lib_specimens, self.query_specimens)
        votes = country_votes(order, self.lib_specimens, self.d.countries, self.classes,
                              self.k)
        top = np.where(order[:, 0] >= 0, self.lib_species[order[:, 0]], "")
        return top, votes

    def twin(self, key: object, L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The twins' matches against library ``key`` (cached: one per library)."""
        if key not in self._twin:
            self._twin[key] = self.match(L[self.twin_pos], L)
        return self._twin[key]


def scores(species: np.ndarray, votes: np.ndarray, twin: tuple[np.ndarray, np.ndarray],
           truth: np.ndarray, specimens: np.ndarray, keep: np.ndarray) -> TwinScores:
    """Top-1 species of the raw side and of its twin, their agreement, mean country TVD."""
    tvd = 0.5 * np.abs(votes - twin[1]).sum(1)
    return TwinScores(n_pairs=int(keep.sum()), n_specimens=len(set(specimens[keep])),
                      top1_raw=float((species == truth)[keep].mean()),
                      top1_twin=float((twin[0] == truth)[keep].mean()),
                      agreement=float((species == twin[0])[keep].mean()),
                      mean_tvd=float(tvd[keep].mean()))


def run_choice(c: Choice, prep: Prepared, m: Matcher, choose: np.ndarray) -> ChoiceScores:
    """One choice scored on each half of the specimens."""
    key, L, lib_share = m.library(c)
    spectra, flagged = prep.apply(c)
    species, votes = m.match(m.unit(on_grid(spectra, m.d.grid)), L)
    twin = m.twin(key, L)
    truth = m.d.cat["mineral"].map(species_key).to_numpy()[m.d.pairs[:, 0]]
    halves = {h: scores(species, votes, twin, truth, m.query_specimens, keep)
              for h, keep in (("choose", choose), ("report", ~choose))}
    return ChoiceScores(name=c.name, library="as built" if c.library_is_built() else "alike",
                        baseline_subtracted=float(flagged.mean()),
                        library_baseline_subtracted=lib_share, **halves)


def cache_key(workdir: WorkDir, choices: list[Choice], seed: int, k: int,
              max_shift: float | None) -> str:
    """Changes with the catalog, the geocoding, the matrix or any setting of the measurement."""
    files = files_digest([file_key(workdir.catalog), file_key(workdir.geocoded),
                          file_key(workdir.spectra_dir / MATRIX)])
    text = json.dumps([VERSION, files, [asdict(c) for c in choices], seed, k, max_shift,
                       MIN_GAIN, asdict(AutoRule())])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def measure(workdir: WorkDir, d: TwinData, choices: list[Choice], seed: int, k: int,
            max_shift: float | None, progress: bool) -> tuple[list[ChoiceScores], np.ndarray]:
    """Every choice scored on both halves, and the choose-half mask of the pairs; the
    chosen one checked against ``AutoRule`` itself."""
    from tqdm.auto import tqdm

    library = None
    if not all(c.library_is_built() for c in choices):
        ids = d.cat["spectrum_id"].to_numpy()[(d.cat["kind"] == "processed").to_numpy()]
        library = Prepared(read_spectra(workdir, ids, "processed"))
    m = Matcher(d, k, max_shift, library)
    choose = split_specimens(m.query_specimens, seed)
    prep = Prepared(d.raw)
    out = [run_choice(c, prep, m, choose)
           for c in tqdm(choices, desc="raw twins", unit="choice", disable=not progress)]
    check_emulation(choices[first_best([r.choose.top1_raw for r in out])], prep)
    return out, choose


def raw_twin_table(workdir: WorkDir, choices: list[Choice] | None = None, seed: int = 0,
                   k: int = 10, max_shift: float | None = MATCH_MAX_SHIFT_CM1,
                   progress: bool = True, force: bool = False) -> RawTwinTable:
    """The raw-twin table of ``choices`` (default ``default_choices()``), cached in
    ``metrics/raw_twins.json`` and recomputed only when its inputs or settings change (or
    ``force``)."""
    choices = choices or default_choices()
    for name, stage in INPUTS.items():
        workdir.require(name, stage)
    key = cache_key(workdir, choices, seed, k, max_shift)

    def compute() -> RawTwinTable:
        d = load_twins(workdir)
        results, choose = measure(workdir, d, choices, seed, k, max_shift, progress)
        technique = d.cat["technique"].astype(str).to_numpy()[d.pairs[:, 0]][~choose]
        return RawTwinTable(
            key=key, seed=seed, k=k, max_shift_cm1=max_shift, min_gain=MIN_GAIN,
            n_pairs=len(d.pairs), n_specimens=len(set(d.cat["specimen_id"].to_numpy()[
                d.pairs[:, 0]])), report_pairs_by_technique={
                str(t): int(n) for t, n in pd.Series(technique).value_counts().items()},
            chosen=results[first_best([r.choose.top1_raw for r in results])].name,
            choices=results)

    return cached_record(workdir.raw_twins_file, RawTwinTable.read, key, compute, force)
