"""Provenance models: reference library, country models, calibration, conformal sets, metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from rruffgeo.provenance.calibration import (
    Calibrator,
    TemperatureScaling,
    TopLabelIsotonic,
    apply_calibration,
    apply_temperature,
    log_loss_per_sample,
    reliability_table,
    top_label_ece,
)
from rruffgeo.provenance.conformal import SplitConformal, conformal_set, coverage_and_size
from rruffgeo.provenance.library import ReferenceLibrary, species_key
from rruffgeo.provenance.metrics import compare_to_baseline, one_class_note, top_share
from rruffgeo.provenance.models import (
    ClassPrior,
    KNNCountry,
    SpeciesFrequency,
    find_neighbours,
    fit_mixture_weights,
)


def _bands(centres: list[float], n: int = 64) -> np.ndarray:
    x = np.arange(n)
    return sum(np.exp(-0.5 * ((x - c) / 2.0) ** 2) for c in centres)


def _library() -> ReferenceLibrary:
    """Three species (band positions), specimens of two spectra each, countries by specimen."""
    rows, X = [], []
    specs = [("Quartz", [10, 40]), ("Beryl", [20, 50]), ("Calcite", [30, 55])]
    countries = {"Quartz": ["USA", "USA", "BRA"], "Beryl": ["BRA", "BRA", "ITA"],
                 "Calcite": ["ITA", "ITA", "USA"]}
    for s, (mineral, centres) in enumerate(specs):
        for j, iso in enumerate(countries[mineral]):
            for k in range(2):
                X.append(_bands([c + 0.02 * k + 0.5 * j for c in centres]))
                rows.append({"spectrum_id": f"{mineral}/{j}/{k}", "specimen_id": f"R{s}{j}",
                             "mineral": mineral, "locality": f"Mine {j}, {iso}",
                             "lat": float(s), "lon": float(j), "country_iso3": iso,
                             "country_name": iso})
    return ReferenceLibrary(np.array(X), pd.DataFrame(rows), np.arange(64.0))


def _fit(model, lib: ReferenceLibrary, classes=("BRA", "ITA", "USA")):
    y = lib.meta["country_iso3"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    return model.fit(lib.X, y, groups=lib.meta["specimen_id"].to_numpy(),
                     species=lib.meta["mineral"].to_numpy(), n_classes=len(classes)), y


def test_species_match_ranks_the_right_species_first():
    lib = _library()
    query = _bands([20.1, 50.2])[None, :]
    match = lib.species_match(lib.similarities(query), top_k=3)[0]
    assert match["species"].tolist()[0] == "Beryl"
    assert match["similarity"].is_monotonic_decreasing
    assert match["n_specimens"].tolist()[0] == 3


def test_nearest_specimens_lists_each_specimen_once():
    lib = _library()
    near = lib.nearest_specimens(lib.similarities(_bands([10, 40])[None, :]), n=4)[0]
    assert near["specimen_id"].is_unique and len(near) == 4
    assert near["mineral"].iloc[0] == "Quartz"
    assert list(near.columns[:3]) == ["rank", "specimen_id", "mineral"]


def test_library_round_trip_is_float16_and_needs_no_pickle(tmp_path):
    lib = _library()
    lib.save(tmp_path)
    with np.load(tmp_path / "library.npz", allow_pickle=False) as z:
        assert z["X"].dtype == np.float16
    back = ReferenceLibrary.load(tmp_path)
    assert back.meta["specimen_id"].tolist() == lib.meta["specimen_id"].tolist()
    np.testing.assert_allclose(back.X, lib.X, atol=1e-3)
    assert np.isnan(back.meta["lat"]).sum() == 0


def test_species_frequency_counts_specimens_not_spectra_and_uses_given_mineral():
    lib = _library()
    model, _ = _fit(SpeciesFrequency(alpha=1e-9), lib)
    quartz = _bands([10, 40])[None, :]
    p = model.predict_proba(quartz)
    # Quartz: specimens USA, USA, BRA (each with two spectra): 2/3 USA, 1/3 BRA.
    np.testing.assert_allclose(p[0], [1 / 3, 0, 2 / 3], atol=1e-6)
    p_given = model.predict_proba(quartz, species=np.array(["  beryl "]))
    np.testing.assert_allclose(p_given[0], [2 / 3, 1 / 3, 0], atol=1e-6)
    p_unknown = model.predict_proba(quartz, species=np.array(["Unobtainium"]))
    np.testing.assert_allclose(p_unknown, p)
    assert species_key("  Beryl ") == "beryl"


def test_knn_by_specimen_counts_each_specimen_once():
    lib = _library()
    spectra, _ = _fit(KNNCountry(k=2, tau=1e3, lam=0.0, by_specimen=False), lib)
    specimens, _ = _fit(KNNCountry(k=2, tau=1e3, lam=0.0, by_specimen=True), lib)
    q = lib.X[4:5]  # the Brazilian Quartz: its sibling is the second nearest spectrum
    assert spectra.predict_proba(q)[0, 0] == pytest.approx(1.0, abs=1e-3)
    assert specimens.predict_proba(q)[0, 0] < 0.6  # then a US specimen, not the sibling


def test_every_model_gives_positive_probabilities_summing_to_one():
    lib = _library()
    q = np.stack([_bands([12, 45]), _bands([33, 52])])
    for model in (ClassPrior(), SpeciesFrequency(), KNNCountry()):
        fitted, _ = _fit(model, lib)
        p = fitted.predict_proba(q)
        assert (p > 0).all() and np.allclose(p.sum(axis=1), 1)


def test_neighbours_are_sorted_and_exact():
    rng = np.random.default_rng(0)
    ref = rng.random((50, 16)).astype(np.float32)
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    q = rng.random((7, 16))
    nb = find_neighbours(ref, q, k=5, chunk=3)
    full = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ ref.T
    np.testing.assert_array_equal(nb.index, np.argsort(-full, axis=1)[:, :5])
    assert (np.diff(nb.sim, axis=1) <= 0).all()


def test_mixture_weights_favour_the_component_that_explains_the_labels():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 500)
    good = np.full((500, 4), 0.02)
    good[np.arange(500), y] = 0.94
    flat = np.full((500, 4), 0.25)
    w = fit_mixture_weights([good, flat], y)
    assert w[0] > 0.95 and w.sum() == pytest.approx(1)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_temperature_scaling_recovers_an_overconfident_model():
    rng = np.random.default_rng(2)
    logits = rng.normal(0, 1.5, (4000, 5))
    true_p = _softmax(logits)
    y = np.array([rng.choice(5, p=p) for p in true_p])
    overconfident = _softmax(3 * logits)
    ts = TemperatureScaling().fit(overconfident, y)
    assert ts.temperature_ == pytest.approx(3, rel=0.1)
    fixed = ts.transform(overconfident)
    assert log_loss_per_sample(fixed, y).mean() < log_loss_per_sample(overconfident, y).mean()
    assert top_label_ece(fixed, y) < top_label_ece(overconfident, y)
    np.testing.assert_array_equal(fixed.argmax(1), overconfident.argmax(1))
    np.testing.assert_allclose(apply_temperature(true_p, 1.0), true_p, atol=1e-9)


def _top_label_miscalibrated(rng, n):
    """A model whose top class is right 40% of the time whatever its confidence (0.2-0.9):
    no single temperature fixes that, an increasing map of the top probability can."""
    proba = rng.dirichlet(np.full(6, 0.3), n)
    top = proba.argmax(1)
    right = rng.random(n) < 0.4
    other = (top + 1 + rng.integers(0, 5, n)) % 6
    return proba, np.where(right, top, other)


def test_top_label_isotonic_fixes_what_one_temperature_cannot():
    rng = np.random.default_rng(5)
    fit_p, fit_y = _top_label_miscalibrated(rng, 4000)
    test_p, test_y = _top_label_miscalibrated(rng, 4000)
    temp = TemperatureScaling().fit(fit_p, fit_y).transform(test_p)
    cal = Calibrator().fit(fit_p, fit_y)
    fixed = cal.transform(test_p)
    assert top_label_ece(fixed, test_y) < 0.03 < top_label_ece(temp, test_y)
    assert log_loss_per_sample(fixed, test_y).mean() < log_loss_per_sample(temp, test_y).mean()
    np.testing.assert_array_equal(fixed.argmax(1), test_p.argmax(1))  # ranking of the top kept
    np.testing.assert_allclose(fixed.sum(1), 1.0)
    import json  # the fit is plain numbers: saved as JSON, applied again identically
    params = json.loads(json.dumps(cal.params_))
    np.testing.assert_allclose(apply_calibration(test_p, params), fixed)
    old = {"temperature": cal.params_["temperature"]}  # a model saved before the isotonic step
    np.testing.assert_allclose(apply_calibration(test_p, old), temp)


def test_top_label_remap_keeps_the_top_class_on_top():
    proba = np.array([[0.5, 0.3, 0.2], [0.34, 0.33, 0.33], [1.0, 0.0, 0.0]])
    y = np.array([1, 1, 0])
    iso = TopLabelIsotonic().fit(proba, y)
    out = iso.transform(proba)
    assert (out.argmax(1) == proba.argmax(1)).all() and np.allclose(out.sum(1), 1)
    assert out[0, 1] / out[0, 2] == pytest.approx(1.5)  # the others keep their proportions
    assert out[2, 0] < 1  # never certain: a wrong answer keeps a finite log-loss


def test_ece_by_hand_on_two_bins():
    proba = np.array([[0.95, 0.05], [0.95, 0.05], [0.55, 0.45], [0.55, 0.45]])
    y = np.array([0, 1, 0, 0])
    # bin of 0.95: accuracy 0.5, gap 0.45; bin of 0.55: accuracy 1.0, gap 0.45
    assert top_label_ece(proba, y) == pytest.approx(0.45)
    table = reliability_table(proba, y, n_bins=15)
    assert sum(table["count"]) == 4 and len(table["count"]) == 15


def test_weighted_ece_is_the_ece_of_rows_repeated_by_their_weights():
    rng = np.random.default_rng(5)
    proba = _softmax(rng.normal(0, 2, (40, 4)))
    y = rng.integers(0, 4, 40)
    w = rng.integers(1, 4, 40)
    repeated = top_label_ece(np.repeat(proba, w, axis=0), np.repeat(y, w))
    assert top_label_ece(proba, y, weights=w) == pytest.approx(repeated)
    assert top_label_ece(proba, y, weights=w / 7.0) == pytest.approx(repeated)
    assert top_label_ece(proba, y, weights=np.ones(40)) == pytest.approx(top_label_ece(proba, y))


def test_conformal_sets_reach_their_coverage_and_hold_the_top_class():
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 2, (6000, 8))
    p = _softmax(logits)
    y = np.array([rng.choice(8, p=row) for row in p])
    groups = np.repeat(np.arange(3000), 2)
    conf = SplitConformal(0.9).fit(p[:3000], y[:3000], groups[:1500 * 2])
    sets = conf.predict_set(p[3000:])
    cov, size = coverage_and_size(sets, y[3000:])
    assert 0.88 <= cov <= 0.93 and 1 <= size < 8
    assert sets[np.arange(3000), p[3000:].argmax(1)].all()
    with pytest.raises(ValueError, match="coverage"):
        SplitConformal(1.5)


def test_conformal_set_keeps_what_reaches_the_threshold_and_always_the_top_class():
    p = np.array([[0.5, 0.3, 0.2], [0.1, 0.45, 0.45], [0.34, 0.33, 0.33]])
    assert conformal_set(p, 0.3).tolist() == [[True, True, False], [False, True, True],
                                              [True, True, True]]
    # nothing reaches 0.9: the top class alone (the first of tied ones, as argmax and a
    # stable sort by probability both pick it)
    assert conformal_set(p, 0.9).tolist() == [[True, False, False], [False, True, False],
                                              [True, False, False]]
    assert conformal_set(p[1], 0.9).tolist() == [[False, True, False]]  # one row, 1-D


def test_bootstrap_comparison_matches_sklearn_and_is_zero_against_itself():
    rng = np.random.default_rng(4)
    p = _softmax(rng.normal(0, 1, (300, 6)))
    y = rng.integers(0, 6, 300)
    groups = np.repeat(np.arange(100), 3)
    res = compare_to_baseline(p, p, y, groups, n_boot=200)
    assert res["macro_f1"]["value"] == pytest.approx(
        f1_score(y, p.argmax(1), average="macro", zero_division=0))
    assert res["top1"]["value"] == pytest.approx((p.argmax(1) == y).mean())
    for m in res.values():
        assert m["diff"] == 0 and m["diff_lo"] == 0 and m["diff_hi"] == 0
    better = p.copy()
    better[np.arange(300), y] += 5
    better /= better.sum(1, keepdims=True)
    res = compare_to_baseline(better, p, y, groups, n_boot=200)
    assert res["log_loss"]["diff_hi"] < 0 and res["top1"]["diff_lo"] > 0


def test_one_class_note_says_so_in_words():
    p = np.tile([0.1, 0.9], (20, 1))
    assert "learned only the class prior" in one_class_note(p, ["BRA", "USA"])
    p[:10] = [0.9, 0.1]
    assert one_class_note(p, ["BRA", "USA"]) == ""
    assert top_share(np.array([0, 0, 1, 2, 3]), 3) == pytest.approx(0.8)


def test_provenance_modules_load_without_torch():
    import os
    import subprocess
    import sys
    from pathlib import Path

    import rruffgeo

    src = str(Path(rruffgeo.__file__).parents[1])  # this checkout's src/, not an installed copy
    code = ("import sys, rruffgeo.provenance.evaluate, rruffgeo.provenance.final, "
            "rruffgeo.provenance.output; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": src})
    assert out.stdout.strip() == "False"


def test_prediction_csv_cannot_carry_spreadsheet_formulas(tmp_path):
    from rruffgeo.provenance.final import ProvenanceResult
    from rruffgeo.provenance.output import write_outputs

    countries = pd.DataFrame({"rank": [1], "country_iso3": ["USA"], "country_name": ["USA"],
                              "probability": [1.0], "in_set": [True]})
    species = pd.DataFrame({"rank": [1], "species": ["Quartz"], "similarity": [0.9],
                            "n_specimens": [1]})
    specimens = pd.DataFrame({"rank": [1], "specimen_id": ["R1"], "mineral": ["Quartz"],
                              "locality": ["=HYPERLINK(\"x\")"], "lat": [1.0], "lon": [2.0],
                              "country_iso3": ["USA"], "country_name": ["USA"],
                              "similarity": [0.9], "spectrum_id": ["s"]})
    result = ProvenanceResult(countries, species, specimens, "spectrum", "", 1)
    write_outputs(tmp_path / "p.csv", ["=cmd.txt"], [result], 0.9, [])
    assert pd.read_csv(tmp_path / "p.csv")["file"].iloc[0] == "'=cmd.txt"
    assert pd.read_csv(tmp_path / "p.specimens.csv")["locality"].iloc[0].startswith("'=")
    write_outputs(tmp_path / "p.parquet", ["=cmd.txt"], [result], 0.9, [])
    assert pd.read_parquet(tmp_path / "p.parquet")["file"].iloc[0] == "=cmd.txt"
