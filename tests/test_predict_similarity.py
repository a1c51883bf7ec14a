"""The provenance predictor's batch path gives the answers of the per-product path it replaced.

``ProvenancePredictor.predict`` computes every similarity of a block of queries from one
product (``provenance/similarity.py``) and builds the answers from arrays
(``provenance/answer_batch.py``); the reference here is the old path kept verbatim: separate
products, ``species_match``/``nearest_specimens`` per call and ``enrich``
(``tests/reference_answers.py``). Floats agree to float32 rounding, everything discrete
exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reference_answers import enrich
from rruffgeo.provenance.answer import ProvenanceResult
from rruffgeo.provenance.deferred import Deferred, LazyRows
from rruffgeo.provenance.hqi import correlation_rows
from rruffgeo.provenance.library import match_window, stable_top, unit_rows
from rruffgeo.provenance.models import first_occurrences
from rruffgeo.provenance.similarity import LibraryViews


def test_similarity_pass_matches_the_separate_products():
    rng = np.random.default_rng(0)
    grid = np.linspace(0.0, 3000.0, 300)
    X = rng.random((150, 300)).astype(np.float32)
    X[5] = 0.0  # a reference with nothing in it
    Q = rng.random((40, 300)).astype(np.float32)
    Q[:10, :120] = 0.0  # measured above the window only in part
    Q[10:20, 100:] = 0.0  # inside the window only
    Q[20, grid <= 1500] = 0.0  # nothing in the window
    window = grid <= 1500
    sims = LibraryViews(X, window).similarities(Q)
    want_cos = unit_rows(Q) @ unit_rows(X).T
    want_win = unit_rows(match_window(Q, grid)) @ unit_rows(match_window(X, grid)).T
    want_cor = correlation_rows(Q) @ correlation_rows(X).T
    for got, want in ((sims.cosine, want_cos), (sims.window, want_win),
                      (sims.correlation, want_cor)):
        assert got.dtype == np.float32 and got.shape == (40, 150)
        np.testing.assert_allclose(got, want, atol=2e-6)
    assert (sims.window[20] == 0).all() and (sims.cosine[:, 5] == 0).all()
    with pytest.raises(ValueError, match="expected"):
        LibraryViews(X, window).similarities(Q[:, :10])


def test_stable_top_is_the_stable_sort():
    rng = np.random.default_rng(1)
    values = np.round(rng.random((60, 40)), 1).astype(np.float32)  # many ties
    values[3] = 0.5
    values[7, 3], values[8] = np.nan, np.nan  # NaN sorts last, as in argsort
    values[9, :5] = np.inf
    for k in (1, 2, 5, 20, 39, 40):
        want = np.argsort(-values, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(stable_top(values, k), want)
    wide = rng.random((30, 5000)).astype(np.float32)
    wide[:, ::2] = np.round(wide[:, ::2], 3)  # ties at the k-th value in most rows
    for k in (50, 800):
        np.testing.assert_array_equal(stable_top(wide, k),
                                      np.argsort(-wide, axis=1, kind="stable")[:, :k])


def test_first_occurrences_marks_each_code_once_per_row():
    rng = np.random.default_rng(2)
    codes = rng.integers(0, 30, (300, 50))
    want = np.zeros(codes.shape, bool)
    for i, row in enumerate(codes):
        want[i, np.unique(row, return_index=True)[1]] = True
    for block in (1, 7, 256):
        np.testing.assert_array_equal(first_occurrences(codes, 30, block), want)


def test_deferred_tables_are_built_once_and_read_as_tables():
    calls = []
    rows = LazyRows(lambda: calls.append(1) or [pd.DataFrame({"x": [i]}) for i in range(3)])
    r = ProvenanceResult(Deferred(rows, 2), Deferred(rows, 1), pd.DataFrame(), "spectrum", "",
                         1, continents=Deferred(rows, 0))
    assert calls == []
    assert r.countries["x"].tolist() == [2] and r.continents["x"].tolist() == [0]
    assert r.species["x"].tolist() == [1] and calls == [1]
    plain = ProvenanceResult(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), "spectrum", "", 1)
    assert plain.continents is None


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    """The tiny final model with a novelty check and continents attached."""
    from rruffgeo.provenance.continents import fit_continents
    from rruffgeo.provenance.final import ProvenancePredictor
    from rruffgeo.provenance.novelty import fit_novelty
    from synthetic_predict import tiny_final, tiny_workdir

    pred = ProvenancePredictor(tiny_final(tiny_workdir(tmp_path_factory.mktemp("tiny"))))
    meta = pred.library.meta
    pred.novelty = fit_novelty(pred.library.X, meta["mineral"].to_numpy(),
                               meta["specimen_id"].to_numpy(), seed=0, n_folds=3)
    rng = np.random.default_rng(0)
    y = rng.integers(0, len(pred.classes), 200)
    p = rng.dirichlet(np.ones(len(pred.classes)), 200)
    p[np.arange(200), y] += 1.0
    pred.continents = fit_continents(p / p.sum(axis=1, keepdims=True), y, np.arange(200),
                                     pred.classes)
    return pred


def reference_predict(pred, spectra, minerals, coverage, n_species, n_specimens):
    """What ``ProvenancePredictor.predict`` did: separate products, then ``enrich``."""
    proba, evidence = pred.predict_proba(spectra, minerals)
    sims = pred.library.similarities(spectra)
    species = pred.library.species_match(sims, n_species)
    specimens = pred.library.nearest_specimens(sims, n_specimens)
    out = []
    for i, p in enumerate(proba):
        threshold = pred.spec["models"][evidence[i]]["set_thresholds"][str(coverage)]
        countries = pred._countries(p, threshold)
        mineral = minerals[i] if minerals and evidence[i] != "spectrum" else ""
        out.append(ProvenanceResult(countries, species[i], specimens[i], evidence[i],
                                    mineral, int(countries["in_set"].sum())))
    return enrich(pred, spectra, out, coverage)


def _queries(pred, n: int, seed: int) -> np.ndarray:
    """Library spectra with noise (known), and noise alone (no close match)."""
    rng = np.random.default_rng(seed)
    X = pred.library.X
    Q = X[rng.integers(0, len(X), n)] + rng.normal(0, 0.002, (n, X.shape[1]))
    Q[: n // 4] = rng.random((n // 4, X.shape[1]))
    return np.clip(Q, 0, None).astype(np.float32)


def _same_table(a: pd.DataFrame, b: pd.DataFrame, exact: tuple[str, ...]) -> None:
    assert list(a.columns) == list(b.columns)
    for column in exact:
        assert a[column].tolist() == b[column].tolist()
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-4, atol=2e-3)


@pytest.mark.parametrize("kind", ["cosine", "correlation", "derivative"])
@pytest.mark.parametrize("coverage", [0.9, 0.95])
def test_batch_answers_are_the_per_product_answers(predictor, kind, coverage, monkeypatch):
    import rruffgeo.provenance.final as final

    monkeypatch.setattr(predictor.novelty, "kind", kind)
    monkeypatch.setattr(predictor.novelty, "offsets", None)
    monkeypatch.setattr(final, "BLOCK", 7)  # several blocks
    Q = _queries(predictor, 30, seed=3)
    minerals = [""] * 10 + [str(predictor.library.meta["mineral"].iloc[0])] * 20
    got, proba = predictor.predict_with_proba(Q, minerals, coverage, 3, 4)
    want = reference_predict(predictor, Q, minerals, coverage, 3, 4)
    assert len(got) == len(want) == 30
    novel = 0
    for g, w, p in zip(got, want, proba, strict=True):
        assert (g.evidence, g.mineral_used, g.set_size, g.country_basis) == \
            (w.evidence, w.mineral_used, w.set_size, w.country_basis)
        assert g.novelty.verdict == w.novelty.verdict and g.novelty.view == w.novelty.view
        assert g.novelty.score == pytest.approx(w.novelty.score, abs=1e-5)
        _same_table(g.countries, w.countries, ("country_iso3", "in_set"))
        _same_table(g.species, w.species, ("species", "n_specimens"))
        _same_table(g.specimens, w.specimens, ("specimen_id", "spectrum_id"))
        _same_table(g.continents, w.continents, ("continent", "in_set"))
        table = g.countries.set_index("country_iso3")["probability"]
        np.testing.assert_array_equal(p, table.reindex(predictor.classes).to_numpy())
        novel += g.novelty.novel
    assert 0 < novel < 30  # both branches taken


def test_batch_answers_do_not_depend_on_the_block_size(predictor, monkeypatch):
    import rruffgeo.provenance.final as final
    from rruffgeo import parallel

    Q = _queries(predictor, 25, seed=4)
    runs = []
    for block, threads in ((1, 1), (6, 1), (6, 3), (512, 2)):  # blocks side by side or not
        monkeypatch.setattr(final, "BLOCK", block)
        monkeypatch.setattr(parallel, "usable_cores", lambda n=threads: n)
        runs.append(predictor.predict_with_proba(Q, None, 0.9, 3, 4))
    for results, proba in runs[1:]:
        np.testing.assert_allclose(proba, runs[0][1], rtol=0, atol=1e-6)
        for a, b in zip(results, runs[0][0], strict=True):
            assert a.species["species"].tolist() == b.species["species"].tolist()
            assert a.specimens["specimen_id"].tolist() == b.specimens["specimen_id"].tolist()
            assert a.novelty.verdict == b.novelty.verdict
    assert predictor.predict_with_proba(Q[:0], None, 0.9)[1].shape == (0, len(
        predictor.classes))


def test_output_tables_and_json_are_the_per_spectrum_ones(predictor):
    """The tables and JSON built column by column from the long tables equal, dtypes and
    all, what the per-spectrum code gave: for one prediction's answers (read whole), for a
    slice of them and for answers mixed with a plain one (concatenated)."""
    from dataclasses import replace

    from reference_answers import output_json, output_tables
    from rruffgeo.provenance import output
    from rruffgeo.provenance.deferred import long_rows

    Q = _queries(predictor, 24, seed=5)
    minerals = [""] * 8 + [str(predictor.library.meta["mineral"].iloc[0])] * 16
    results, _ = predictor.predict_with_proba(Q, minerals, 0.9, 3, 4)
    names = [f"=map.wdf#{i}" for i in range(len(results))]
    assert long_rows(results, "countries") is not None
    assert long_rows(results[2:9], "countries") is None
    plain = replace(results[0], species=results[0].species.drop(columns="hqi"), novelty=None,
                    continents=None, mineral_used="Quartz")
    cases = [(names, results), (names[2:9], results[2:9]),
             (names[:3] + ["plain"], [*results[:3], plain]), ([], [])]
    for case_names, case in cases:
        for top_k in (1, 3, 50):
            got = output.tables(case_names, case, 0.9, top_k)
            want = output_tables(case_names, case, 0.9, top_k)
            assert list(got) == list(want)
            for kind in want:
                pd.testing.assert_frame_equal(got[kind], want[kind], check_exact=True)
        refused = [("bad.txt", "bad.txt: empty")]
        assert output.to_json(case_names, case, 0.95, refused) == \
            output_json(case_names, case, 0.95, refused)
    assert {r.country_basis for r in results} == {"model", answer_prior_basis()}


def answer_prior_basis() -> str:
    from rruffgeo.provenance.answer import PRIOR_BASIS

    return PRIOR_BASIS
