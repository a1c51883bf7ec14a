"""What a mineralogist can act on, in each provenance answer: is the spectrum in the
library at all (novelty), how good the species hits are (HQI), and the continent.

Torch-free. The answer type and its parts; ``answer_batch.answers`` fills them for many
spectra at once from arrays. Per spectrum an answer holds:

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

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from rruffgeo.provenance.deferred import TableField
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
