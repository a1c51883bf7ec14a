"""Open-set species answer: how far a spectrum is from everything in the reference library.

Torch-free. A nearest-neighbour search always names a species, however unlike the library the
spectrum is (a polymer or a drug gets a "best match" too). The novelty score here is one minus
the mean similarity of the ``k`` nearest reference spectra, on one of three views of the
spectrum (``KINDS``): the cosine of the spectra as resampled, their Pearson correlation (cosine
after removing the mean), or the cosine of their smoothed first derivatives (which ignores
smooth backgrounds that make unrelated spectra look alike). Optionally each reference's
similarity is lowered by a hub penalty (how much more than the average reference it resembles
the rest of the library): featureless references, a fluorescence background or a noisy scan,
otherwise "match" anything.

The score becomes a verdict through a conformal p-value: the share of *in-library* calibration
spectra (whose species is in the library but whose specimen is not) at least as far from the
library. Those calibration scores come from splits of the library that leave out whole species
and whole specimens, so both kinds of held-out spectrum exist; ``fit_novelty`` picks the view,
``k`` and hub weight with the best AUROC on those splits and keeps the in-library scores. A
spectrum with p-value below ``alpha`` is "no close match in the reference library"; at
``alpha`` = 0.05 about 95% of spectra of known species keep their species answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import savgol_filter

from rruffgeo.parallel import side_by_side
from rruffgeo.provenance.library import unit_rows
from rruffgeo.workdir import read_json, write_json_atomic

KINDS = ("cosine", "correlation", "derivative")
NEIGHBOURS = (1, 5)
#: Weights of the hub penalty tried (0: none); see ``hub_offsets``.
HUB_WEIGHTS = (0.0, 0.5)
#: Neighbours (of other specimens) whose mean similarity says how much of a hub a reference is.
HUB_NEIGHBOURS = 10
NOVELTY_JSON = "novelty.json"
FORMAT = "rruffgeo-novelty/1"
DEFAULT_ALPHA = 0.05
#: Savitzky-Golay window (grid points) and order of the derivative view.
DERIVATIVE_WINDOW, DERIVATIVE_ORDER = 9, 2
BLOCK = 1024


def features(X: np.ndarray, kind: str) -> np.ndarray:
    """Unit-length rows of one view of the spectra (see the module doc)."""
    X = np.asarray(X, dtype=np.float32)
    if kind == "cosine":
        return unit_rows(X)
    if kind == "correlation":
        return unit_rows(X - X.mean(axis=1, keepdims=True))
    if kind == "derivative":
        if X.shape[1] < DERIVATIVE_WINDOW:
            return unit_rows(np.diff(X, axis=1))
        return unit_rows(savgol_filter(X, DERIVATIVE_WINDOW, DERIVATIVE_ORDER, deriv=1,
                                       axis=1).astype(np.float32))
    raise ValueError(f"novelty view {kind!r}: choose one of {', '.join(KINDS)}")


def top_similarities(queries: np.ndarray, refs: np.ndarray, k: int,
                     offset: np.ndarray | None = None) -> np.ndarray:
    """(n, k) largest similarities of unit ``queries`` to unit ``refs`` (less each reference's
    ``offset``), best first; blocked so the full similarity matrix is never held."""
    k = min(k, len(refs))
    out = np.zeros((len(queries), k), dtype=np.float32)
    for start in range(0, len(queries), BLOCK):
        out[start:start + BLOCK] = top_of(queries[start:start + BLOCK] @ refs.T, k, offset)
    return out


def top_of(sims: np.ndarray, k: int, offset: np.ndarray | None = None) -> np.ndarray:
    """(n, k) largest values of each row of ``sims`` less ``offset`` (per column), best first;
    ``sims`` is changed (the offset taken off in place)."""
    if offset is not None:
        sims -= offset[None, :]
    k = min(k, sims.shape[1])
    part = np.partition(-sims, k - 1, axis=1)[:, :k] if k < sims.shape[1] else -sims
    return -np.sort(part, axis=1)[:, :k]


def hub_offsets(F: np.ndarray, groups: np.ndarray, weight: float) -> np.ndarray:
    """Per reference, ``weight`` times how much more than the average reference it resembles
    the rest of the library (mean similarity to its ``HUB_NEIGHBOURS`` nearest spectra of
    other specimens, centred). Featureless references (a fluorescence background, a noisy
    scan) resemble everything; without the penalty any spectrum "matches" them."""
    return hub_offsets_of(F, groups, [np.arange(len(F))], weight)[0]


def hub_offsets_of(F: np.ndarray, groups: np.ndarray, libraries: list[np.ndarray],
                   weight: float) -> list[np.ndarray]:
    """``hub_offsets(F[lib], groups[lib], weight)`` of each library ``lib`` (rows of ``F``),
    from one pass of products over ``F``: the open-set splits of a model's fit are subsets
    of one library, and comparing each with itself repeated the same products (72 of the
    143 s of a `provenance-fit`). Blocks of rows run side by side (their partial sorts are
    most of the time once the products are shared)."""
    groups = np.asarray(groups)
    member = np.zeros((len(libraries), len(F)), bool)
    for i, lib in enumerate(libraries):
        member[i, lib] = True
    raw = np.full(member.shape, np.nan, np.float32)
    depth = [min(HUB_NEIGHBOURS, len(lib) - 1) for lib in libraries]
    if weight != 0.0:
        def block(start: int) -> None:  # writes its own columns of raw
            sims = F[start:start + BLOCK] @ F.T
            sims[groups[start:start + BLOCK, None] == groups[None, :]] = -np.inf
            for i, (inside, k) in enumerate(zip(member, depth, strict=True)):
                rows = np.flatnonzero(inside[start:start + BLOCK])
                if len(rows) and k > 0:
                    raw[i, start + rows] = _mean_top(np.where(inside, sims[rows], -np.inf), k)

        side_by_side(block, range(0, len(F), BLOCK))
    return [_centred(raw[i, lib], weight) for i, lib in enumerate(libraries)]


def _mean_top(sims: np.ndarray, k: int) -> np.ndarray:
    """Mean of each row's ``k`` largest values; NaN where one of them is not finite."""
    part = np.partition(sims, sims.shape[1] - k, axis=1)[:, sims.shape[1] - k:]
    return np.where(np.isfinite(part), part, np.nan).mean(axis=1)


def _centred(hub: np.ndarray, weight: float) -> np.ndarray:
    """``weight`` times the hub values less their mean, NaN taken as the mean (zeros for a
    library of fewer than two spectra, or no weight)."""
    if weight == 0.0 or len(hub) < 2:
        return np.zeros(len(hub), dtype=np.float32)
    hub = np.nan_to_num(hub, nan=float(np.nanmean(hub)) if np.isfinite(hub).any() else 0.0)
    return (weight * (hub - hub.mean())).astype(np.float32)


def scores_from_top(top: np.ndarray, k: int) -> np.ndarray:
    """Novelty score: one minus the mean of the ``k`` best similarities (1, the farthest an
    unpenalised score gets, when the library is empty)."""
    if top.shape[1] == 0:
        return np.ones(len(top), dtype=np.float32)
    return 1.0 - top[:, :k].mean(axis=1)


def open_set_folds(species: np.ndarray, groups: np.ndarray, n_folds: int, seed: int
                   ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per fold: (library rows, query rows, query is out-of-library).

    Fold ``f`` holds out every spectrum of one fifth of the species and, among the rest, of
    one fifth of the specimens; a query is out-of-library when no spectrum of its species is
    left in the library (a species with one specimen leaves with it).
    """
    species, groups = np.asarray(species), np.asarray(groups)
    rng = np.random.default_rng(seed)
    sp_fold = _random_fold(np.unique(species), n_folds, rng)
    gr_fold = _random_fold(np.unique(groups), n_folds, rng)
    row_sp = np.array([sp_fold[s] for s in species])
    row_gr = np.array([gr_fold[g] for g in groups])
    out = []
    for f in range(n_folds):
        held = (row_sp == f) | (row_gr == f)
        lib, query = np.flatnonzero(~held), np.flatnonzero(held)
        known = np.isin(species[query], np.unique(species[lib]))
        out.append((lib, query, ~known))
    return out


def _random_fold(values: np.ndarray, n_folds: int, rng: np.random.Generator) -> dict[Any, int]:
    order = rng.permutation(len(values))
    return {values[i]: int(j % n_folds) for j, i in enumerate(order)}


def auroc(scores: np.ndarray, is_out: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` separating out-of-library (True) queries; ties
    count one half (Mann-Whitney)."""
    from scipy.stats import rankdata

    is_out = np.asarray(is_out, bool)
    n_out, n_in = int(is_out.sum()), int((~is_out).sum())
    if n_out == 0 or n_in == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[is_out].sum() - n_out * (n_out + 1) / 2) / (n_out * n_in))


def split_scores(X: np.ndarray, species: np.ndarray, groups: np.ndarray, n_folds: int,
                 seed: int) -> tuple[dict[tuple[str, int, float], np.ndarray], np.ndarray]:
    """Held-out novelty scores of every (view, k, hub weight) over the open-set folds, and
    whether each scored spectrum was out-of-library (a row gets one score per fold holding
    it out)."""
    scores: dict[tuple[str, int, float], list[np.ndarray]] = {}
    labels = []
    folds = open_set_folds(species, groups, n_folds, seed)
    for kind in KINDS:
        F = features(X, kind)
        for lib, query, out in folds:
            if len(lib) == 0 or len(query) == 0:
                continue  # a tiny library where one fold holds everything out
            for w in HUB_WEIGHTS:
                offset = hub_offsets(F[lib], np.asarray(groups)[lib], w)
                top = top_similarities(F[query], F[lib], max(NEIGHBOURS), offset)
                for k in NEIGHBOURS:
                    scores.setdefault((kind, k, w), []).append(scores_from_top(top, k))
            if kind == KINDS[0]:
                labels.append(out)
    if not labels:
        raise ValueError("every open-set split left an empty library or no held-out spectra")
    return {key: np.concatenate(v) for key, v in scores.items()}, np.concatenate(labels)


@dataclass
class NoveltyModel:
    """A novelty view, its ``k``, the hub penalty per library spectrum (``offsets``, in the
    library's order) and the in-library calibration scores (sorted)."""

    kind: str
    k: int
    calibration: np.ndarray
    alpha: float = DEFAULT_ALPHA
    inner_auroc: dict[str, float] = field(default_factory=dict)
    hub_weight: float = 0.0
    offsets: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.calibration = np.sort(np.asarray(self.calibration, dtype=np.float64))
        if len(self.calibration) == 0:
            raise ValueError("novelty calibration needs at least one in-library score")

    @property
    def label(self) -> str:
        """How the answer names the score's view."""
        return f"{self.kind}, k={self.k}"

    @property
    def threshold(self) -> float:
        """Scores above this are flagged: at most ``M = ceil(alpha (n+1)) - 2`` calibration
        scores are at least as large, which is ``p_value < alpha``."""
        n = len(self.calibration)
        m = int(np.ceil(self.alpha * (n + 1) - 1e-12)) - 2
        if m < 0:
            return float("inf")
        return float(self.calibration[n - m - 1]) if m < n else float("-inf")

    def score(self, spectra: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """Novelty scores of ``spectra`` against ``reference`` (both on the same grid; the
        reference the model was fitted on when it has a hub penalty)."""
        offsets = self.offsets
        if offsets is not None and len(offsets) != len(reference):
            raise ValueError(f"novelty model fitted on {len(offsets)} reference spectra, "
                             f"given {len(reference)}")
        top = top_similarities(features(spectra, self.kind), features(reference, self.kind),
                               self.k, offsets)
        return scores_from_top(top, self.k)

    def score_similarities(self, sims: np.ndarray) -> np.ndarray:
        """``score`` from the similarities (queries, reference spectra) in this model's view,
        for a caller that has them already; ``sims`` is changed."""
        if self.offsets is not None and len(self.offsets) != sims.shape[1]:
            raise ValueError(f"novelty model fitted on {len(self.offsets)} reference spectra, "
                             f"given {sims.shape[1]}")
        return scores_from_top(top_of(sims, self.k, self.offsets), self.k)

    def p_values(self, scores: np.ndarray) -> np.ndarray:
        """Conformal p-value: share of in-library calibration scores at least as large."""
        n = len(self.calibration)
        at_least = n - np.searchsorted(self.calibration, np.asarray(scores), side="left")
        return (1.0 + at_least) / (n + 1.0)

    def is_novel(self, scores: np.ndarray) -> np.ndarray:
        """True where the p-value is below ``alpha``: no close match in the library."""
        return self.p_values(scores) < self.alpha

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (no pickle): what a model folder keeps in ``novelty.json``."""
        return {"format": FORMAT, "kind": self.kind, "k": self.k, "alpha": self.alpha,
                "calibration": [round(float(s), 6) for s in self.calibration],
                "inner_auroc": self.inner_auroc, "hub_weight": self.hub_weight,
                "offsets": None if self.offsets is None
                else [round(float(o), 6) for o in self.offsets]}

    @classmethod
    def from_json(cls, spec: dict[str, Any]) -> NoveltyModel:
        """The model ``to_json`` wrote; ValueError for another format."""
        if spec.get("format") != FORMAT:
            raise ValueError(f"unknown novelty format {spec.get('format')!r}")
        offsets = spec.get("offsets")
        return cls(str(spec["kind"]), int(spec["k"]), np.asarray(spec["calibration"]),
                   float(spec["alpha"]), dict(spec.get("inner_auroc", {})),
                   float(spec.get("hub_weight", 0.0)),
                   None if offsets is None else np.asarray(offsets, dtype=np.float32))

    def save(self, folder: Path) -> Path:
        """Write ``novelty.json`` into the model folder (atomically)."""
        path = Path(folder) / NOVELTY_JSON
        write_json_atomic(path, self.to_json())
        return path


def load_novelty(folder: Path) -> NoveltyModel | None:
    """The model folder's novelty calibration, or None (saved before it existed, unreadable)."""
    spec = read_json(Path(folder) / NOVELTY_JSON)
    if not isinstance(spec, dict):
        return None
    try:
        return NoveltyModel.from_json(spec)
    except (KeyError, ValueError, TypeError, json.JSONDecodeError):
        return None


def fit_novelty(X: np.ndarray, species: np.ndarray, groups: np.ndarray, seed: int,
                n_folds: int = 5, alpha: float = DEFAULT_ALPHA) -> NoveltyModel:
    """Choose the view, ``k`` and hub weight by AUROC on open-set splits of (X, species,
    groups), keep that choice's in-library scores as the conformal calibration and the hub
    penalty of every spectrum of X (the library the model will be used with)."""
    scores, is_out = split_scores(X, species, groups, n_folds, seed)
    aucs = {view_name(*key): auroc(s, is_out) for key, s in scores.items()}
    kind, k, w = max(scores, key=lambda key: np.nan_to_num(aucs[view_name(*key)]))
    offsets = hub_offsets(features(X, kind), np.asarray(groups), w) if w else None
    return NoveltyModel(kind, k, scores[(kind, k, w)][~is_out], alpha, aucs, w, offsets)


def view_name(kind: str, k: int, hub_weight: float = 0.0) -> str:
    """A score's name in tables: view, neighbours and hub weight."""
    return f"{kind}/k={k}" + (f"/hub={hub_weight:g}" if hub_weight else "")
