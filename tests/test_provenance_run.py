"""The provenance evaluation inside `run` (stage, final model, summary), `cv` and the report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from report_fixtures import write_catalog_and_geocoded
from rruffgeo.cli import main
from rruffgeo.config import Evaluation, ModelSettings, Split, replace
from rruffgeo.pipeline import Job, run_stage, stage_table
from rruffgeo.results import ProvenanceReport
from rruffgeo.workdir import CATALOG, GEOCODED, WorkDir
from synthetic_learn import make_workdir, tiny_settings


def test_provenance_files_are_named_by_the_work_folder(tmp_path):
    wd = WorkDir(tmp_path)
    m = tmp_path / "metrics"
    assert wd.provenance_cv_file("specimen") == m / "provenance_cv_specimen.json"
    assert wd.provenance_cv_part(Split.SPECTRUM, "oof") == m / "provenance_cv_spectrum_oof.parquet"
    assert (wd.provenance_cv_part("specimen", "confusion")
            == m / "provenance_cv_specimen_confusion.csv")
    assert wd.provenance_cv_cache("spectrum") == tmp_path / "models" / "provenance_cv_spectrum"
    assert (wd.provenance_figure("coverage", "specimen", ".png")
            == tmp_path / "figures" / "provenance_coverage_specimen.png")
    assert wd.final_model_dir == tmp_path / "models" / "final"
    with pytest.raises(ValueError, match="unknown provenance output"):
        wd.provenance_cv_part("specimen", "everything")
    with pytest.raises(ValueError):
        wd.provenance_cv_file("random")
    assert not (tmp_path / "metrics").exists()  # paths are pure


@pytest.fixture(scope="module")
def prov_workdir(tmp_path_factory):
    """Three countries with their own bands and minerals (every fourth specimen Albite)."""
    wd = make_workdir(tmp_path_factory.mktemp("provrun"), n_countries=3, specimens=6,
                      per_specimen=2)
    minerals = ["Quartz", "Beryl", "Calcite"]
    for name in (CATALOG, GEOCODED):
        df = pd.read_parquet(wd.root / name)
        df["mineral"] = [("Albite" if sid[-1] == "3" else minerals[int(sid[1])])
                         if sid[1].isdigit() else "Quartz" for sid in df["specimen_id"]]
        if name == GEOCODED:
            df["lat"], df["lon"] = 10.0, 5.0
        df.to_parquet(wd.root / name, index=False)
    return wd


def _stage(job: Job, name: str):
    return next(s for s in stage_table(job) if s.name == name)


def _report_with_provenance_of(source: WorkDir, target: Path) -> str:
    """The HTML page of a report-fixture work folder holding ``source``'s provenance files
    (the tiny learning work folder lacks the catalog columns the dataset tables need)."""
    from rruffgeo.report.html import write_report

    wd = write_catalog_and_geocoded(target)
    for folder in ("metrics", "figures"):
        for f in (source.root / folder).glob("provenance_*"):
            wd.dir(folder)
            shutil.copy(f, wd.root / folder / f.name)
    shutil.copytree(source.final_model_dir, wd.final_model_dir)
    return write_report(wd).read_text()


def test_run_stage_evaluates_provenance_then_final_model_refits_its_winner(prov_workdir,
                                                                          tmp_path):
    wd = prov_workdir
    job = Job("unused", wd, tiny_settings(folds=3), Evaluation.HOLDOUT, (Split.SPECIMEN,),
              progress=False)
    names = [s.name for s in stage_table(job)]
    assert names.index("train-specimen") < names.index("provenance-cv") \
        < names.index("final-model") < names.index("report")

    first = run_stage(job, _stage(job, "provenance-cv"), force=False)
    assert first.status == "ran", first.detail
    assert "wins" in first.detail and "network left out" in first.detail
    report = json.loads(wd.provenance_cv_file("specimen").read_text())
    assert "no finished fold model" in report["network_note"]
    assert wd.provenance_cv_part("specimen", "oof").exists()
    assert wd.provenance_figure("reliability", "specimen", ".png").exists()
    assert not wd.provenance_cv_file("spectrum").exists()  # only the job's protocols
    again = run_stage(job, _stage(job, "provenance-cv"), force=False)
    assert again.status == "skipped"

    final = run_stage(job, _stage(job, "final-model"), force=False)
    assert final.status == "ran", final.detail
    spec = json.loads((wd.final_model_dir / "provenance.json").read_text())
    from rruffgeo.provenance.final import best_refittable, final_summary

    typed = ProvenanceReport.read(wd.provenance_cv_file("specimen"))
    assert {ev: m["model"] for ev, m in spec["models"].items()} == best_refittable(typed)
    assert "provenance_cv_specimen.json" in spec["chosen_by"]
    line = final_summary(wd)
    assert line and spec["models"]["spectrum"]["model"] in line and "models/final" in line

    page = _report_with_provenance_of(wd, tmp_path / "report")
    assert "Provenance predictor" in page and 'id="provenance_coverage_specimen"' in page
    assert "top-1 (majority) [CI of diff]" in page and "(winner)" in page
    assert "coverage / set size 90%" in page and "refitted on all" in page


def test_a_failing_protocol_fails_the_stage_but_not_the_run(prov_workdir, monkeypatch):
    import rruffgeo.provenance.evaluate as pe

    def broken(workdir, settings=None, split="specimen", network=True, progress=True):
        raise ValueError(f"{split}: too few countries")

    monkeypatch.setattr(pe, "evaluate_provenance", broken)
    job = Job("unused", prov_workdir, tiny_settings(folds=4), Evaluation.HOLDOUT,
              tuple(Split), progress=False)
    out = run_stage(job, _stage(job, "provenance-cv"), force=True)
    assert out.status == "failed"
    assert "spectrum: ValueError" in out.detail and "specimen: ValueError" in out.detail


def test_report_says_when_there_is_no_provenance_evaluation(tmp_path):
    from rruffgeo.report.section_provenance import provenance_section

    assert "No provenance evaluation yet" in provenance_section(WorkDir(tmp_path))


def test_cv_writes_the_provenance_evaluation_with_its_fold_models(tmp_path, monkeypatch, capsys):
    import rruffgeo.cli.learn as learn

    wd = make_workdir(tmp_path / "wd", n_countries=3, specimens=5, per_specimen=2)
    plain = learn.settings_from_args

    def small(args):  # the network's size has no option; a tiny one keeps the test fast
        s = plain(args)
        return replace(s, model=ModelSettings(depths=(1, 1), dims=(8, 16)))

    monkeypatch.setattr(learn, "settings_from_args", small)
    common = ["cv", "--workdir", str(wd.root), "--split", "specimen", "--n-folds", "3",
              "--grid-points", "64", "--epochs", "1", "--batch-size", "8", "--device", "cpu",
              "--no-progress"]
    assert main([*common, "--folds", "1"]) == 0
    assert "waits for every fold (1 of 3 finished)" in capsys.readouterr().out
    assert not wd.provenance_cv_file("specimen").exists()
    assert main([*common, "--folds", "2,3"]) == 0
    out = capsys.readouterr().out
    assert "network: fold models from" in out and "best by log-loss" in out
    report = json.loads(wd.provenance_cv_file("specimen").read_text())
    assert "network" in report["models"] and report["n_folds"] == 3
    assert wd.provenance_cv_part("specimen", "models").exists()
    assert wd.provenance_figure("confusion", "specimen", ".png").exists()
    # --no-provenance leaves the evaluation alone
    before = wd.provenance_cv_file("specimen").stat().st_mtime_ns
    assert main([*common, "--no-provenance"]) == 0
    assert wd.provenance_cv_file("specimen").stat().st_mtime_ns == before
    # other provenance folds than the network's: the fold models cannot join, and it says why
    from rruffgeo.provenance.evaluate import evaluate_provenance

    s = tiny_settings(grid=64, folds=3)
    other = evaluate_provenance(wd, replace(s, provenance=replace(s.provenance, seed=1)),
                                "specimen", progress=False)
    assert other.network_note == ("network left out: its folds (3 with seed 0) are not the "
                                  "provenance CV's (3 with seed 1)")
    assert "network" not in other.report.models
