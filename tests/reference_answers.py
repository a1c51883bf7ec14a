"""The per-spectrum answer path that ``provenance/answer_batch.py`` replaced, kept verbatim as
the reference the batch answers are checked against (novelty verdict, prior fallback, HQI,
continents): test code, not the product's."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from rruffgeo.provenance.answer import (
    MATCH,
    MODEL_BASIS,
    NO_MATCH,
    PRIOR_BASIS,
    Novelty,
    ProvenancePredictor,
    ProvenanceResult,
    prior_countries,
)
from rruffgeo.provenance.continents import ContinentModel
from rruffgeo.provenance.hqi import hqi
from rruffgeo.provenance.library import ReferenceLibrary, species_key


def species_hqi(library: ReferenceLibrary, spectra: np.ndarray,
                species: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """Each species table with an ``hqi`` column after ``similarity``: the best HQI of the
    query against that species' reference spectra."""
    scores = hqi(spectra, library.X)
    out = []
    for row, table in zip(scores, species, strict=True):
        table = table.copy()
        best = [float(row[library.species == species_key(name)].max(initial=0.0))
                for name in table["species"]]
        table.insert(int(table.columns.get_loc("similarity")) + 1, "hqi", best)
        out.append(table)
    return out


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
    view = model.label
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
