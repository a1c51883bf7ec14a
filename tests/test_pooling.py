"""Pooled answers for one sample, and the split grouped by locality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rruffgeo
from fault_inputs import bands, good_file
from rruffgeo.errors import UserError
from rruffgeo.provenance.calibration import apply_calibration
from rruffgeo.provenance.pooling import (
    POOL_RULES,
    choose_rule,
    fit_pool,
    pool,
    pool_log_mean,
    pooled_answer,
)
from synthetic_predict import tiny_final, tiny_network, tiny_workdir


def test_pooling_copies_of_one_spectrum_changes_nothing():
    """Correlated spectra are not independent evidence: twelve copies of one answer must
    pool to that answer, where a product would make it near certain."""
    p = np.array([[0.6, 0.3, 0.1]])
    pooled = pool_log_mean(np.repeat(p, 12, axis=0), np.zeros(12, int), 1)
    assert np.allclose(pooled, p)
    two = pool_log_mean(np.array([[0.8, 0.2], [0.2, 0.8]]), np.array([0, 0]), 1)
    assert np.allclose(two, [[0.5, 0.5]])


def _overconfident(rng, n_specimens, per, n_classes=4):
    """Raw answers that put 0.9 on a class right only half the time, specimens alike."""
    y = rng.integers(0, n_classes, n_specimens)
    guess = np.where(rng.random(n_specimens) < 0.5, y, (y + 1) % n_classes)
    raw = np.full((n_specimens * per, n_classes), 0.1 / (n_classes - 1))
    raw[np.arange(n_specimens * per), np.repeat(guess, per)] = 0.9
    groups = np.repeat(np.arange(n_specimens), per)
    return raw, np.repeat(y, per), groups


def test_fit_pool_tempers_overconfident_pools_and_covers_new_specimens():
    rng = np.random.default_rng(0)
    raw, y, groups = _overconfident(rng, 400, 3)
    params = fit_pool(raw, y, groups, (0.9,), np.ones(len(y)))
    assert params["n_groups"] == 400 and params["temperature"] > 1.5
    new_raw, new_y, new_groups = _overconfident(rng, 400, 3)
    covered = []
    for g in range(400):
        p = pooled_answer(new_raw[new_groups == g], params, np.ones(3))
        assert abs(p.max() - 0.5) < 0.1  # right half the time: about 0.5, not 0.9
        covered.append(p[new_y[new_groups == g][0]] >= params["set_thresholds"]["0.9"]
                       or p.argmax() == new_y[new_groups == g][0])
    assert np.mean(covered) >= 0.88  # ties among the wrong classes make it exactly 1 here


def test_one_odd_spectrum_per_sample_makes_the_inner_folds_choose_the_plain_mean():
    """A geometric mean lets one spectrum that rules a country out veto it; where samples
    carry such spectra, the inner pooled log-loss picks the mean of probabilities."""
    rng = np.random.default_rng(1)
    n, per, k = 300, 3, 4
    y = rng.integers(0, k, n)
    raw = np.full((n * per, k), 0.2 / (k - 1))
    raw[np.arange(n * per), np.repeat(y, per)] = 0.8
    odd = np.arange(n) * per  # the first spectrum of each sample names another country
    raw[odd] = 1e-6
    raw[odd, (y + rng.integers(1, k, n)) % k] = 1.0
    raw /= raw.sum(axis=1, keepdims=True)
    sims = np.full(n * per, 0.9)  # the odd spectrum matches the library as well as the rest
    params = fit_pool(raw, np.repeat(y, per), np.repeat(np.arange(n), per), (0.9,), sims)
    assert params["rule"] == "mean"  # equal weights: the weighted means tie with it
    assert params["inner_log_loss"]["mean"] < params["inner_log_loss"]["log_mean"]
    assert params["inner_top1"]["mean"] > params["inner_top1"]["log_mean"]
    clean = fit_pool(np.delete(raw, odd, axis=0), np.repeat(y, per - 1),
                     np.repeat(np.arange(n), per - 1), (0.9,), np.delete(sims, odd))
    assert set(clean["inner_log_loss"]) == set(clean["inner_top1"]) == set(POOL_RULES)


def test_the_rule_is_chosen_by_top1_then_log_loss():
    """Pooling is for the top answer: a rule right more often wins even with a worse
    log-loss; equal top-1 goes to the lower log-loss."""
    assert choose_rule({"mean": 0.30, "sim_0.03": 0.31}, {"mean": 2.90, "sim_0.03": 2.95}) \
        == "sim_0.03"
    assert choose_rule({"mean": 0.30, "sim_0.03": 0.30}, {"mean": 2.95, "sim_0.03": 2.90}) \
        == "sim_0.03"
    assert choose_rule({"sim_0.03": 0.30, "mean": 0.30}, {"sim_0.03": 2.90, "mean": 2.90}) \
        == "sim_0.03"  # a full tie: the first tried


def _badly_matched(rng, n, per, k=4):
    """Samples whose spectra are right when they match the library well (best cosine
    0.95-0.99) and say a random country when they match it badly (0.75-0.85)."""
    y = rng.integers(0, k, n)
    good = rng.random((n, per)) < 0.4
    good[:, 0] = True
    said = np.where(good, y[:, None], rng.integers(0, k, (n, per))).ravel()
    raw = np.full((n * per, k), 0.3 / (k - 1))
    raw[np.arange(n * per), said] = 0.7
    sims = np.where(good.ravel(), rng.uniform(0.95, 0.99, n * per),
                    rng.uniform(0.75, 0.85, n * per))
    return raw, np.repeat(y, per), np.repeat(np.arange(n), per), sims


def test_spectra_that_match_the_library_badly_weigh_less_and_the_inner_folds_see_it():
    rng = np.random.default_rng(2)
    raw, y, groups, sims = _badly_matched(rng, 400, 5)
    params = fit_pool(raw, y, groups, (0.9,), sims)
    assert params["rule"].startswith("sim_")
    assert params["inner_top1"][params["rule"]] > params["inner_top1"]["mean"] + 0.05
    raw2, y2, groups2, sims2 = _badly_matched(rng, 400, 5)
    right = [pooled_answer(raw2[groups2 == g], params, sims2[groups2 == g]).argmax()
             == y2[groups2 == g][0] for g in range(400)]
    assert np.mean(right) > params["inner_top1"]["mean"] + 0.05  # new samples, too
    # One spectrum alone is unchanged by every rule, and the weighted rules need similarities.
    one = raw[:1]
    for rule in POOL_RULES:
        assert np.allclose(pool(rule, one, np.zeros(1, int), 1, sims[:1]), one)
    with pytest.raises(ValueError, match="best library similarity"):
        pooled_answer(raw[:5], params)


@pytest.fixture(scope="module")
def final(tmp_path_factory):
    wd = tiny_workdir(tmp_path_factory.mktemp("pool"))
    return {"final": tiny_final(wd), "network": tiny_network(wd)}


def test_predict_files_pools_per_folder_and_per_file(final, tmp_path):
    model = rruffgeo.open_model(final["final"])
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        for k in range(2):
            good_file(tmp_path / sub, model.grid_cm1, name=f"s{k}.csv")
    plain = model.predict_files([tmp_path])
    assert plain.samples is None and len(plain) == 4
    by_folder = model.predict_files([tmp_path], sample_by="folder")
    assert [s.name for s in by_folder.samples] == [str(tmp_path / "a"), str(tmp_path / "b")]
    assert [len(s.members) for s in by_folder.samples] == [2, 2]
    r = by_folder.samples[0].result
    assert np.isclose(r.countries["probability"].sum(), 1) and r.set_size >= 1
    assert r.countries["in_set"].sum() == r.set_size and len(r.species) and len(r.specimens)
    assert np.allclose(by_folder.proba, plain.proba)  # per-spectrum answers stay underneath
    by_file = model.predict_files([tmp_path], sample_by="file")
    assert len(by_file.samples) == 4
    assert model.predict_files([tmp_path / "none"], sample_by="file").samples == []
    by_id = model.predict_files([tmp_path], sample_by={plain.names[0]: "x",
                                                       plain.names[3]: "x"})
    assert sorted(len(s.members) for s in by_id.samples) == [1, 1, 2]


def test_the_predictor_pools_by_each_spectrums_best_library_similarity(final):
    """A spectrum that is a library spectrum and one that matches nothing: under a steep
    similarity weighting the pooled answer is the first one's, under the plain mean both
    count."""
    from rruffgeo.provenance.final import ProvenancePredictor

    pred = ProvenancePredictor(final["final"])
    exact = pred.library.X[0]
    odd = np.random.default_rng(3).random(len(exact)).astype(np.float32) * exact.max()
    both = np.stack([exact, odd])
    raw, _ = pred.raw_proba(both, None, ["spectrum"] * 2)
    assert not np.allclose(raw[0], raw[1])
    params = pred.spec["models"]["spectrum"]["pool"]

    def pooled(rule: str) -> np.ndarray:
        params["rule"] = rule
        table = pred.predict_pooled(both).countries.set_index("country_iso3")
        return table["probability"].reindex(pred.classes).to_numpy()

    assert np.allclose(pooled("sim_0.01"), apply_calibration(raw[:1], params)[0], atol=1e-6)
    assert np.allclose(pooled("mean"), apply_calibration(raw.mean(0, keepdims=True), params)[0])


def test_sample_by_is_checked_and_needs_a_provenance_model(final, tmp_path):
    with pytest.raises(UserError, match="--sample-by 'rows'"):
        rruffgeo.open_model(final["final"]).predict_files([tmp_path], sample_by="rows")
    with pytest.raises(TypeError, match="sample_by"):
        rruffgeo.open_model(final["network"]).predict_files([tmp_path], sample_by="file")


def test_predict_cli_pools_the_rows_of_a_csv_by_sample_column(final, tmp_path, capsys):
    from rruffgeo.cli import main

    model = rruffgeo.open_model(final["final"])
    x = np.linspace(model.grid_cm1[0], model.grid_cm1[-1], 300)
    rows = pd.DataFrame([bands(x) * (1 + 0.01 * i) for i in range(3)],
                        columns=[f"{v:.2f}" for v in x])
    rows.insert(0, "sample", ["A", "B", "A"])
    csv = tmp_path / "map.csv"
    rows.to_csv(csv, index=False)
    assert main(["predict", str(csv), "--model", str(final["final"]),
                 "--sample-by", "column:sample"]) == 0
    out = capsys.readouterr().out
    assert "sample A: 2 spectra, pooled" in out and "sample B: 1 spectra, pooled" in out
    assert out.count("per spectrum:") == 2
    target = tmp_path / "out.csv"
    assert main(["predict", str(csv), "--model", str(final["final"]),
                 "--sample-by", "column:sample", "--output", str(target)]) == 0
    pooled, each = pd.read_csv(target), pd.read_csv(tmp_path / "out.spectra.csv")
    assert set(pooled["file"]) == {"A", "B"} and each["file"].nunique() == 3


def test_locality_groups_name_the_place_or_only_the_country():
    from rruffgeo.geo.clean import locality_group

    assert locality_group("Brazil", "BRA") == locality_group("Unknown, Brazil", "BRA") \
        == "country:BRA"
    assert locality_group("Tsumeb, Namibia", "NAM") == "tsumeb, namibia"
    assert locality_group("Tsumeb, Namibia", "NAM") != locality_group("Namibia", "NAM")


def test_locality_split_keeps_each_place_on_one_side(tmp_path):
    from rruffgeo.config import Split
    from rruffgeo.dataset import learning_table
    from rruffgeo.splits import cv_splits

    table = learning_table(tiny_workdir(tmp_path))
    assert "locality_group" in table.columns
    # Two specimens of each country share a place: the locality split must keep them together.
    table["locality_group"] = table["specimen_id"].str[:-1]
    groups = table[Split.LOCALITY.group_column].to_numpy()
    for tr, te in cv_splits(table["country_iso3"].to_numpy(), groups, "locality", 2, 0):
        assert not set(groups[tr]) & set(groups[te])


def test_the_network_reads_locality_groups_from_its_learning_table(tmp_path):
    from rruffgeo.config import Settings, Split
    from rruffgeo.network.evaluate import load_dataset

    ds = load_dataset(tiny_workdir(tmp_path), Settings())
    groups = ds.groups_of(Split.LOCALITY)
    assert groups is not None and len(groups) == len(ds.y)
    assert set(groups) == {"mine, united states of america", "mine, brazil", "mine, italy"}


def test_provenance_cv_all_shows_the_three_protocols_side_by_side(tmp_path, capsys):
    from rruffgeo.cli import main
    from rruffgeo.workdir import GEOCODED

    wd = tiny_workdir(tmp_path)
    geo = pd.read_parquet(wd.root / GEOCODED)
    # Specimens two by two from one mine: 12 places over 3 countries.
    geo["locality_clean"] = "Mine " + geo["specimen_id"].str[:-1] \
        + (geo["specimen_id"].str[-1].map(lambda d: str(int(d) // 2)) if len(geo) else "")
    geo["locality_clean"] += ", " + geo["country_name"].fillna("")
    geo.to_parquet(wd.root / GEOCODED, index=False)
    assert main(["provenance-cv", "--workdir", str(wd.root), "--split", "all",
                 "--network", "off", "--no-figures"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("metric"))
    assert header.split()[1:] == ["spectrum", "specimen", "locality"]
    assert "coverage 0.9 (size)" in out
    oof = pd.read_parquet(wd.root / "metrics" / "provenance_cv_locality_oof.parquet")
    place = oof["specimen_id"].map(geo.set_index("specimen_id")["locality_clean"])
    assert (oof.groupby(place)["fold"].nunique() == 1).all()
    assert oof.groupby(place).ngroups == 12
