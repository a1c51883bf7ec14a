"""The reference library: catalog spectra on the model's grid with each specimen's provenance.

Torch-free. A library holds every reference spectrum (float16 on disk: the spectra are min-max
normalised to [0, 1], where float16 keeps ~3 significant digits, enough for cosine similarity)
with its spectrum and specimen IDs, mineral, locality text, coordinates and country. It answers
the two questions a mineralogist asks first: which species does this spectrum match, and which
reference specimens is it nearest to. Saved as ``library.npz`` (arrays only, loaded with
``allow_pickle=False``) plus ``library.json`` (columns of text), so no code is read from disk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from rruffgeo.workdir import atomic_path, write_json_atomic

LIBRARY_NPZ = "library.npz"
LIBRARY_JSON = "library.json"
#: Text columns stored per reference spectrum.
TEXT_COLUMNS = ("spectrum_id", "specimen_id", "mineral", "locality", "country_iso3",
                "country_name")
SPECIES_COLUMNS = ["rank", "species", "similarity", "n_specimens"]
SPECIMEN_COLUMNS = ["rank", "specimen_id", "mineral", "locality", "lat", "lon",
                    "country_iso3", "country_name", "similarity", "spectrum_id"]
#: Species and specimens are matched on the grid up to this Raman shift (cm-1). Above it the
#: high-resolution instrument has nothing (it stops near 1,300-1,500 cm-1) and the broad scans
#: mostly background; chosen by grouped top-1 species on an inner split of the specimens
#: (benchmarks/cross_instrument.py).
MATCH_MAX_SHIFT_CM1 = 1500.0


def species_key(name: object) -> str:
    """Species name as compared: case and surrounding blanks ignored ("" when missing)."""
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return ""
    return " ".join(str(name).split()).lower()


def match_window(X: np.ndarray, grid_cm1: np.ndarray,
                 max_shift_cm1: float | None = MATCH_MAX_SHIFT_CM1) -> np.ndarray:
    """Rows of ``X`` with the grid columns above ``max_shift_cm1`` zeroed: what matching
    compares (None: the whole grid)."""
    X = np.asarray(X, dtype=np.float32)
    if max_shift_cm1 is None:
        return X
    return np.where(np.asarray(grid_cm1) <= max_shift_cm1, X, np.float32(0.0))


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32); all-zero rows stay zero."""
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return np.divide(X, norms, out=np.zeros_like(X), where=norms > 0)


@dataclass(frozen=True)
class SpeciesGroups:
    """The library's spectra by species: column ``order`` grouping them, each group's start,
    species name (as first written), number of specimens, and code by ``species_key``."""

    order: np.ndarray
    starts: np.ndarray
    names: np.ndarray
    n_specimens: np.ndarray
    code_of: dict[str, int]


def stable_top(values: np.ndarray, k: int) -> np.ndarray:
    """Per row, the first ``k`` columns of ``argsort(-values, kind="stable")`` (largest first,
    ties by column). Why not sort, nor ``argpartition``: a partition of the values alone (no
    index array, no negated copy) gives each row's ``k``-th largest value ``t``; the answer's
    columns are those above ``t`` and, of those equal to it, the first ones by column. Rows
    holding NaN are sorted in full."""
    values = np.asarray(values)
    n = values.shape[1]
    if k >= n:
        return np.argsort(-values, axis=1, kind="stable")[:, :k]
    kth = np.partition(values, n - k, axis=1)[:, n - k:n - k + 1]
    chosen = values >= kth
    counts = np.count_nonzero(chosen, axis=1)
    tied = np.flatnonzero(counts != k)
    if len(tied):  # more than k at or above t: keep the first of those equal to t
        rows, t = values[tied], kth[tied]
        equal = rows == t
        room = k - np.count_nonzero(rows > t, axis=1, keepdims=True)
        chosen[tied] = (rows > t) | (equal & (np.cumsum(equal, axis=1) <= room))
        counts[tied] = np.count_nonzero(chosen[tied], axis=1)
    full = np.flatnonzero(counts != k)  # NaN in the row (NaN sorts last in either order)
    if len(full):
        out = np.empty((len(values), k), np.intp)
        good = counts == k
        out[good] = stable_top(values[good], k)
        out[full] = np.argsort(-values[full], axis=1, kind="stable")[:, :k]
        return out
    # ascending within each row, so ties go by column; flat indices cost a tenth of nonzero's
    # row and column pairs
    cols = np.flatnonzero(chosen).reshape(-1, k) - (np.arange(len(chosen)) * n)[:, None]
    vals = np.take_along_axis(values, cols, axis=1)
    return np.take_along_axis(cols, np.argsort(-vals, axis=1, kind="stable"), axis=1)

@dataclass
class ReferenceLibrary:
    """Reference spectra (rows of ``X`` on ``grid_cm1``) and one metadata row per spectrum.

    ``meta`` has the ``TEXT_COLUMNS`` plus ``lat``, ``lon`` (NaN when unknown).
    """

    X: np.ndarray
    meta: pd.DataFrame
    grid_cm1: np.ndarray

    def __post_init__(self) -> None:
        if len(self.X) != len(self.meta):
            raise ValueError(f"{len(self.X)} spectra but {len(self.meta)} metadata rows")
        self.meta = self.meta.reset_index(drop=True)
        self.species = self.meta["mineral"].map(species_key).to_numpy()

    def __len__(self) -> int:
        return len(self.meta)

    @cached_property
    def _unit(self) -> np.ndarray:
        """Unit rows over the matching window, made when ``similarities`` first needs them
        (the predictor's own similarity pass does not)."""
        return unit_rows(match_window(self.X, self.grid_cm1))

    def subset(self, rows: np.ndarray) -> ReferenceLibrary:
        """The library restricted to ``rows`` (a fold's training specimens)."""
        return ReferenceLibrary(self.X[rows], self.meta.iloc[rows], self.grid_cm1)

    def similarities(self, spectra: np.ndarray) -> np.ndarray:
        """Cosine similarity (n_queries, n_references) of spectra on the library's grid, over
        the matching window (``match_window``)."""
        spectra = np.asarray(spectra, dtype=np.float32)
        if spectra.ndim != 2 or spectra.shape[1] != len(self.grid_cm1):
            raise ValueError(f"spectra of shape {spectra.shape}: expected (n, "
                             f"{len(self.grid_cm1)}) on the library's grid")
        return unit_rows(match_window(spectra, self.grid_cm1)) @ self._unit.T

    @cached_property
    def specimen_codes(self) -> np.ndarray:
        """Each reference's specimen as an integer code (factorized once: the predictor asks
        for nearest specimens block by block)."""
        return pd.factorize(self.meta["specimen_id"])[0]

    @cached_property
    def species_groups(self) -> SpeciesGroups:
        """The library's columns grouped by species (computed once)."""
        codes, uniques = pd.factorize(self.species)
        order = np.argsort(codes, kind="stable")
        return SpeciesGroups(
            order=order, starts=np.r_[0, np.flatnonzero(np.diff(codes[order])) + 1],
            names=self.meta["mineral"].groupby(codes).first().to_numpy(),
            n_specimens=self.meta.groupby(codes)["specimen_id"].nunique().to_numpy(),
            code_of={key: i for i, key in enumerate(uniques)})

    def species_best(self, sims: np.ndarray) -> np.ndarray:
        """Per query, the best similarity of each species (n, n_species)."""
        groups = self.species_groups
        return np.maximum.reduceat(np.asarray(sims)[:, groups.order], groups.starts, axis=1)

    def species_best_of(self, sims: np.ndarray, species: np.ndarray) -> np.ndarray:
        """``species_best(sims)`` at the species codes ``species`` (n, k) only: the columns
        of the species some query lists, not of all."""
        groups = self.species_groups
        codes, at = np.unique(species, return_inverse=True)
        ends = np.r_[groups.starts[1:], len(groups.order)]
        columns = [groups.order[groups.starts[c]:ends[c]] for c in codes]
        starts = np.r_[0, np.cumsum([len(c) for c in columns])[:-1]]
        best = np.maximum.reduceat(np.asarray(sims)[:, np.concatenate(columns)], starts, axis=1)
        return np.take_along_axis(best, at.reshape(np.shape(species)), axis=1)

    def species_match(self, sims: np.ndarray, top_k: int = 5) -> list[pd.DataFrame]:
        """Per query, the ``top_k`` species by their best similarity (SPECIES_COLUMNS)."""
        best = self.species_best(sims)
        top = stable_top(best, min(top_k, best.shape[1]))
        return self.species_tables(top, np.take_along_axis(best, top, axis=1))

    def species_tables(self, top: np.ndarray, similarity: np.ndarray,
                       hqi: np.ndarray | None = None) -> list[pd.DataFrame]:
        """The species tables of queries whose best species (codes of ``species_groups``)
        are ``top`` with those ``similarity`` values (and ``hqi``, a column after it)."""
        return per_query(self.species_long(top, similarity, hqi), *top.shape)

    def species_long(self, top: np.ndarray, similarity: np.ndarray,
                     hqi: np.ndarray | None = None) -> pd.DataFrame:
        """``species_tables`` as one long table, query after query (``k`` rows each)."""
        groups, (n, k) = self.species_groups, top.shape
        columns = {"rank": np.tile(np.arange(1, k + 1), n),
                   "species": pd.Series(groups.names).take(top.ravel()).to_numpy(),
                   "similarity": np.asarray(similarity).ravel()}
        if hqi is not None:
            columns["hqi"] = np.asarray(hqi, dtype=np.float64).ravel()
        columns["n_specimens"] = groups.n_specimens[top.ravel()]
        return pd.DataFrame(columns)

    def nearest_specimens(self, sims: np.ndarray, n: int = 10) -> list[pd.DataFrame]:
        """Per query, the ``n`` most similar specimens, one row each (its best spectrum)."""
        picks = self.nearest_specimen_rows(sims, n)
        return self.specimen_tables(picks, np.take_along_axis(np.asarray(sims), picks, axis=1))

    def specimen_tables(self, picks: np.ndarray, similarity: np.ndarray
                        ) -> list[pd.DataFrame]:
        """The specimen tables of queries whose nearest specimens are the library rows
        ``picks`` (n, k), at those ``similarity`` values."""
        return per_query(self.specimen_long(picks, similarity), *picks.shape)

    def specimen_long(self, picks: np.ndarray, similarity: np.ndarray) -> pd.DataFrame:
        """``specimen_tables`` as one long table, query after query (``k`` rows each)."""
        k = picks.shape[1]
        long = self.meta.iloc[picks.ravel()][SPECIMEN_COLUMNS[1:-2] + ["spectrum_id"]]
        long = long.reset_index(drop=True)
        long.insert(0, "rank", np.tile(np.arange(1, k + 1), len(picks)))
        long.insert(len(SPECIMEN_COLUMNS) - 2, "similarity", np.asarray(similarity).ravel())
        return long[SPECIMEN_COLUMNS]

    def nearest_specimen_rows(self, sims: np.ndarray, n: int, block: int = 256) -> np.ndarray:
        """Library rows (n_queries, min(n, specimens)): per query the best spectrum of each of
        its ``n`` most similar specimens, in the order a stable sort of every similarity gives.

        Why not sort every row: 10,000 queries against ~13,000 references is 10,000 full sorts.
        The top ``m`` of each row (``stable_top``) decide the answer when they hold ``n``
        specimens; rows where they do not are tried again with a larger ``m``, up to all.
        """
        codes = self.specimen_codes
        k = min(n, int(codes.max()) + 1) if len(codes) else 0
        out = np.empty((len(sims), k), np.int64)
        for lo in range(0, len(sims), block):
            part = np.asarray(sims[lo:lo + block])
            todo, m = np.arange(len(part)), min(sims.shape[1], max(8 * k, 64))
            while len(todo):
                done, picks = _top_specimens(part[todo], codes, k, m)
                out[lo + todo[done]] = picks
                todo = todo[~done]
                m = min(sims.shape[1], 8 * m)
        return out

    def save(self, folder: Path) -> None:
        """``library.npz`` (float16 spectra, grid, coordinates) and ``library.json`` (text)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / LIBRARY_NPZ) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, X=np.asarray(self.X, np.float16),
                                grid_cm1=np.asarray(self.grid_cm1, np.float64),
                                lat=self.meta["lat"].to_numpy(np.float64),
                                lon=self.meta["lon"].to_numpy(np.float64))
        text = {c: self.meta[c].fillna("").astype(str).tolist() for c in TEXT_COLUMNS}
        write_json_atomic(folder / LIBRARY_JSON, {"format": "rruffgeo-library/1", **text})

    @classmethod
    def load(cls, folder: Path) -> ReferenceLibrary:
        folder = Path(folder)
        for name in (LIBRARY_NPZ, LIBRARY_JSON):
            if not (folder / name).exists():
                raise FileNotFoundError(f"{folder / name} not found: not a provenance model")
        with np.load(folder / LIBRARY_NPZ, allow_pickle=False) as z:
            X, grid, lat, lon = z["X"], z["grid_cm1"], z["lat"], z["lon"]
        text = json.loads((folder / LIBRARY_JSON).read_text(encoding="utf-8"))
        meta = pd.DataFrame({c: text[c] for c in TEXT_COLUMNS})
        meta["lat"], meta["lon"] = lat, lon
        return cls(X.astype(np.float32), meta, grid)


def per_query(long: pd.DataFrame, n_queries: int, k: int) -> list[pd.DataFrame]:
    """The ``k``-row table of each query from one long table of them all: one table built
    and cut is far cheaper than a table built per query (each converts its text columns)."""
    return [long.iloc[i * k:(i + 1) * k].reset_index(drop=True) for i in range(n_queries)]


def _top_specimens(sims: np.ndarray, codes: np.ndarray, k: int, m: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """For the rows whose top ``m`` similarities settle it (see ``nearest_specimen_rows``):
    which rows, and the best row of each of their ``k`` most similar specimens."""
    cand = stable_top(sims, m)
    spec = codes[cand]
    by_spec = np.argsort(spec, axis=1, kind="stable")
    sorted_spec = np.take_along_axis(spec, by_spec, axis=1)
    first_sorted = np.ones_like(sorted_spec, bool)
    first_sorted[:, 1:] = sorted_spec[:, 1:] != sorted_spec[:, :-1]
    first = np.zeros_like(first_sorted)
    np.put_along_axis(first, by_spec, first_sorted, axis=1)
    settled = first.sum(axis=1) >= k
    where = np.argsort(~first[settled], axis=1, kind="stable")[:, :k]
    return settled, np.take_along_axis(cand[settled], where, axis=1)
