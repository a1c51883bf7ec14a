"""The learned novelty score: search features, the boosted trees, calibration and JSON."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from reference_answers import enrich
from rruffgeo.provenance.answer import MODEL_BASIS, NO_MATCH, PRIOR_BASIS
from rruffgeo.provenance.library import ReferenceLibrary
from rruffgeo.provenance.novelty import NoveltyModel, auroc
from rruffgeo.provenance.novelty_features import FEATURE_NAMES, SearchLibrary, search_features
from rruffgeo.provenance.novelty_learned import (
    LearnedNovelty,
    cross_fitted,
    fit_learned_novelty,
    load_novelty_model,
    split_features,
)
from rruffgeo.provenance.novelty_match import band_edges
from test_openset import GRID, _library, _peaks
from test_openset_answer import CLASSES, _result


@pytest.fixture(scope="module")
def fitted():
    X, sp, gr, centres = _library(n_species=30, per=3, seed=0)
    return X, sp, gr, centres, fit_learned_novelty(X, sp, gr, GRID, seed=0)


@pytest.fixture(scope="module")
def fitted_trees():
    """The same library with the trees' row floor lowered, so its splits fit trees."""
    X, sp, gr, centres = _library(n_species=30, per=3, seed=0)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("rruffgeo.provenance.novelty_trees.MIN_TREE_ROWS", 50)
        return X, sp, gr, centres, fit_learned_novelty(X, sp, gr, GRID, seed=0)


def _column(F: np.ndarray, name: str) -> np.ndarray:
    return F[:, FEATURE_NAMES.index(name)]


def test_search_features_of_a_copy_and_of_a_stranger() -> None:
    X, sp, gr, _ = _library(n_species=8, per=3, seed=1)
    codes = pd.factorize(sp)[0]
    lib = SearchLibrary.build(X, codes, band_edges(GRID), groups=gr)
    stranger = _peaks([300.0, 777.0, 1234.0], np.random.default_rng(2))[None, :]
    F = search_features(np.vstack([X[:1], stranger]), lib)
    assert F.shape == (2, len(FEATURE_NAMES))
    for kind in ("cosine", "correlation", "derivative"):
        assert _column(F, f"{kind}_top1")[0] == pytest.approx(1.0, abs=1e-5)
        assert _column(F, f"{kind}_top1")[1] < 0.99
        assert (_column(F, f"{kind}_top1") >= _column(F, f"{kind}_top5")).all()
        assert (_column(F, f"{kind}_species_gap") >= 0).all()
        assert 1 <= _column(F, f"{kind}_species_in_10")[0] <= 8
    assert _column(F, "views_agree")[0] == 3  # every view names the copy's species
    with pytest.raises(ValueError, match="hub values or its specimen groups"):
        SearchLibrary.build(X, codes, band_edges(GRID))


def test_learned_score_flags_unknown_and_flat_spectra_and_keeps_known_ones(fitted) -> None:
    X, sp, gr, centres, model = fitted
    assert set(model.inner_auroc) == {"learned", "derivative_hub_top1"}
    assert model.inner_auroc["learned"] > 0.8
    rng = np.random.default_rng(9)
    known = np.array([_peaks(centres[i], rng) for i in range(10)])
    unknown = np.array([_peaks(list(rng.uniform(200, 1400, 3)), rng) for _ in range(10)])
    flat = np.zeros((1, len(GRID)), np.float32)
    s_known, s_unknown = model.score(known, X), model.score(unknown, X)
    assert ((s_known >= 0) & (s_known <= 1)).all()
    assert model.is_novel(s_known).mean() <= 0.2
    assert model.is_novel(s_unknown).mean() >= 0.8
    assert model.is_novel(model.score(flat, X)).all()
    assert auroc(np.r_[s_known, s_unknown], np.r_[np.zeros(10, bool), np.ones(10, bool)]) > 0.9


def test_calibration_is_the_cross_fitted_in_library_scores(fitted) -> None:
    X, sp, gr, _, model = fitted
    splits = split_features(X, sp, pd.factorize(sp)[0], gr, band_edges(GRID), 5, 0)
    held = cross_fitted(splits, 0)
    is_out = np.concatenate([o for _, o in splits])
    assert np.allclose(model.calibration, np.sort(held[~is_out]))
    # each split's scores come from trees that never saw it: differ from in-sample
    insample = model.score_features(np.vstack([f for f, _ in splits]))
    assert not np.allclose(insample, held)


def test_the_open_set_report_reads_the_rows_the_model_was_fitted_on(fitted) -> None:
    """``fit_with_rows`` gives the model ``fit_learned_novelty`` gives and its cross-fitted
    rows; the report's AUROC is theirs, and a group of strangers is flagged."""
    from rruffgeo.provenance.novelty_eval import group_flagged, novelty_report
    from rruffgeo.provenance.novelty_learned import fit_with_rows

    X, sp, gr, _, model = fitted
    again, rows = fit_with_rows(X, sp, gr, GRID, seed=0)
    assert np.array_equal(again.calibration, model.calibration)
    assert np.array_equal(np.sort(rows.held[~rows.is_out]), model.calibration)
    rng = np.random.default_rng(4)
    strangers = np.array([_peaks(list(rng.uniform(200, 1400, 3)), rng) for _ in range(6)])
    group = group_flagged("strangers", model, strangers, np.repeat(["a", "b", "c"], 2), X)
    assert group.n_spectra == 6 and group.n_specimens == 3 and group.flagged >= 0.8
    report = novelty_report(model, rows, [group])
    assert report.auroc == pytest.approx(auroc(rows.held, rows.is_out))
    assert report.n_in_library + report.n_out_of_library == len(rows.held)
    flagged = model.is_novel(rows.held)
    assert report.flagged_out_of_library == pytest.approx(flagged[rows.is_out].mean())


def test_the_curve_is_the_roc_curve_read_at_each_share_kept() -> None:
    """Perfectly separated scores flag everything at any share kept; scores that know
    nothing follow the diagonal; each point is one a threshold reaches."""
    from rruffgeo.provenance.novelty_eval import CURVE_KEPT, flagged_curve

    is_out = np.r_[np.zeros(500, bool), np.ones(500, bool)]
    assert np.allclose(flagged_curve(np.r_[np.zeros(500), np.ones(500)], is_out), 1.0)
    rng = np.random.default_rng(0)
    noise = flagged_curve(rng.random(1000), is_out)
    assert np.abs(noise - (1.0 - CURVE_KEPT)).max() < 0.1
    scores = np.r_[rng.normal(0, 1, 500), rng.normal(1, 1, 500)]
    curve = flagged_curve(scores, is_out)
    cut = np.quantile(scores[~is_out], 0.9)  # keeps 90% of the in-library rows
    at_90 = curve[np.argmin(np.abs(CURVE_KEPT - 0.9))]
    assert at_90 == pytest.approx((scores[is_out] > cut).mean(), abs=0.01)


def test_round_trip_is_plain_json_and_old_files_still_load(fitted, tmp_path, caplog) -> None:
    X, _, _, _, model = fitted
    model.save(tmp_path)
    doc = json.loads((tmp_path / "novelty.json").read_text())
    assert doc["format"] == "rruffgeo-novelty/3" and doc["features"] == list(FEATURE_NAMES)
    again = load_novelty_model(tmp_path)
    assert isinstance(again, LearnedNovelty)
    assert np.allclose(again.score(X[:5], X), model.score(X[:5], X), atol=1e-4)
    assert again.threshold == pytest.approx(model.threshold, abs=1e-5)
    assert again.search_library(X) is again.search_library(X)  # views built once
    assert again.search_library(X.copy()) is not again.search_library(X)
    with pytest.raises(ValueError, match="fitted on 90 reference spectra"):
        again.score(X[:2], X[:10])
    doc["features"] = doc["features"][:-1]
    (tmp_path / "novelty.json").write_text(json.dumps(doc))
    with caplog.at_level(logging.WARNING):
        assert load_novelty_model(tmp_path) is None
    assert "fitted on other search features" in caplog.text
    NoveltyModel("derivative", 1, np.linspace(0, 1, 40)).save(tmp_path)
    old = load_novelty_model(tmp_path)
    assert type(old) is NoveltyModel and old.kind == "derivative"


def test_answers_use_the_learned_verdict(fitted) -> None:
    X, sp, gr, centres, model = fitted
    meta = pd.DataFrame({"spectrum_id": gr, "specimen_id": gr, "mineral": sp, "locality": "",
                         "country_iso3": np.array(CLASSES)[np.arange(len(sp)) % 3],
                         "country_name": "", "lat": np.nan, "lon": np.nan})
    lib = ReferenceLibrary(X, meta, GRID)
    predictor = SimpleNamespace(library=lib, classes=CLASSES, class_names=CLASSES,
                                novelty=model, continents=None)
    known = _peaks(centres[0], np.random.default_rng(11)).astype(np.float32)
    flat = np.zeros(len(GRID), np.float32)
    r_known, r_flat = enrich(predictor, np.vstack([known, flat]),
                             [_result(lib, known), _result(lib, flat)], 0.9)
    assert not r_known.novelty.novel and r_known.country_basis == MODEL_BASIS
    assert r_known.novelty.view == model.label
    assert r_flat.novelty.verdict == NO_MATCH and r_flat.country_basis == PRIOR_BASIS


def test_scores_from_similarities_the_caller_has_equal_the_scores_computed_here(fitted) -> None:
    """The predict path hands over the cosine and correlation it computed already: the same
    scores as the model's own products, without the second product."""
    from rruffgeo.provenance.novelty import features

    X, _, _, _, model = fitted
    queries = X[::7] + np.random.default_rng(4).normal(0, 0.02, X[::7].shape).astype(np.float32)
    given = {k: features(queries, k) @ features(X, k).T for k in ("cosine", "correlation")}
    np.testing.assert_allclose(model.score(queries, X, given=given), model.score(queries, X),
                               rtol=0, atol=1e-6)
    # what the predictor's own similarity pass gives reaches the same verdicts
    from rruffgeo.provenance.similarity import LibraryViews

    sims = LibraryViews(X, np.ones(X.shape[1], bool)).similarities(queries)
    passed = model.score(queries, X, given={"cosine": sims.cosine,
                                            "correlation": sims.correlation})
    np.testing.assert_allclose(passed, model.score(queries, X), rtol=0, atol=1e-4)


def test_the_product_over_the_columns_a_block_uses_equals_the_whole_product() -> None:
    from rruffgeo.provenance.novelty_features import _block_product

    rng = np.random.default_rng(3)
    refs = rng.random((40, 64)).astype(np.float32)
    q = rng.random((5, 64)).astype(np.float32)
    q[:, :50] = 0.0  # measured over the last 14 points only
    np.testing.assert_allclose(_block_product(q, refs), q @ refs.T, rtol=1e-6)
    full = rng.random((5, 64)).astype(np.float32)
    np.testing.assert_array_equal(_block_product(full, refs), full @ refs.T)


def test_the_batch_verdict_names_the_learned_score_and_views_are_made_when_needed(fitted):
    """The predict path's verdicts say which score judged them (they said 'learned, k=1'),
    and a model that is handed the cosine and correlation builds only the derivative view."""
    from rruffgeo.provenance.answer_batch import verdicts
    from rruffgeo.provenance.novelty import features

    X, _, _, _, fitted_model = fitted
    model = LearnedNovelty.from_json(fitted_model.to_json())  # no views made yet
    given = {k: features(X[:3], k) @ features(X, k).T for k in ("cosine", "correlation")}
    said = verdicts(model, model.score(X[:3], X, given=given), 3)
    assert [v.view for v in said] == [model.label] * 3
    assert model.label == "learned from the library search (regression)"  # 90 spectra
    assert set(model.search_library(X)._views) == {"derivative"}  # the mix uses raw rows


def test_trees_flag_unknown_spectra_and_round_trip(fitted_trees, tmp_path) -> None:
    """Where the splits give enough rows the classifier is the boosted trees: they flag
    spectra with peaks where no species has them, keep known ones, and read back the same."""
    from rruffgeo.provenance.novelty_trees import BoostedTrees

    X, _, _, centres, model = fitted_trees
    assert isinstance(model.classifier, BoostedTrees) and len(model.classifier.trees) == 200
    assert model.label == "learned from the library search (boosted trees)"
    rng = np.random.default_rng(9)
    known = np.array([_peaks(centres[i], rng) for i in range(10)])
    unknown = np.array([_peaks(list(rng.uniform(200, 1400, 3)), rng) for _ in range(10)])
    s_known, s_unknown = model.score(known, X), model.score(unknown, X)
    assert model.is_novel(s_known).mean() <= 0.2 and model.is_novel(s_unknown).mean() >= 0.6
    assert auroc(np.r_[s_known, s_unknown], np.r_[np.zeros(10, bool), np.ones(10, bool)]) > 0.9
    model.save(tmp_path)
    again = load_novelty_model(tmp_path)
    assert json.loads((tmp_path / "novelty.json").read_text())["classifier"]["kind"] == "trees"
    np.testing.assert_allclose(again.score(unknown, X), s_unknown, atol=1e-4)
