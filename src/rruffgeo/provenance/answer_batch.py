"""The answers of many spectra at once, from arrays (the per-spectrum path it replaced is
kept in ``tests/reference_answers.py`` as the reference it is checked against).

Torch-free. ``ProvenancePredictor.predict`` finds, block by block, every query's species,
specimens and novelty score (``MatchParts``); ``answers`` turns them and the calibrated
country probabilities into one `ProvenanceResult` per spectrum: the novelty verdict (a
spectrum with no close match gets the stated prior), the country set, the continents. Every
step runs on the whole batch; the tables are built when first read (``deferred``), all of
them at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rruffgeo.provenance.answer import (
    MATCH,
    MODEL_BASIS,
    NO_MATCH,
    PRIOR_BASIS,
    Novelty,
    ProvenanceResult,
    prior_countries,
)
from rruffgeo.provenance.conformal import conformal_set
from rruffgeo.provenance.deferred import Deferred, LazyRows
from rruffgeo.provenance.library import per_query


@dataclass
class MatchParts:
    """Per query: its best species (codes of ``library.species_groups``) with their
    similarity and best HQI, its nearest specimens (library rows) with their similarity,
    and its novelty score (None: the model has no novelty check)."""

    species: np.ndarray
    species_similarity: np.ndarray
    species_hqi: np.ndarray
    specimens: np.ndarray
    specimen_similarity: np.ndarray
    novelty: np.ndarray | None

    @classmethod
    def concat(cls, parts: list[MatchParts]) -> MatchParts:
        """The parts of consecutive blocks as one."""
        def cat(name: str) -> Any:
            values = [getattr(p, name) for p in parts]
            return None if values[0] is None else np.concatenate(values)

        return cls(*(cat(name) for name in cls.__dataclass_fields__))


def verdicts(model: Any, scores: np.ndarray | None, n: int) -> list[Novelty | None]:
    """Per spectrum, the open-set verdict from its novelty score (None each without one)."""
    if model is None or scores is None:
        return [None] * n
    p = model.p_values(scores)
    return [Novelty(NO_MATCH if pi < model.alpha else MATCH, float(s), float(pi),
                    model.threshold, model.label) for s, pi in zip(scores, p, strict=True)]


def _country_rows(predictor: Any, proba: np.ndarray, thresholds: np.ndarray
                  ) -> tuple[LazyRows, np.ndarray]:
    """The country tables (COUNTRY_COLUMNS, most probable first, the set at each row's
    threshold and always the top country) and each set's size."""
    order = np.argsort(-proba, axis=1, kind="stable")
    p = np.take_along_axis(proba, order, axis=1)
    in_set = np.take_along_axis(conformal_set(proba, thresholds), order, axis=1)
    classes, names = np.asarray(predictor.classes), np.asarray(predictor.class_names)

    def build() -> list[pd.DataFrame]:
        n, k = order.shape
        return per_query(pd.DataFrame({
            "rank": np.tile(np.arange(1, k + 1), n), "country_iso3": classes[order].ravel(),
            "country_name": names[order].ravel(), "probability": p.ravel(),
            "in_set": in_set.ravel()}), n, k)

    return LazyRows(build), in_set.sum(axis=1)


def _continent_rows(model: Any, classes: list[str], proba: np.ndarray, novel: np.ndarray,
                    coverage: float) -> LazyRows:
    """The continent tables of the country answers given (rows of ``proba``, in class
    order): sums re-calibrated, except for the prior's (``novel``), with their set."""
    index = {c: i for i, c in enumerate(classes)}
    at = np.array([index.get(c, -1) for c in model.countries])
    rows = np.where(at >= 0, proba[:, np.maximum(at, 0)], 0.0)
    out = np.empty((len(rows), len(model.names)))
    if (~novel).any():
        out[~novel] = model.proba(rows[~novel])
    if novel.any():
        out[novel] = model.summed(rows[novel])
    if str(coverage) in model.set_thresholds:
        in_set = model.sets(out, coverage)
    else:
        in_set = np.zeros(out.shape, bool)
        in_set[np.arange(len(out)), out.argmax(axis=1)] = True
    order = np.argsort(-out, axis=1, kind="stable")
    names = np.asarray(model.names)

    def build() -> list[pd.DataFrame]:
        n, k = order.shape
        return per_query(pd.DataFrame({
            "rank": np.tile(np.arange(1, k + 1), n), "continent": names[order].ravel(),
            "probability": np.take_along_axis(out, order, axis=1).ravel(),
            "in_set": np.take_along_axis(in_set, order, axis=1).ravel()}), n, k)

    return LazyRows(build)


def answers(predictor: Any, proba: np.ndarray, evidence: list[str],
            minerals: list[str] | None, parts: MatchParts, coverage: float
            ) -> tuple[list[ProvenanceResult], np.ndarray]:
    """One result per spectrum (see the module doc) and the country probabilities given,
    in class order (the prior's for a spectrum with no close match)."""
    n, library = len(proba), predictor.library
    said = verdicts(getattr(predictor, "novelty", None), parts.novelty, n)
    novel = np.array([v is not None and v.novel for v in said], dtype=bool)
    prior = prior_countries(predictor, coverage)
    prior_p = prior.set_index("country_iso3")["probability"].reindex(predictor.classes)
    given = np.where(novel[:, None], prior_p.to_numpy(float)[None, :], proba)
    levels = np.array([predictor.spec["models"][ev]["set_thresholds"][str(coverage)]
                       for ev in evidence], dtype=float)
    countries, sizes = _country_rows(predictor, proba, levels)
    sizes = np.where(novel, int(prior["in_set"].sum()), sizes)
    species = LazyRows(lambda: library.species_tables(
        parts.species, parts.species_similarity, parts.species_hqi))
    specimens = LazyRows(lambda: library.specimen_tables(parts.specimens,
                                                         parts.specimen_similarity))
    model = getattr(predictor, "continents", None)
    continents = _continent_rows(model, predictor.classes, given, novel, coverage) \
        if model is not None else None
    out = []
    for i in range(n):
        out.append(ProvenanceResult(
            prior if novel[i] else Deferred(countries, i), Deferred(species, i),
            Deferred(specimens, i), evidence[i],
            minerals[i] if minerals and evidence[i] != "spectrum" else "", int(sizes[i]),
            PRIOR_BASIS if novel[i] else MODEL_BASIS, said[i],
            Deferred(continents, i) if continents is not None else None))
    return out, given
