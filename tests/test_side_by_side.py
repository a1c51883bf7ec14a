"""Trainings side by side (one process per core) give the fold results one process gives, and
say which fold failed and why; the training precision "auto" follows the CPU."""

from __future__ import annotations

import json
import subprocess

import pytest
import torch

import rruffgeo.network.evaluate as evaluate
from rruffgeo.checks import SettingError
from rruffgeo.config import RUN_SPLITS, Evaluation, Precision, Split, replace
from rruffgeo.network import runtime
from rruffgeo.network.evaluate import run_cv, run_train
from rruffgeo.network.jobs import (
    TrainingFailed,
    plan_jobs,
    train_split_first,
    train_waiting,
    waiting_trainings,
)
from synthetic_learn import make_workdir, tiny_settings


def _settings(jobs: int, threads: int = 1, epochs: int = 2):
    s = tiny_settings(epochs=epochs)
    return replace(s, train=replace(s.train, jobs=jobs, threads=threads))


def _results(wd, evaluation: str, split: str, folds: int) -> list[dict]:
    out = []
    for k in range(folds):
        r = json.loads((wd.model_dir(evaluation, split, k) / "result.json").read_text())
        out.append({"network": r["network"], "history": [h["train_loss"] for h in r["history"]]})
    return out


@pytest.mark.parametrize(("jobs", "threads", "waiting", "cores", "expected"), [
    (0, 0, 2, 2, (2, 1)),    # auto: one process per core, one thread each
    (0, 0, 5, 4, (4, 1)),
    (0, 0, 1, 2, (1, 0)),    # one training: in this process, every core
    (0, 1, 5, 2, (1, 1)),    # --threads given: the user limited the cores
    (3, 0, 5, 2, (3, 1)),    # --jobs given
    (3, 0, 2, 8, (2, 4)),    # never more processes than trainings; the cores shared out
    (1, 0, 5, 2, (1, 0)),
])
def test_plan_shares_the_cores(jobs, threads, waiting, cores, expected):
    s = tiny_settings()
    s = replace(s, train=replace(s.train, jobs=jobs, threads=threads))
    assert plan_jobs(s, waiting, cores=cores) == expected


def test_cv_folds_side_by_side_give_the_results_of_one_process(tmp_path):
    one = make_workdir(tmp_path / "one")
    run_cv(one, _settings(jobs=1), Split.SPECTRUM, progress=False)
    many = make_workdir(tmp_path / "many")
    train_split_first(many, _settings(jobs=2), Evaluation.CV, Split.SPECTRUM, progress=False)
    assert waiting_trainings(many, _settings(jobs=2), Evaluation.CV, [Split.SPECTRUM]) == []
    report = run_cv(many, _settings(jobs=2), Split.SPECTRUM, progress=False)
    assert report.folds_run == [0, 1, 2]
    assert _results(many, "cv", "spectrum", 3) == _results(one, "cv", "spectrum", 3)


def test_run_cv_trains_in_its_own_process_whatever_jobs_says(tmp_path, monkeypatch):
    def no_side_process(*args, **kwargs):
        raise AssertionError("run_cv started a side process")

    monkeypatch.setattr(subprocess, "Popen", no_side_process)
    wd = make_workdir(tmp_path / "w")
    report = run_cv(wd, _settings(jobs=2, epochs=1), Split.SPECTRUM, progress=False, folds=[0])
    assert report.folds_run == [0]


def test_both_hold_outs_train_side_by_side_then_only_score(tmp_path, monkeypatch):
    wd = make_workdir(tmp_path / "w")
    s = _settings(jobs=2)
    assert train_waiting(wd, s, Evaluation.HOLDOUT, list(RUN_SPLITS), progress=False) == {}

    def no_training(*args, **kwargs):
        raise AssertionError("the side processes trained this already")

    monkeypatch.setattr(evaluate, "fit_network", no_training)
    for split in RUN_SPLITS:
        assert run_train(wd, s, split, progress=False).folds_run == [0]
    one = make_workdir(tmp_path / "one")
    monkeypatch.undo()
    run_train(one, _settings(jobs=1), Split.SPECIMEN, progress=False)
    assert _results(wd, "holdout", "specimen", 1) == _results(one, "holdout", "specimen", 1)


def test_a_failing_fold_is_named_with_its_error(tmp_path):
    wd = make_workdir(tmp_path / "w")
    blocked = wd.model_dir("cv", "spectrum", 1)
    blocked.parent.mkdir(parents=True)
    blocked.write_text("a file where fold 2's folder goes")
    with pytest.raises(TrainingFailed, match=r"^cv spectrum fold 2: .*fold_1") as err:
        train_split_first(wd, _settings(jobs=2), Evaluation.CV, Split.SPECTRUM, progress=False)
    assert "\n" not in str(err.value)
    assert (wd.model_dir("cv", "spectrum", 0) / "result.json").exists()  # the others finished


def test_auto_precision_is_bf16_only_where_the_cpu_has_it_natively(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(runtime, "cpu_bf16_unsupported_reason", lambda: None)
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: True)
    assert runtime.resolve_train_precision("auto", cpu) is Precision.BF16
    assert runtime.resolve_train_precision("fp32", cpu) is Precision.FP32
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: False)  # AVX-512, emulated
    assert runtime.resolve_train_precision("auto", cpu) is Precision.FP32
    assert runtime.resolve_train_precision("bf16", cpu) is Precision.BF16
    monkeypatch.setattr(runtime, "cpu_bf16_unsupported_reason", lambda: "no kernels (AVX2)")
    assert runtime.resolve_train_precision("auto", cpu) is Precision.FP32
    with pytest.raises(SettingError, match="--precision bf16: no kernels"):
        runtime.resolve_train_precision("bf16", cpu)


def test_the_model_records_the_precision_it_trained_in(tmp_path):
    wd = make_workdir(tmp_path / "w")
    s = tiny_settings(epochs=1)
    s = replace(s, train=replace(s.train, precision="auto"))
    run_train(wd, s, Split.SPECTRUM, progress=False)
    meta = json.loads((wd.model_dir("holdout", "spectrum", 0) / "model.json").read_text())
    assert meta["train_precision"] == runtime.resolve_train_precision("auto",
                                                                      torch.device("cpu"))
