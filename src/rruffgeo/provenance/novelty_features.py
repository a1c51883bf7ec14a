"""What a library search says about a spectrum, as features for the learned novelty score.

Torch-free. One similarity alone (the nearest reference) confuses "a new specimen of a known
species" with "a species not in the library"; the search says more than its best value: how
the best five compare, whether the best species stands clear of the next one, whether the
three views (``novelty.KINDS``) agree on the species, how many species crowd the nearest ten,
and the best similarity once featureless "hub" references are penalised; and how well the
best matches explain the spectrum (``novelty_match``: a non-negative mix of them, their peaks,
wide-band shares). ``FEATURE_NAMES`` lists them in column
order; ``search_features`` computes them for queries against a ``SearchLibrary``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from rruffgeo.provenance.library import stable_top
from rruffgeo.provenance.novelty import BLOCK, KINDS, features, hub_offsets
from rruffgeo.provenance.novelty_match import (
    MATCH_NAMES,
    MIX,
    band_shares,
    library_peaks,
    mix_residual,
    peak_matching,
)

#: Per view: best similarity, mean of the 5 best, best with the hub penalty, gap between the
#: best species and the next one, distinct species among the 10 nearest.
PER_VIEW = ("top1", "top5", "hub_top1", "species_gap", "species_in_10")
SEARCH_NAMES = tuple(f"{k}_{f}" for k in KINDS for f in PER_VIEW) + ("views_agree",)
FEATURE_NAMES = SEARCH_NAMES + MATCH_NAMES
#: How deep the search looks for a second species (the gap is to the deepest one when all
#: of these are the best species).
DEPTH = 50
CROWD = 10
#: Weight of the hub penalty in ``hub_top1`` (that of the best nearest-neighbour score).
HUB_WEIGHT = 0.5


@dataclass
class SearchLibrary:
    """Reference spectra as the search sees them: each view's unit rows, each reference's
    species (integer codes) and hub value per view (``hub_offsets`` with weight 1), and the
    grid indices where the wide bands start (``novelty_match.band_edges``)."""

    spectra: np.ndarray
    codes: np.ndarray
    hubs: dict[str, np.ndarray]
    edges: np.ndarray
    _views: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _peaks: tuple | None = field(default=None, repr=False)
    _columns: tuple | None = field(default=None, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def view(self, kind: str) -> np.ndarray:
        """The references' unit rows in one view, made when first needed: the predict path
        hands the cosine and correlation similarities over, so it never needs those two.
        Made once when blocks of queries ask for it from threads side by side."""
        with self._lock:
            if kind not in self._views:
                self._views[kind] = features(self.spectra, kind)
            return self._views[kind]

    def columns(self, kind: str, used: np.ndarray) -> np.ndarray:
        """``view(kind)[:, used]``, kept for the next block of queries with the same columns
        (every block of a map): the copy costs half as much as the product it feeds."""
        key = (kind, used.tobytes())
        with self._lock:
            if self._columns is None or self._columns[0] != key:
                self._columns = (key, self.view(kind)[:, used])
            return self._columns[1]

    def peaks(self) -> tuple:
        """The references' peak weights and near-peak masks (``library_peaks``), made when
        first needed (once, as ``view``)."""
        with self._lock:
            if self._peaks is None:
                self._peaks = library_peaks(self.spectra)
            return self._peaks

    @classmethod
    def build(cls, X: np.ndarray, codes: np.ndarray, edges: np.ndarray,
              hubs: dict[str, np.ndarray] | None = None,
              groups: np.ndarray | None = None) -> SearchLibrary:
        """From spectra, species codes and band edges, with ``hubs`` given (a saved model)
        or computed from ``groups`` (fitting)."""
        lib = cls(np.asarray(X, np.float32), np.asarray(codes, dtype=np.int64), {},
                  np.asarray(edges, np.int64))
        if hubs is None:
            if groups is None:
                raise ValueError("a search library needs its hub values or its specimen groups")
            hubs = {k: hub_offsets(lib.view(k), np.asarray(groups), 1.0) for k in KINDS}
        for k in KINDS:
            if len(hubs[k]) != len(lib.codes) or len(lib.spectra) != len(lib.codes):
                raise ValueError(f"search library: {len(lib.codes)} species codes, "
                                 f"{len(lib.spectra)} spectra and {len(hubs[k])} hub values")
        lib.hubs = {k: np.asarray(hubs[k], np.float32) for k in KINDS}
        return lib


def nearest(queries: np.ndarray, refs: np.ndarray, depth: int, offset: np.ndarray,
            columns: Callable[[np.ndarray], np.ndarray] | None = None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices and similarities of each query's ``depth`` nearest references (best first),
    and its best similarity once every reference's ``offset`` is subtracted; one pass.
    ``columns(used)``, when given, returns ``refs[:, used]`` (kept by the caller)."""
    parts = [nearest_of(_block_product(queries[start:start + BLOCK], refs, columns), depth,
                        offset)
             for start in range(0, len(queries), BLOCK)]
    if not parts:
        depth = min(depth, len(refs))
        return (np.zeros((0, depth), np.int64), np.zeros((0, depth), np.float32),
                np.zeros(0, np.float32))
    return tuple(np.concatenate(p) for p in zip(*parts, strict=True))  # type: ignore[return-value]


def _block_product(q: np.ndarray, refs: np.ndarray,
                   columns: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """``q @ refs.T`` over the columns where some query of the block is non-zero only: a
    spectrum (and its derivative) is zero outside its measured range, and a map measured over
    a fifth of the grid then costs a fifth of the product."""
    used = np.flatnonzero(q.any(axis=0))
    if len(used) > 0.8 * q.shape[1]:
        return q @ refs.T
    kept = columns(used) if columns is not None else refs[:, used]
    return q[:, used] @ kept.T


def nearest_of(s: np.ndarray, depth: int, offset: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``nearest`` from similarities already computed (queries, references); ``s`` is left
    as it is, so a caller that holds them (the predict path) needs no second product."""
    depth = min(depth, s.shape[1])
    penalised = (s - offset[None, :]).max(axis=1).astype(np.float32)
    index = stable_top(s, depth)
    return (index.astype(np.int64), np.take_along_axis(s, index, 1).astype(np.float32),
            penalised)


def view_features(Q: np.ndarray | None, lib: SearchLibrary, kind: str,
                  sims: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """One view's ``PER_VIEW`` columns for unit queries ``Q`` (or their similarities
    ``sims`` to the view's references, when the caller has them), and each query's nearest
    references (indices and similarities, best first)."""
    offset = HUB_WEIGHT * lib.hubs[kind]
    idx, sim, penalised = (
        nearest(Q, lib.view(kind), DEPTH, offset, lambda used: lib.columns(kind, used))
        if sims is None else nearest_of(sims, DEPTH, offset))
    species = lib.codes[idx]
    other = species != species[:, :1]
    second = np.where(other.any(axis=1), other.argmax(axis=1), sim.shape[1] - 1)
    crowd = np.sort(species[:, :CROWD], axis=1)
    distinct = 1 + (np.diff(crowd, axis=1) != 0).sum(axis=1)
    cols = np.column_stack([
        sim[:, 0], sim[:, :5].mean(axis=1), penalised,
        sim[:, 0] - sim[np.arange(len(sim)), second], distinct])
    return cols, idx, sim


def search_features(spectra: np.ndarray, lib: SearchLibrary,
                    given: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """(n, len(FEATURE_NAMES)) features of ``spectra`` searched in ``lib`` (same grid);
    ``given`` holds views' similarities (queries, references) already computed."""
    if len(lib.codes) < 2:
        raise ValueError("the learned novelty score needs at least two reference spectra")
    given = given or {}
    units = {k: features(spectra, k) for k in ("cosine", "derivative")}
    cols, near = [], {}
    for kind in KINDS:
        if kind in given:
            c, idx, sim = view_features(None, lib, kind, given[kind])
        else:
            q = units[kind] if kind in units else features(spectra, kind)
            c, idx, sim = view_features(q, lib, kind)
        cols.append(c)
        near[kind] = (idx, sim)
    top = [lib.codes[near[k][0][:, 0]] for k in KINDS]
    agree = ((top[0] == top[1]).astype(float) + (top[0] == top[2]) + (top[1] == top[2]))
    return np.column_stack([*cols, agree, match_features(spectra, units, lib, near)])


def match_features(spectra: np.ndarray, units: dict[str, np.ndarray], lib: SearchLibrary,
                   near: dict[str, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The ``MATCH_NAMES`` columns, from the queries' cosine and derivative unit rows and
    each view's nearest references."""
    idx = near["cosine"][0]
    return np.column_stack([
        mix_residual(units["cosine"], lib.spectra, idx[:, :MIX]),  # scale-free: raw rows
        mix_residual(units["derivative"], lib.view("derivative"),
                     near["derivative"][0][:, :MIX]),
        peak_matching(spectra, idx, lib.peaks()),
        band_shares(spectra, lib.edges)]).astype(np.float64)
