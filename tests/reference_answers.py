"""The per-spectrum answer path that ``provenance/answer_batch.py`` replaced, kept verbatim as
the reference the batch answers are checked against (novelty verdict, prior fallback, HQI,
continents), and the per-spectrum output tables and JSON that ``provenance/output.py``
replaced (``output_tables``, ``output_json``): test code, not the product's."""

from __future__ import annotations

import json
from collections.abc import Sequence
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
from rruffgeo.provenance.output import COUNTRY_COLUMNS


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


def country_rows(name: str, r: ProvenanceResult, coverage: float, top_k: int) -> pd.DataFrame:
    """The ``max(top_k, set size)`` most probable countries of one file."""
    df = r.countries.head(max(top_k, r.set_size)).copy()
    df.insert(0, "file", name)
    best = r.species.iloc[0] if len(r.species) else None
    df["set_size"], df["coverage"] = r.set_size, coverage
    df["evidence"], df["mineral_given"] = r.evidence, r.mineral_used
    df["species_match"] = best["species"] if best is not None else ""
    df["species_similarity"] = float(best["similarity"]) if best is not None else float("nan")
    df["species_hqi"] = float(best["hqi"]) if best is not None and "hqi" in best else \
        float("nan")
    nv = r.novelty
    df["library_match"] = nv.verdict if nv is not None else "not checked"
    df["novelty_score"] = nv.score if nv is not None else float("nan")
    df["novelty_p_value"] = nv.p_value if nv is not None else float("nan")
    df["country_basis"] = r.country_basis
    cont = r.continents
    df["continent"] = cont["continent"].iloc[0] if cont is not None else ""
    df["continent_probability"] = float(cont["probability"].iloc[0]) if cont is not None \
        else float("nan")
    df["continent_set"] = ";".join(cont[cont["in_set"]]["continent"]) if cont is not None \
        else ""
    return df[COUNTRY_COLUMNS]


def output_tables(names: Sequence[str], results: Sequence[ProvenanceResult], coverage: float,
           top_k: int = 3) -> dict[str, pd.DataFrame]:
    """Countries, species, specimens and continents of every file as long tables (the
    continents only when the model has them)."""
    def with_file(frames: list[pd.DataFrame | None]) -> pd.DataFrame:
        parts = [f.assign(file=n)[["file", *f.columns]] for n, f in
                 zip(names, frames, strict=True) if f is not None]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    return {
        "countries": pd.concat([country_rows(n, r, coverage, top_k)
                                for n, r in zip(names, results, strict=True)], ignore_index=True)
        if results else pd.DataFrame(columns=COUNTRY_COLUMNS),
        "species": with_file([r.species for r in results]),
        "specimens": with_file([r.specimens for r in results]),
        "continents": with_file([r.continents for r in results]),
    }


def output_json(names: Sequence[str], results: Sequence[ProvenanceResult], coverage: float,
            refused: Sequence[tuple[str, str]]) -> str:
    out = {}
    for name, r in zip(names, results, strict=True):
        in_set = r.countries[r.countries["in_set"]]
        out[name] = {
            "evidence": r.evidence, "mineral_given": r.mineral_used,
            "coverage": coverage, "set_size": r.set_size,
            "prediction_set": in_set["country_iso3"].tolist(),
            "countries": r.countries.to_dict("records"),
            "species": r.species.to_dict("records"),
            "nearest_specimens": r.specimens.astype(object).where(r.specimens.notna(), None)
            .to_dict("records"),
            "library_match": r.novelty.to_json() if r.novelty is not None else None,
            "country_basis": r.country_basis,
            "continents": r.continents.to_dict("records") if r.continents is not None
            else None,
        }
    payload = {"predictions": out, "refused": [{"file": f, "reason": m} for f, m in refused]}
    return json.dumps(payload, indent=2, default=float) + "\n"
