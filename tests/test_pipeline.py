"""``rruffgeo run``: stage order, skipping up-to-date stages, and the summary.

The stage functions of the other packages are replaced by small ones that write the contract
files, so this tests the orchestration alone, fast and without the real data.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections import Counter
from dataclasses import fields

import pytest

import rruffgeo.data
import rruffgeo.geo
import rruffgeo.network
import rruffgeo.network.jobs as jobs
from report_fixtures import provenance_report, write_catalog_and_geocoded, write_metrics
from rruffgeo.cli import main
from rruffgeo.config import ProvenanceSettings, Settings, replace
from rruffgeo.pipeline import StageError, run
from rruffgeo.results import EvaluationResult
from rruffgeo.workdir import WorkDir


@pytest.fixture()
def stages(tmp_path, monkeypatch):
    """Fake ingest/geocode/train/cv that write contract files and count their calls."""
    calls: Counter[str] = Counter()
    template = write_catalog_and_geocoded(tmp_path / "template")
    data = tmp_path / "data"
    data.mkdir()
    (data / "excellent_unoriented.zip").write_bytes(b"zip bytes")

    def ingest(source=None, workdir=None, settings=None, progress=True):
        calls["ingest"] += 1
        assert source == str(data) or source == data
        shutil.copy(template.root / "catalog.parquet", workdir.root / "catalog.parquet")
        return object()

    def geocode_catalog(workdir, settings=None, progress=True):
        calls["geocode"] += 1
        shutil.copy(template.root / "geocoded.parquet", workdir.root / "geocoded.parquet")
        import pandas as pd
        return pd.read_parquet(workdir.root / "geocoded.parquet")

    def learner(protocol):
        def fn(workdir, settings, split="spectrum", progress=True):
            calls[f"{protocol}-{split}"] += 1
            write_metrics(workdir, protocol, split, 0.9 if split == "spectrum" else 0.4)
            return EvaluationResult.read(workdir.metrics_file(protocol, split))
        return fn

    import rruffgeo.provenance.evaluate as prov
    import rruffgeo.provenance.final as final
    import rruffgeo.report.figures_provenance as prov_figures

    def fit_final(workdir, settings=None, models=None, chosen_by=""):
        calls["final-model"] += 1
        folder = workdir.final_model_dir
        folder.mkdir(parents=True, exist_ok=True)
        spec = {"models": {ev: {"model": m} for ev, m in (models or {}).items()},
                "n_spectra": 11, "chosen_by": chosen_by}
        (folder / final.SPEC).write_text(json.dumps(spec))
        return folder

    def evaluate_provenance(workdir, settings=None, split="specimen", network=True,
                            progress=True):
        calls[f"provenance-{split}"] += 1
        report = provenance_report(split)
        workdir.dir("metrics")
        report.write(workdir.provenance_cv_file(split))
        return prov.ProvenanceEvaluation(report, "network left out: no fold models")

    def draw_provenance_figures(workdir, report):
        from rruffgeo.report.figures import figures_of

        workdir.dir("figures")
        out = [workdir.provenance_figure(spec.stem, report.split, ".png")
               for spec in figures_of("provenance")]
        for p in out:
            p.write_bytes(b"figure")
        return out

    monkeypatch.setattr(final, "fit_final", fit_final)
    monkeypatch.setattr(prov, "evaluate_provenance", evaluate_provenance)
    monkeypatch.setattr(prov_figures, "draw_provenance_figures", draw_provenance_figures)
    monkeypatch.setattr(rruffgeo.data, "ingest", ingest, raising=False)
    monkeypatch.setattr(rruffgeo.geo, "geocode_catalog", geocode_catalog, raising=False)
    monkeypatch.setattr(rruffgeo.network, "run_train", learner("train"), raising=False)
    monkeypatch.setattr(rruffgeo.network, "run_cv", learner("cv"), raising=False)

    def train_waiting(workdir, settings, evaluation, splits, folds=None, progress=True):
        return {}  # the fake learners train nothing: nothing waits

    monkeypatch.setattr(jobs, "train_waiting", train_waiting)
    return calls, data


@pytest.fixture()
def fast_figures(monkeypatch):
    """Figure drawing replaced by writing the files the stamps check (drawing is tested in
    test_report_figures.py; here only the orchestration is)."""
    import rruffgeo.report.figures as figures

    def dataset(workdir, settings=None, progress=True):
        out = workdir.dir("figures") / "fig1_country_map"
        paths = [out.with_suffix(".png"), out.with_suffix(".svg")]
        for p in paths:
            p.write_bytes(b"figure")
        return figures.FigureResult({"fig1_country_map": paths})

    def evaluation(workdir, progress=True):
        out = workdir.dir("figures") / "fig9_overall_metrics"
        paths = [out.with_suffix(".png"), out.with_suffix(".svg")]
        for p in paths:
            p.write_bytes(b"figure")
        return figures.FigureResult({"fig9_overall_metrics": paths})

    monkeypatch.setattr(figures, "make_dataset_figures", dataset)
    monkeypatch.setattr(figures, "make_evaluation_figures", evaluation)


def test_run_then_rerun_skips_up_to_date_stages(stages, fast_figures, tmp_path):
    calls, data = stages
    wd = WorkDir(tmp_path / "work")
    settings = replace(Settings(), train=replace(Settings().train, epochs=1))
    first = run(data=str(data), workdir=wd, settings=settings, progress=False)
    assert first.ok, first.summary()
    assert [s.name for s in first.stages] == [
        "ingest", "geocode", "stats", "figures", "train-spectrum", "train-specimen",
        "provenance-cv", "final-model", "evaluation-figures", "report"]
    assert all(s.status == "ran" for s in first.stages)
    assert calls == Counter({"ingest": 1, "geocode": 1, "train-spectrum": 1,
                             "train-specimen": 1, "provenance-spectrum": 1,
                             "provenance-specimen": 1, "final-model": 1})
    assert (wd.root / "report.html").exists() and first.report == wd.root / "report.html"
    assert (wd.root / "tables" / "table3_learning_countries.csv").exists()
    assert set(first.headline) == {"spectrum", "specimen"}
    assert "report:" in first.summary()
    # every accuracy stands beside the majority-country rate (6 of 11 spectra in the fixture)
    acc_lines = [ln for ln in first.summary().splitlines() if ln.strip().startswith("accuracy,")]
    assert len(acc_lines) == 2 and all("majority country 0.545" in ln for ln in acc_lines)
    # the provenance winner beside the majority class, and which model models/final holds
    prov = [ln for ln in first.summary().splitlines() if ln.strip().startswith("provenance,")]
    assert len(prov) == 2 and all("combination top-1 0.600 (majority country 0.500)" in ln
                                  for ln in prov)
    assert "final model: combination (spectrum)" in first.summary()
    assert "best by log-loss in provenance_cv_specimen.json" in first.summary()
    assert "Provenance predictor" in (wd.root / "report.html").read_text()

    second = run(data=str(data), workdir=wd, settings=settings, progress=False)
    assert [s.status for s in second.stages] == ["skipped"] * 10
    assert calls["ingest"] == 1 and calls["train-specimen"] == 1
    assert calls["provenance-specimen"] == 1 and calls["final-model"] == 1

    # more epochs: only learning and what depends on its results runs again
    more = replace(settings, train=replace(settings.train, epochs=2))
    third = run(data=str(data), workdir=wd, settings=more, progress=False)
    status = {s.name: s.status for s in third.stages}
    assert status["ingest"] == status["geocode"] == status["figures"] == "skipped"
    assert status["train-spectrum"] == status["train-specimen"] == "ran"
    assert calls["train-spectrum"] == 2
    # hold-out models are not fold models: the provenance CV does not depend on them
    assert status["provenance-cv"] == status["final-model"] == "skipped"

    # changed data files: everything downstream of ingest runs again
    zf = data / "excellent_unoriented.zip"
    zf.write_bytes(b"new zip bytes")
    os.utime(zf, ns=(zf.stat().st_atime_ns, zf.stat().st_mtime_ns + 10**9))
    fourth = run(data=str(data), workdir=wd, settings=more, progress=False)
    assert {s.name: s.status for s in fourth.stages}["ingest"] == "ran"
    assert calls["ingest"] == 2 and calls["provenance-specimen"] == 2


def test_a_new_catalog_version_reruns_ingest_and_what_follows(stages, fast_figures, tmp_path,
                                                               monkeypatch):
    import rruffgeo.data.catalog as catalog

    calls, data = stages
    wd = WorkDir(tmp_path / "work")
    assert run(data=str(data), workdir=wd, progress=False).ok
    monkeypatch.setattr(catalog, "CATALOG_VERSION", catalog.CATALOG_VERSION + "-next")
    status = {s.name: s.status for s in run(data=str(data), workdir=wd, progress=False).stages}
    assert status["ingest"] == "ran" and calls["ingest"] == 2


def _changed(value):
    """Another valid value of a provenance setting: one more, or the grid less its last."""
    return value + 1 if isinstance(value, int) else value[:-1]


def test_any_provenance_setting_reruns_the_provenance_stage_alone(stages, fast_figures,
                                                                  tmp_path):
    calls, data = stages
    wd = WorkDir(tmp_path / "work")
    assert run(data=str(data), workdir=wd, progress=False).ok
    for f in fields(ProvenanceSettings):
        s = Settings(provenance=replace(ProvenanceSettings(),
                                        **{f.name: _changed(getattr(ProvenanceSettings(),
                                                                    f.name))}))
        before = calls["provenance-specimen"]
        status = {st.name: st.status for st in run(data=str(data), workdir=wd, settings=s,
                                                   progress=False).stages}
        assert status["provenance-cv"] == status["final-model"] == "ran", f.name
        assert calls["provenance-specimen"] == before + 1, f.name
        assert {status[n] for n in ("ingest", "geocode", "stats", "figures", "train-spectrum",
                                    "train-specimen")} == {"skipped"}, f.name
        assert run(data=str(data), workdir=wd, settings=s,
                   progress=False).stages[6].status == "skipped", f.name


def test_cv_flag_runs_cross_validation_per_split(stages, fast_figures, tmp_path):
    calls, data = stages
    res = run(data=str(data), workdir=tmp_path / "w", cv=True, progress=False,
              splits=["specimen"])
    assert res.ok and calls["cv-specimen"] == 1 and calls["train-specimen"] == 0
    assert (tmp_path / "w" / "metrics" / "cv_specimen.json").exists()
    assert calls["provenance-specimen"] == 1 and calls["provenance-spectrum"] == 0
    # new fold models (the cv metrics file rewritten): the provenance CV runs again
    more = replace(Settings(), train=replace(Settings().train, epochs=3))
    again = run(data=str(data), workdir=tmp_path / "w", settings=more, cv=True, progress=False,
                splits=["specimen"])
    assert {s.name: s.status for s in again.stages}["provenance-cv"] == "ran"
    assert calls["provenance-specimen"] == 2


def test_failed_stage_traceback_is_logged_only_at_debug_level(stages, fast_figures, tmp_path,
                                                                monkeypatch, caplog):
    _, data = stages

    def broken(workdir, settings, split="spectrum", progress=True):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(rruffgeo.network, "run_train", broken)
    with caplog.at_level(logging.INFO, logger="rruffgeo"):
        run(data=str(data), workdir=tmp_path / "w", progress=False)
    assert not any(r.exc_info for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="rruffgeo"):  # what --debug sets
        run(data=str(data), workdir=tmp_path / "w2", progress=False)
    traced = [r for r in caplog.records if r.exc_info]
    assert traced and "train-spectrum failed" in traced[0].getMessage()
    assert "out of memory" in str(traced[0].exc_info[1])


def test_trainings_side_by_side_run_once_and_a_failure_fails_its_split(stages, fast_figures,
                                                                        tmp_path, monkeypatch):
    calls, data = stages

    def one_failed(workdir, settings, evaluation, splits, folds=None, progress=True):
        calls["side-by-side"] += 1
        assert evaluation == "holdout" and list(splits) == ["spectrum", "specimen"]
        return {"spectrum": jobs.TrainingFailed("train spectrum fold 1: lr -1")}

    monkeypatch.setattr(jobs, "train_waiting", one_failed)
    res = run(data=str(data), workdir=tmp_path / "w", progress=False)
    status = {s.name: s.status for s in res.stages}
    assert status["train-spectrum"] == "failed" and status["train-specimen"] == "ran"
    assert "fold 1: lr -1" in res.summary()
    assert calls["side-by-side"] == 1 and calls["train-spectrum"] == 0


@pytest.mark.parametrize("error", [RuntimeError("out of memory"), ImportError("no module")])
def test_failed_learning_stage_still_gives_a_report(stages, fast_figures, tmp_path,
                                                   monkeypatch, error):
    _, data = stages

    def broken(workdir, settings, split="spectrum", progress=True):
        raise error

    monkeypatch.setattr(rruffgeo.network, "run_train", broken)
    res = run(data=str(data), workdir=tmp_path / "w", progress=False)
    status = {s.name: s.status for s in res.stages}
    assert status["train-spectrum"] == "failed" and status["report"] == "ran"
    assert not res.ok and str(error) in res.summary()
    # the failed stage left no stamp, so the next run tries it again
    assert not (tmp_path / "w" / "stamps" / "train-spectrum.json").exists()


def test_failed_ingest_stops_the_run_with_a_clear_error(stages, tmp_path, monkeypatch, capsys):
    _, data = stages

    def broken(source=None, workdir=None, settings=None, progress=True):
        raise FileNotFoundError(f"{source}: no RRUFF files found")

    monkeypatch.setattr(rruffgeo.data, "ingest", broken)
    with pytest.raises(StageError, match="no RRUFF files found"):
        run(data=str(data), workdir=tmp_path / "w", progress=False)
    rc = main(["run", "--data", str(data), "--workdir", str(tmp_path / "w"), "--no-progress"])
    assert rc == 1
    assert "no RRUFF files found" in capsys.readouterr().err


def test_cli_run_passes_settings_and_prints_summary(stages, tmp_path, capsys):
    calls, data = stages
    rc = main(["run", "--data", str(data), "--workdir", str(tmp_path / "w"), "--no-progress",
               "--epochs", "3", "--splits", "specimen"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "train-specimen" in out and "report:" in out and "accuracy" in out
    assert (tmp_path / "w" / "figures" / "fig9_overall_metrics.svg").exists()
    assert "data:image/png;base64," in (tmp_path / "w" / "report.html").read_text()
    assert calls["train-specimen"] == 1 and calls["train-spectrum"] == 0
    import json
    saved = json.loads((tmp_path / "w" / "run_settings.json").read_text())
    assert saved["train"]["epochs"] == 3


def test_unknown_split_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown split"):
        run(workdir=tmp_path / "w", splits=["random"], progress=False)


def test_bad_data_leaves_no_work_folder(tmp_path, capsys):
    work = tmp_path / "w"
    rc = main(["run", "--data", str(tmp_path / "missing"), "--workdir", str(work),
               "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "missing: no such file or folder" in err and len(err.splitlines()) == 1
    assert not work.exists()


def test_settings_that_do_not_change_results_do_not_rerun_stages(stages, fast_figures,
                                                                 tmp_path):
    calls, data = stages
    wd = WorkDir(tmp_path / "w")
    run(data=str(data), workdir=wd, progress=False, splits=["specimen"])
    s = Settings()
    elsewhere = replace(s, train=replace(s.train, threads=1, device="cpu"),
                        ingest=replace(s.ingest, workers=1))
    again = run(data=str(data), workdir=wd, settings=elsewhere, progress=False,
                splits=["specimen"])
    assert all(st.status == "skipped" for st in again.stages), again.summary()
    assert calls["train-specimen"] == 1
