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
from rruffgeo.provenance.deferred import Deferred, LongRows


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


def _ranked(columns: dict[str, np.ndarray]) -> LongRows:
    """``LongRows`` of (n, k) column arrays, each query's ``k`` rows ranked 1 to ``k``."""
    n, k = next(iter(columns.values())).shape

    def build(keep: np.ndarray | None) -> pd.DataFrame:
        rank = np.tile(np.arange(1, k + 1), n)
        flat = {"rank": rank, **{c: v.ravel() for c, v in columns.items()}}
        return pd.DataFrame(flat if keep is None else {c: v[keep] for c, v in flat.items()})

    return LongRows(build, n, k)


def _country_rows(predictor: Any, proba: np.ndarray, thresholds: np.ndarray,
                  novel: np.ndarray, prior: pd.DataFrame) -> tuple[LongRows, np.ndarray]:
    """The country tables (COUNTRY_COLUMNS, most probable first, the set at each row's
    threshold and always the top country; the ``prior`` for ``novel`` rows) and each set's
    size."""
    order = np.argsort(-proba, axis=1, kind="stable")
    p = np.take_along_axis(proba, order, axis=1)
    in_set = np.take_along_axis(conformal_set(proba, thresholds), order, axis=1)
    index = {c: i for i, c in enumerate(predictor.classes)}
    prior_order = prior["country_iso3"].map(index).to_numpy(np.int64)
    order[novel] = prior_order
    p[novel] = prior["probability"].to_numpy(float)
    in_set[novel] = prior["in_set"].to_numpy(bool)
    classes, names = np.asarray(predictor.classes), np.asarray(predictor.class_names)
    rows = _ranked({"country_iso3": classes[order], "country_name": names[order],
                    "probability": p, "in_set": in_set})
    return rows, in_set.sum(axis=1)


def _continent_rows(model: Any, classes: list[str], proba: np.ndarray, novel: np.ndarray,
                    coverage: float) -> LongRows:
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
    return _ranked({"continent": np.asarray(model.names)[order],
                    "probability": np.take_along_axis(out, order, axis=1),
                    "in_set": np.take_along_axis(in_set, order, axis=1)})


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
    countries, sizes = _country_rows(predictor, proba, levels, novel, prior)
    k_species, k_specimens = parts.species.shape[1], parts.specimens.shape[1]
    species = LongRows(lambda keep: library.species_long(
        parts.species, parts.species_similarity, parts.species_hqi)[_all(keep)], n, k_species)
    specimens = LongRows(lambda keep: library.specimen_long(
        parts.specimens, parts.specimen_similarity)[_all(keep)], n, k_specimens)
    model = getattr(predictor, "continents", None)
    continents = _continent_rows(model, predictor.classes, given, novel, coverage) \
        if model is not None else None
    out = []
    for i in range(n):
        out.append(ProvenanceResult(
            Deferred(countries, i), Deferred(species, i), Deferred(specimens, i), evidence[i],
            minerals[i] if minerals and evidence[i] != "spectrum" else "", int(sizes[i]),
            PRIOR_BASIS if novel[i] else MODEL_BASIS, said[i],
            Deferred(continents, i) if continents is not None else None))
    return out, given


def _all(keep: np.ndarray | None) -> Any:
    """Rows ``keep`` of a long table, or all of them."""
    return slice(None) if keep is None else keep
