"""The learned novelty score: boosted trees over what the library search says.

Torch-free. ``novelty_features.search_features`` describes each query's search (best
similarities in three views, species gap, view agreement, crowding, hub-penalised best) and
how well its best matches explain it (non-negative mix residuals, peak matching, wide-band
shares); boosted trees (``novelty_trees``) fitted on
open-set splits of the training library (``open_set_folds``: held-out spectra of held-out
species are out-of-library, new specimens of kept species in-library) turn them into one
score, the probability of "out of library" on those splits. On inner open-set splits they
flagged more out-of-library spectra at 95% of in-library kept than the 16-feature logistic
regression they replace (``benchmarks/openset_candidates.py``). The verdict is the same
conformal p-value as the nearest-neighbour model's (``NoveltyModel``): the calibration scores
are the cross-fitted scores of the in-library held-out spectra (each scored by trees fitted
without its split), so "p below alpha" keeps about 1 - alpha of spectra of known species.

Saved as plain JSON (``rruffgeo-novelty/3``): the classifier (the trees' node arrays, or the
regression's coefficients for a small library), the calibration scores, the band edges, and
per reference its species code and hub values;
``load_novelty_model`` reads that and the older nearest-neighbour format (a model saved with
the regression, ``rruffgeo-novelty/2``, must be refitted).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rruffgeo.parallel import side_by_side
from rruffgeo.provenance.novelty import (
    DEFAULT_ALPHA,
    FORMAT,
    KINDS,
    NOVELTY_JSON,
    NoveltyModel,
    auroc,
    features,
    hub_offsets_of,
    open_set_folds,
)
from rruffgeo.provenance.novelty_features import FEATURE_NAMES, SearchLibrary, search_features
from rruffgeo.provenance.novelty_match import band_edges
from rruffgeo.provenance.novelty_trees import (
    BoostedTrees,
    Classifier,
    classifier_from_json,
    fit_classifier,
)
from rruffgeo.workdir import read_json

log = logging.getLogger(__name__)
LEARNED_FORMAT = "rruffgeo-novelty/3"
#: The single similarity the learned score is compared with in ``inner_auroc``.
BASELINE = "derivative_hub_top1"


@dataclass
class LearnedNovelty(NoveltyModel):
    """A ``NoveltyModel`` whose score is its classifier's (``novelty_trees``); ``codes`` and
    ``hubs`` describe the reference library it was fitted with, in the library's order, and
    ``edges`` the wide bands on the model's grid."""

    classifier: Classifier = field(default_factory=lambda: BoostedTrees(0.0, []))
    codes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    hubs: dict[str, np.ndarray] = field(default_factory=dict)
    edges: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    _cache: Any = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def label(self) -> str:
        kind = "boosted trees" if isinstance(self.classifier, BoostedTrees) else "regression"
        return f"learned from the library search ({kind})"

    def score_features(self, F: np.ndarray) -> np.ndarray:
        """Probability of "out of library" for feature rows ``F`` (``FEATURE_NAMES``)."""
        return self.classifier.proba(F)

    def score(self, spectra: np.ndarray, reference: np.ndarray,
              given: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """Novelty scores of ``spectra`` against ``reference``, the library the model was
        fitted with (same grid, same order); ``given``: views' similarities the caller has
        computed already (``cosine``, ``correlation``: whole grid, as ``features`` makes them)."""
        if len(reference) != len(self.codes):
            raise ValueError(f"novelty model fitted on {len(self.codes)} reference spectra, "
                             f"given {len(reference)}")
        lib = self.search_library(reference)
        return self.score_features(search_features(spectra, lib, given))

    def search_library(self, reference: np.ndarray) -> SearchLibrary:
        """The reference's views and peaks, built once per reference array (a predictor
        scores every file against the same one; an array changed in place is not noticed)."""
        with self._lock:  # blocks of queries may ask from threads side by side
            if self._cache is None or self._cache[0] is not reference:
                self._cache = (reference, SearchLibrary.build(reference, self.codes,
                                                              self.edges, self.hubs))
            return self._cache[1]

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (no pickle): what a model folder keeps in ``novelty.json``."""
        def rounded(a: np.ndarray) -> list[float]:
            return [round(float(v), 6) for v in a]
        return {"format": LEARNED_FORMAT, "features": list(FEATURE_NAMES), "alpha": self.alpha,
                "calibration": rounded(self.calibration), "inner_auroc": self.inner_auroc,
                "classifier": self.classifier.to_json(), "edges": [int(e) for e in self.edges],
                "codes": [int(c) for c in self.codes],
                "hubs": {k: rounded(v) for k, v in self.hubs.items()}}

    @classmethod
    def from_json(cls, spec: dict[str, Any]) -> LearnedNovelty:
        """The model ``to_json`` wrote; ValueError for another format or feature list."""
        if spec.get("format") != LEARNED_FORMAT:
            raise ValueError(f"unknown novelty format {spec.get('format')!r}; refit with "
                             "`rruffgeo provenance-fit`")
        if list(spec["features"]) != list(FEATURE_NAMES):
            raise ValueError("novelty.json was fitted on other search features; refit with "
                             "`rruffgeo provenance-fit`")
        return cls("learned", 1, np.asarray(spec["calibration"]), float(spec["alpha"]),
                   dict(spec.get("inner_auroc", {})),
                   classifier=classifier_from_json(spec["classifier"]),
                   codes=np.asarray(spec["codes"], np.int64),
                   hubs={k: np.asarray(spec["hubs"][k], np.float32) for k in KINDS},
                   edges=np.asarray(spec["edges"], np.int64))


def split_features(X: np.ndarray, species: np.ndarray, codes: np.ndarray, groups: np.ndarray,
                   edges: np.ndarray, n_folds: int, seed: int
                   ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per open-set split of ``species`` (``codes`` their integer codes): the held-out
    spectra's search features against the split's library, and whether each is
    out-of-library."""
    return split_features_and_hubs(X, species, codes, groups, edges, n_folds, seed)[0]


def split_features_and_hubs(X: np.ndarray, species: np.ndarray, codes: np.ndarray,
                            groups: np.ndarray, edges: np.ndarray, n_folds: int, seed: int
                            ) -> tuple[list[tuple[np.ndarray, np.ndarray]],
                                       dict[str, np.ndarray]]:
    """``split_features``, and the hub values of the whole library ``X`` per view (what the
    fitted model keeps), every library's hub values from one pass per view."""
    folds = [(lib, query, is_out) for lib, query, is_out
             in open_set_folds(species, groups, n_folds, seed)
             if len(lib) >= 2 and len(query)]  # a tiny library: one split holds (almost) all
    libraries = [lib for lib, _, _ in folds] + [np.arange(len(X))]
    hubs = {k: hub_offsets_of(features(X, k), groups, libraries, 1.0) for k in KINDS}

    def split(i: int) -> tuple[np.ndarray, np.ndarray]:
        lib, query, is_out = folds[i]
        library = SearchLibrary.build(X[lib], codes[lib], edges,
                                      hubs={k: hubs[k][i] for k in KINDS})
        return search_features(X[query], library), is_out

    out = side_by_side(split, range(len(folds)))  # the searches' sorts use both cores
    if len(out) < 2 or not any(o.any() and (~o).any() for _, o in out):
        raise ValueError("too few species or specimens for open-set splits with both "
                         "in-library and out-of-library spectra")
    return out, {k: hubs[k][-1] for k in KINDS}


def cross_fitted(splits: list[tuple[np.ndarray, np.ndarray]], seed: int) -> np.ndarray:
    """Each split's scores from trees fitted on the other splits, concatenated."""
    scores = []
    for i, (F, _) in enumerate(splits):
        rest = [s for j, s in enumerate(splits) if j != i]
        trees = fit_classifier(np.vstack([f for f, _ in rest]),
                               np.concatenate([o for _, o in rest]), seed)
        scores.append(trees.proba(F))
    return np.concatenate(scores)


@dataclass
class OpenSetRows:
    """The held-out spectra of the open-set splits a model was fitted on: whether each is
    out-of-library, its cross-fitted score, and the single similarity it is compared with
    (negated: higher is more novel); what ``novelty_eval`` reports."""

    is_out: np.ndarray
    held: np.ndarray
    baseline: np.ndarray
    n_splits: int


def fit_learned_novelty(X: np.ndarray, species: np.ndarray, groups: np.ndarray,
                        grid_cm1: np.ndarray, seed: int, n_folds: int = 5,
                        alpha: float = DEFAULT_ALPHA) -> LearnedNovelty:
    """Fit the trees on open-set splits of (X, species, groups) on the grid ``grid_cm1``,
    calibrate on their cross-fitted in-library scores, and keep species codes and hub values
    of every spectrum of X (the library the model will be used with)."""
    return fit_with_rows(X, species, groups, grid_cm1, seed, n_folds, alpha)[0]


def fit_with_rows(X: np.ndarray, species: np.ndarray, groups: np.ndarray,
                  grid_cm1: np.ndarray, seed: int, n_folds: int = 5,
                  alpha: float = DEFAULT_ALPHA) -> tuple[LearnedNovelty, OpenSetRows]:
    """``fit_learned_novelty``'s model and the open-set rows it was fitted and calibrated on."""
    X, groups = np.asarray(X, np.float32), np.asarray(groups)
    species, edges = np.asarray(species), band_edges(grid_cm1)
    if len(grid_cm1) != X.shape[1]:
        raise ValueError(f"novelty: a grid of {len(grid_cm1)} points for spectra of "
                         f"{X.shape[1]}")
    codes = pd.factorize(species)[0].astype(np.int64)
    splits, hubs = split_features_and_hubs(X, species, codes, groups, edges, n_folds, seed)
    F = np.vstack([f for f, _ in splits])
    is_out = np.concatenate([o for _, o in splits])
    held = cross_fitted(splits, seed)
    rows = OpenSetRows(is_out, held, -F[:, FEATURE_NAMES.index(BASELINE)], len(splits))
    aucs = {"learned": auroc(held, is_out), BASELINE: auroc(rows.baseline, is_out)}
    model = LearnedNovelty("learned", 1, held[~is_out], alpha, aucs,
                           classifier=fit_classifier(F, is_out, seed), codes=codes,
                           hubs=hubs, edges=edges)
    return model, rows


def load_novelty_model(folder: Path) -> NoveltyModel | None:
    """The model folder's novelty model, learned or nearest-neighbour (an older folder), or
    None (saved before novelty existed, unreadable, or fitted on other features)."""
    spec = read_json(Path(folder) / NOVELTY_JSON)
    if not isinstance(spec, dict):
        return None
    try:
        if spec.get("format") == FORMAT:
            return NoveltyModel.from_json(spec)
        return LearnedNovelty.from_json(spec)
    except (KeyError, ValueError, TypeError, json.JSONDecodeError) as exc:
        log.warning("%s: novelty not checked (%s)", Path(folder) / NOVELTY_JSON, exc)
        return None
