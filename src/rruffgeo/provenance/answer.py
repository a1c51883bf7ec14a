"""What a mineralogist can act on, added to each provenance answer: is the spectrum in the
library at all (novelty), how good the species hits are (HQI), and the continent.

Torch-free. ``enrich`` takes the answers of :class:`~rruffgeo.provenance.final.
ProvenancePredictor` and adds, per spectrum:

* the novelty verdict (``novelty.json`` of the model folder): its score, conformal p-value and
  whether the spectrum has "no close match in the reference library". Such a spectrum keeps its
  nearest entries, but its country answer is replaced by the stated prior (each country's share
  of the library's spectra, the set the smallest holding ``coverage`` of that prior), because
  neighbours of other species say nothing about where it came from;
* an ``hqi`` column in the species table;
* continent probabilities with their conformal set (``continents.json``), summed from the
  country answer actually given.

A model folder saved before these files existed gets HQI only, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from rruffgeo.provenance.continents import ContinentModel
from rruffgeo.provenance.deferred import TableField
from rruffgeo.provenance.hqi import species_hqi
from rruffgeo.provenance.models import class_prior

if TYPE_CHECKING:
    from rruffgeo.provenance.library import ReferenceLibrary


class ProvenancePredictor(Protocol):
    """What an answer is enriched from: the final model's classes and reference library
    (``rruffgeo.provenance.final.ProvenancePredictor``; its novelty and continent models are
    read with ``getattr`` as models saved before them lack both)."""

    classes: list[str]
    class_names: list[str]
    library: ReferenceLibrary


@dataclass
class ProvenanceResult:
    """One spectrum's answer: countries (calibrated, with the set), species and specimens.
    The tables may be given `Deferred` (built when first read, see ``deferred``)."""

    countries: pd.DataFrame = TableField()  # type: ignore[assignment]
    species: pd.DataFrame = TableField()  # type: ignore[assignment]
    specimens: pd.DataFrame = TableField()  # type: ignore[assignment]
    evidence: str
    mineral_used: str
    set_size: int
    #: "model", or the prior's statement when the spectrum has no close match in the library.
    country_basis: str = "model"
    #: The open-set verdict (``rruffgeo.provenance.answer.Novelty``); None when not checked.
    novelty: Any = None
    #: Continent probabilities with their set (``answer.CONTINENT_COLUMNS``), or None.
    continents: pd.DataFrame | None = TableField(default=None)  # type: ignore[assignment]



NO_MATCH = "no close match in the reference library"
MATCH = "in the reference library"
UNCHECKED = "not checked (model saved without novelty.json)"
PRIOR_BASIS = "prior (share of the library's spectra): no close match in the library"
MODEL_BASIS = "model"
CONTINENT_COLUMNS = ["rank", "continent", "probability", "in_set"]


@dataclass
class Novelty:
    """One spectrum's open-set verdict."""

    verdict: str
    score: float
    p_value: float
    threshold: float
    view: str

    @property
    def novel(self) -> bool:
        """True when nothing in the library is close: the answer falls back to the prior."""
        return self.verdict == NO_MATCH

    def to_json(self) -> dict[str, Any]:
        """The verdict as the JSON output's ``library_match``."""
        return {"verdict": self.verdict, "novel": self.novel, "score": self.score,
                "p_value": self.p_value, "threshold": self.threshold, "view": self.view}


def prior_countries(predictor: ProvenancePredictor, coverage: float) -> pd.DataFrame:
    """The country table of the stated prior: share of the library's spectra, with the
    smallest set of most probable countries holding ``coverage`` of it."""
    index = {c: i for i, c in enumerate(predictor.classes)}
    y = predictor.library.meta["country_iso3"].map(index).to_numpy(np.int64)
    p = class_prior(y, len(predictor.classes))
    order = np.argsort(-p, kind="stable")
    mass = np.cumsum(p[order])
    in_set = np.r_[True, mass[:-1] < coverage]
    return pd.DataFrame({"rank": np.arange(1, len(order) + 1),
                         "country_iso3": np.asarray(predictor.classes)[order],
                         "country_name": np.asarray(predictor.class_names)[order],
                         "probability": p[order], "in_set": in_set})


def continent_table(model: ContinentModel, countries: pd.DataFrame, coverage: float,
                    calibrate: bool) -> pd.DataFrame:
    """Continents of one answer, most probable first, with the conformal set at ``coverage``.
    The prior's sums are not re-calibrated (the calibration was fitted on the model's)."""
    p = countries.set_index("country_iso3")["probability"].reindex(model.countries)
    row = p.fillna(0.0).to_numpy(float)[None, :]
    proba = model.proba(row) if calibrate else model.summed(row)
    if str(coverage) in model.set_thresholds:
        in_set = model.sets(proba, coverage)[0]
    else:
        in_set = np.zeros(proba.shape[1], bool)
        in_set[proba[0].argmax()] = True
    order = np.argsort(-proba[0], kind="stable")
    return pd.DataFrame({"rank": np.arange(1, len(order) + 1),
                         "continent": np.asarray(model.names)[order],
                         "probability": proba[0][order], "in_set": in_set[order]})


def novelty_verdicts(predictor: ProvenancePredictor, spectra: np.ndarray
                     ) -> list[Novelty | None]:
    """Per spectrum, the open-set verdict (None for each when the model has no novelty.json)."""
    model = getattr(predictor, "novelty", None)
    if model is None:
        return [None] * len(spectra)
    scores = model.score(spectra, predictor.library.X)
    p = model.p_values(scores)
    view = getattr(model, "label", f"{model.kind}, k={model.k}")
    return [Novelty(NO_MATCH if pi < model.alpha else MATCH, float(s), float(pi),
                    model.threshold, view) for s, pi in zip(scores, p, strict=True)]


def enrich(predictor: ProvenancePredictor, spectra: np.ndarray,
           results: list[ProvenanceResult], coverage: float) -> list[ProvenanceResult]:
    """The answers with novelty, HQI and continents added (see the module doc)."""
    spectra = np.asarray(spectra, np.float32)
    species = species_hqi(predictor.library, spectra, [r.species for r in results])
    verdicts = novelty_verdicts(predictor, spectra)
    continents: ContinentModel | None = getattr(predictor, "continents", None)
    prior = prior_countries(predictor, coverage)
    out = []
    for r, sp, nv in zip(results, species, verdicts, strict=True):
        novel = nv is not None and nv.novel
        countries = prior if novel else r.countries
        cont = (continent_table(continents, countries, coverage, calibrate=not novel)
                if continents is not None else None)
        out.append(replace(r, species=sp, countries=countries,
                           set_size=int(countries["in_set"].sum()),
                           country_basis=PRIOR_BASIS if novel else MODEL_BASIS,
                           novelty=nv, continents=cont))
    return out
