"""The enriched provenance answer: novelty verdict, prior fallback, HQI and continents."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from reference_answers import enrich
from rruffgeo.provenance.answer import (
    MODEL_BASIS,
    NO_MATCH,
    PRIOR_BASIS,
    prior_countries,
)
from rruffgeo.provenance.continents import fit_continents
from rruffgeo.provenance.final import ProvenanceResult
from rruffgeo.provenance.library import ReferenceLibrary
from rruffgeo.provenance.novelty import fit_novelty
from test_openset import GRID, _library, _peaks

CLASSES = ["USA", "FRA", "BRA"]
NAMES = ["United States", "France", "Brazil"]


@pytest.fixture(scope="module")
def predictor():
    X, sp, gr, centres = _library(n_species=24, per=3, seed=2)
    country = np.array(CLASSES)[np.arange(len(sp)) % 3]
    meta = pd.DataFrame({"spectrum_id": gr, "specimen_id": gr, "mineral": sp, "locality": "",
                         "country_iso3": country, "country_name": "", "lat": np.nan,
                         "lon": np.nan})
    lib = ReferenceLibrary(X, meta, GRID)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    p = rng.dirichlet(np.ones(3), 300)
    p[np.arange(300), y] += 1.0
    p /= p.sum(axis=1, keepdims=True)
    cont = fit_continents(p, y, np.arange(300), CLASSES)
    return SimpleNamespace(library=lib, classes=CLASSES, class_names=NAMES,
                           novelty=fit_novelty(X, sp, gr, seed=0), continents=cont,
                           centres=centres)


def _result(lib: ReferenceLibrary, q: np.ndarray) -> ProvenanceResult:
    countries = pd.DataFrame({"rank": [1, 2, 3], "country_iso3": ["FRA", "USA", "BRA"],
                              "country_name": ["France", "United States", "Brazil"],
                              "probability": [0.7, 0.2, 0.1], "in_set": [True, True, False]})
    sims = lib.similarities(q[None, :])
    return ProvenanceResult(countries, lib.species_match(sims, 3)[0],
                            lib.nearest_specimens(sims, 3)[0], "spectrum", "", 2)


def test_known_spectrum_keeps_its_model_answer_with_hqi_and_continents(predictor):
    q = _peaks(predictor.centres[0], np.random.default_rng(11)).astype(np.float32)
    r = enrich(predictor, q[None, :], [_result(predictor.library, q)], 0.9)[0]
    assert r.novelty is not None and not r.novelty.novel
    assert r.country_basis == MODEL_BASIS and r.countries["country_iso3"].iloc[0] == "FRA"
    assert "hqi" in r.species.columns and r.species["hqi"].iloc[0] > 90
    assert r.continents["continent"].tolist()[0] == "Europe"
    assert r.continents["probability"].sum() == pytest.approx(1.0)
    assert r.continents["in_set"].iloc[0]


def test_flat_and_unknown_spectra_fall_back_to_the_stated_prior(predictor):
    flat = np.zeros(len(GRID), np.float32)
    r = enrich(predictor, flat[None, :], [_result(predictor.library, flat)], 0.9)[0]
    assert r.novelty.verdict == NO_MATCH and r.novelty.p_value < 0.05
    assert r.country_basis == PRIOR_BASIS
    prior = prior_countries(predictor, 0.9)
    pd.testing.assert_frame_equal(r.countries, prior)
    assert r.set_size == int(prior["in_set"].sum())
    assert len(r.specimens) == 3  # the nearest entries are still shown
    assert r.species["hqi"].iloc[0] == 0.0


def test_prior_set_is_the_smallest_holding_the_coverage(predictor):
    prior = prior_countries(predictor, 0.5)
    mass = prior["probability"].to_numpy()
    k = int(prior["in_set"].sum())
    assert mass[:k].sum() >= 0.5 and mass[:k - 1].sum() < 0.5
    assert prior["probability"].sum() == pytest.approx(1.0)


def test_without_novelty_or_continent_files_only_hqi_is_added(predictor):
    bare = SimpleNamespace(library=predictor.library, classes=CLASSES, class_names=NAMES,
                           novelty=None, continents=None)
    flat = np.zeros(len(GRID), np.float32)
    r = enrich(bare, flat[None, :], [_result(bare.library, flat)], 0.9)[0]
    assert r.novelty is None and r.continents is None and r.country_basis == MODEL_BASIS
    assert "hqi" in r.species.columns
