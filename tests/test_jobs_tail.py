"""The last fold of an uneven share trains on every core, and its thread count follows from
the plan alone: the side-by-side folds equal one-process trainings at the planned threads."""

from __future__ import annotations

import json

import pytest

import rruffgeo.network.jobs as jobs
from rruffgeo.config import Evaluation, Split, replace
from synthetic_learn import make_workdir, tiny_settings


def _settings(threads: int, jobs_: int = 0, epochs: int = 1):
    s = tiny_settings(epochs=epochs, folds=3)
    return replace(s, train=replace(s.train, jobs=jobs_, threads=threads))


@pytest.mark.parametrize(("n", "jobs_", "threads", "user_threads", "cores", "expected"), [
    (5, 2, 1, 0, 2, [1, 1, 1, 1, 2]),   # the 5th alone: both cores
    (4, 2, 1, 0, 2, [1, 1, 1, 1]),      # even: nothing left over
    (7, 3, 2, 0, 6, [2, 2, 2, 2, 2, 2, 6]),
    (5, 4, 1, 0, 4, [1, 1, 1, 1, 4]),
    (5, 3, 1, 0, 4, [1, 1, 1, 2, 2]),   # two left over share the four cores
    (5, 2, 1, 1, 2, [1, 1, 1, 1, 1]),   # --threads given: the user limited the cores
    (2, 2, 1, 0, 2, [1, 1]),
])
def test_thread_plan_gives_the_leftover_trainings_every_core(n, jobs_, threads, user_threads,
                                                            cores, expected):
    assert jobs.thread_plan(_settings(user_threads), n, jobs_, threads, cores) == expected


@pytest.mark.parametrize(("busy", "threads", "expected"), [
    ([], 2, True), ([1], 1, True), ([1], 2, False), ([1, 1], 1, False), ([2], 1, False),
])
def test_a_training_starts_only_where_its_threads_fit(busy, threads, expected):
    running = {k: jobs._Running(None, None, t) for k, t in enumerate(busy)}
    assert jobs._may_start(threads, running, jobs=2, cores=2) is expected


def _weights(wd, fold: int) -> bytes:
    return (wd.model_dir("cv", "spectrum", fold) / "model.safetensors").read_bytes()


def _alone(wd, settings, fold: int, threads: int) -> None:
    """Train one fold in a side process of ``threads`` threads with nothing beside it."""
    training = jobs.Training(Evaluation.CV, Split.SPECTRUM, fold)
    job = jobs._Running.start(wd, training, jobs._settings_json(settings, threads), threads)
    job.proc.stdout.read()
    assert job.finish() is None


def test_side_by_side_folds_equal_lone_trainings_at_the_planned_threads(tmp_path, monkeypatch):
    """Scheduled with others or alone, a fold is the same bits at its planned threads (1, 1, 2
    for 3 folds on 2 cores); a side process is compared with a side process, since the first
    process of a run (thread pool already started) can differ in the last bits."""
    monkeypatch.setattr(jobs, "usable_cores", lambda: 2)
    many = make_workdir(tmp_path / "many")
    jobs.train_split_first(many, _settings(threads=0), Evaluation.CV, Split.SPECTRUM,
                           progress=False)
    one = make_workdir(tmp_path / "one")
    for fold, threads in enumerate([1, 1, 2]):
        _alone(one, _settings(threads=0), fold, threads)
    for fold in range(3):
        assert _weights(many, fold) == _weights(one, fold), f"fold {fold + 1}"
    result = json.loads((many.model_dir("cv", "spectrum", 2) / "result.json").read_text())
    assert result["history"]
