"""provenance-cv, provenance-fit and predict with a provenance model, on a tiny work folder."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from rruffgeo.cli import main
from rruffgeo.workdir import CATALOG, GEOCODED
from synthetic_learn import make_workdir, spectrum

MINERALS = ["Quartz", "Beryl", "Calcite"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """Three countries; most specimens of a country share its mineral, every fourth is Albite."""
    root = tmp_path_factory.mktemp("prov")
    wd = make_workdir(root, n_countries=3, specimens=8, per_specimen=2)
    geo = pd.read_parquet(wd.root / GEOCODED)
    cat = pd.read_parquet(wd.root / CATALOG)
    country = {f"R{c}{s:04d}": c for c in range(3) for s in range(8)}
    mineral = {sid: ("Albite" if int(sid[-1]) % 4 == 3 else MINERALS[c])
               for sid, c in country.items()}
    for df in (geo, cat):
        df["mineral"] = df["specimen_id"].map(mineral).fillna("Quartz")
    geo["lat"] = geo["specimen_id"].map(country).astype(float) * 10
    geo["lon"] = 5.0
    geo.to_parquet(wd.root / GEOCODED, index=False)
    cat.to_parquet(wd.root / CATALOG, index=False)
    return wd


@pytest.fixture(scope="module")
def cv_run(workdir):
    rc = main(["provenance-cv", "--workdir", str(workdir.root), "--network", "off"])
    assert rc == 0
    return json.loads((workdir.root / "metrics" / "provenance_cv_specimen.json").read_text())


def test_provenance_cv_scores_every_model_beside_the_majority(workdir, cv_run):
    models = cv_run["models"]
    assert {"prior", "species_freq", "knn_spectra", "knn_specimens", "combination",
            "combination+mineral", "species_freq+mineral"} <= set(models)
    prior = models["prior"]["vs_majority"]
    assert prior["top1"]["diff"] == 0 and prior["top3"]["diff"] == 0  # the majority itself
    # The countries are visible in the band positions: kNN beats the prior clearly.
    assert models["knn_spectra"]["vs_majority"]["log_loss"]["diff_hi"] < 0
    assert set(models["combination"]["conformal"]) == {"0.8", "0.9", "0.95"}
    assert cv_run["winners"]["spectrum"]["model"] != "prior"
    assert "goals" in cv_run["winners"]["spectrum"]
    m = workdir.root / "metrics"
    oof = pd.read_parquet(m / "provenance_cv_specimen_oof.parquet")
    assert set(oof["fold"]) == {1, 2, 3, 4, 5}
    # Grouped by specimen: no specimen in two folds.
    assert (oof.groupby("specimen_id")["fold"].nunique() == 1).all()
    assert (m / "provenance_cv_specimen_confusion.csv").exists()
    for f in ("reliability", "coverage", "confusion"):
        assert (workdir.root / "figures" / f"provenance_{f}_specimen.png").exists()


def test_provenance_cv_scores_pooled_against_single_answers_and_the_report_shows_them(
        workdir, cv_run):
    """The CV's report holds the winner's pooled-per-specimen table; its per-spectrum,
    each-spectrum-once row is the CV's own score of the winner (the same answers and sets),
    and the report page shows the table."""
    from rruffgeo.report.section_provenance import provenance_section
    from rruffgeo.results import ProvenanceReport

    report = ProvenanceReport.of(workdir, "specimen")
    pl = report.pooling
    assert pl is not None and pl.model == report.winner() and len(pl.rules) == 5
    rows = {(r.answer, r.weights): r for r in pl.rows}
    assert set(rows) == {(a, w) for a in ("per spectrum", "pooled")
                         for w in ("each specimen once", "each spectrum once")}
    single, scores = rows["per spectrum", "each spectrum once"], report.scores()
    assert single.top1 == pytest.approx(scores.vs_majority.top1.value)
    assert single.majority_top1 == pytest.approx(scores.vs_majority.top1.baseline)
    assert single.coverage90 == pytest.approx(scores.conformal["0.9"].coverage)
    assert pl.top1_gain_low <= pl.top1_gain <= pl.top1_gain_high
    # two spectra a specimen here, so both weightings of one answer agree
    assert rows["pooled", "each specimen once"].top1 == pytest.approx(
        rows["pooled", "each spectrum once"].top1)
    html = provenance_section(workdir)
    assert "One answer from all of a test specimen's spectra" in html
    assert f"{rows['pooled', 'each specimen once'].top1:.3f}" in html


def test_provenance_cv_scores_the_continents_and_the_report_shows_them(workdir, cv_run):
    """The winner's continent answer under the protocol: three continents here (USA, BRA,
    ITA), shares of the spectra, a baseline that is the majority continent's rate, sets that
    hold the true continent about as often as asked; the page shows the table."""
    from rruffgeo.report.section_provenance import provenance_section
    from rruffgeo.results import ProvenanceReport

    c = ProvenanceReport.of(workdir, "specimen").continents
    assert c is not None and c.model == cv_run["winners"]["spectrum"]["model"]
    assert c.continents == ["Europe", "North America", "South America"]
    assert sum(c.shares.values()) == pytest.approx(1.0)
    v = c.vs_majority
    assert v.top1.baseline <= max(c.shares.values()) + 1e-9
    assert v.top1.diff_lo <= v.top1.diff <= v.top1.diff_hi
    assert 0.0 <= c.coverage90 <= 1.0 and 1.0 <= c.size90 <= 3.0
    assert c.n_folds == 5 and 0 <= c.recalibrated_folds <= 5
    html = provenance_section(workdir)
    assert "Continent of origin" in html and v.top1.text() in html


def test_provenance_cv_resumes_from_finished_folds(workdir, cv_run, capsys):
    folder = workdir.root / "models" / "provenance_cv_specimen"
    before = {p.name: p.stat().st_mtime_ns for p in folder.glob("fold_*.npz")}
    assert main(["provenance-cv", "--workdir", str(workdir.root), "--network", "off",
                 "--no-figures"]) == 0
    after = {p.name: p.stat().st_mtime_ns for p in folder.glob("fold_*.npz")}
    assert before == after and len(after) == 5
    out = capsys.readouterr().out
    assert "top-1 (maj.)" in out and "best by log-loss" in out


def _rruff_file(tmp_path, country: int, mineral: str, name: str):
    x, y = spectrum(country, np.random.default_rng(9))
    body = "\n".join(f"{a:.2f}, {b:.4f}" for a, b in zip(x, y, strict=True))
    f = tmp_path / name
    f.write_text(f"##NAMES={mineral}\n##RRUFFID=R999999\n{body}\n##END=\n")
    return f


@pytest.fixture(scope="module")
def final(workdir, cv_run):
    assert main(["provenance-fit", "--workdir", str(workdir.root)]) == 0
    folder = workdir.root / "models" / "final"
    assert (folder / "provenance.json").exists() and (folder / "library.npz").exists()
    return folder


def test_predict_with_a_provenance_model_writes_csv_json_parquet(final, tmp_path, capsys):
    good = _rruff_file(tmp_path, 1, "Beryl", "Beryl__R999999__Raman.txt")
    bad = tmp_path / "empty.csv"
    bad.write_text("wavenumber,intensity\n")
    out = tmp_path / "pred.csv"
    rc = main(["predict", str(good), str(bad), "--model", str(final), "--output", str(out),
               "--mineral", "auto"])
    assert rc == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table.columns[:5]) == ["file", "rank", "country_iso3", "country_name",
                                       "probability"]
    assert table["country_iso3"].iloc[0] == "BRA"
    assert table["evidence"].iloc[0] == "spectrum+mineral"
    assert table["in_set"].iloc[0]
    specimens = pd.read_csv(tmp_path / "pred.specimens.csv")
    assert specimens["specimen_id"].is_unique and len(specimens) == 10
    assert "empty.csv" in capsys.readouterr().err
    rc = main(["predict", str(good), "--model", str(final), "--output",
               str(tmp_path / "p.json"), "--coverage", "0.95"])
    doc = json.loads((tmp_path / "p.json").read_text())["predictions"][str(good)]
    assert doc["evidence"] == "spectrum" and doc["coverage"] == 0.95
    assert doc["set_size"] == len(doc["prediction_set"]) >= 1
    assert doc["species"][0]["species"] == "Beryl"
    main(["predict", str(good), "--model", str(final), "--output", str(tmp_path / "p.parquet")])
    assert pd.read_parquet(tmp_path / "p.parquet")["probability"].is_monotonic_decreasing


def test_predict_terminal_and_map_show_species_specimens_and_set(final, tmp_path, capsys):
    good = _rruff_file(tmp_path, 0, "Quartz", "Quartz__R999999__Raman.txt")
    rc = main(["predict", str(good), "--model", str(final), "--map", str(tmp_path / "maps")])
    assert rc == 0
    out = capsys.readouterr().out
    for words in ("species match", "nearest reference specimens", "90% prediction set",
                  "evidence: spectrum only"):
        assert words in out
    assert (tmp_path / "maps" / "Quartz__R999999__Raman.png").exists()


def test_predict_rejects_an_unknown_output_suffix(final, tmp_path, capsys):
    good = _rruff_file(tmp_path, 0, "Quartz", "q.txt")
    rc = main(["predict", str(good), "--model", str(final), "--output", str(tmp_path / "x.xls")])
    assert rc == 1
    assert "x.xls" in capsys.readouterr().err


@pytest.mark.slow
def test_network_fold_models_join_the_comparison(tmp_path):
    """`cv` fold models of the same split plug in as the "network" model and the combination."""
    from rruffgeo.network import run_cv
    from rruffgeo.provenance.data import load_provenance_data
    from rruffgeo.provenance.evaluate import run_provenance_cv
    from rruffgeo.provenance.network_oof import network_oof
    from rruffgeo.splits import cv_splits
    from synthetic_learn import tiny_settings

    wd = make_workdir(tmp_path, n_countries=3, specimens=5, per_specimen=2)
    settings = tiny_settings(epochs=1, folds=5)
    data = load_provenance_data(wd, settings)
    splits = cv_splits(data.y, data.groups, "specimen", 5, 0)
    oof, reason = network_oof(wd, data, splits, "specimen")
    assert oof is None and "run `rruffgeo cv`" in reason
    run_cv(wd, settings, split="specimen", progress=False)
    oof, reason = network_oof(wd, data, splits, "specimen")
    assert oof is not None and sorted(oof) == [0, 1, 2, 3, 4]
    assert all(np.allclose(oof[k].sum(1), 1) for k in oof)
    report = run_provenance_cv(wd, settings, "specimen", oof, progress=False)
    assert "network" in report.models
    weights = report.models["combination"].params_per_fold[0]["weights"]
    assert "network" in weights


def test_provenance_fit_never_picks_the_network():
    from report_fixtures import model_scores, provenance_report
    from rruffgeo.provenance.final import best_refittable
    from rruffgeo.results import Winner

    cv = provenance_report("specimen")
    cv.models = {"network": model_scores(0.6, 1.0), "prior": model_scores(0.5, 3.0),
                 "knn_specimens": model_scores(0.55, 2.0),
                 "combination+mineral": model_scores(0.6, 1.5, "spectrum+mineral")}
    cv.winners = {"spectrum": Winner("network"),
                  "spectrum+mineral": Winner("combination+mineral")}
    assert best_refittable(cv) == {"spectrum": "knn_specimens",
                                   "spectrum+mineral": "combination+mineral"}


def test_provenance_commands_take_the_grid_of_the_cv_fold_models():
    """`provenance-cv|fit --grid-points N` evaluate on the grid `cv --grid-points N` trained on
    (else the network's fold models would be refused and the matrix rebuilt at 2048)."""
    import argparse

    from rruffgeo.cli import provenance
    from rruffgeo.cli.common import settings_from_args

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    provenance.register(sub)
    for cmd in ("provenance-cv", "provenance-fit"):
        args = parser.parse_args([cmd, "--grid-points", "512"])
        assert settings_from_args(args).spectra.grid_points == 512
        assert settings_from_args(parser.parse_args([cmd])).spectra.grid_points == 2048


def test_provenance_cv_refuses_a_grid_too_small_in_one_line(capsys):
    rc = main(["provenance-cv", "--workdir", "/nonexistent", "--grid-points", "3"])
    err = capsys.readouterr().err
    assert rc != 0 and "--grid-points 3" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_provenance_fit_with_a_damaged_cv_report_says_which_file_and_field(tmp_path, capsys):
    from report_fixtures import provenance_report
    from rruffgeo.workdir import WorkDir

    wd = WorkDir(tmp_path)
    doc = provenance_report("specimen").to_json()
    del doc["models"]["combination"]["vs_majority"]["log_loss"]
    wd.dir("metrics")
    wd.provenance_cv_file("specimen").write_text(json.dumps(doc))
    assert main(["provenance-fit", "--workdir", str(tmp_path)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert str(wd.provenance_cv_file("specimen")) in err[0]
    assert "field models.combination.vs_majority.log_loss: missing" in err[0]
