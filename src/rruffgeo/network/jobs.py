"""Trainings side by side: the folds of ``cv``, or the split protocols of ``run``, each in its own
process with its share of the cores.

Why: on a small CPU one process with every core's thread leaves cores waiting in the many small
kernels of a ConvNeXt1D step; single-thread processes side by side train more spectra per second
(docs/guide.md, "Why the defaults").

Each process runs the ordinary fold code (``run_cv`` or ``run_train`` on one fold), which keeps a
checkpoint after every epoch and writes the fold's model and ``result.json``. The caller (the
cli, the pipeline) trains here first, then calls that function over every fold in its own
process: it finds them finished and writes the metrics. So an
interrupted run resumes in either mode, and a fold's result does not depend on which process
trained it (its key leaves out threads and jobs; floats can differ in the last bits with the
thread count, as they do for ``--threads``).
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from rruffgeo.config import Evaluation, Settings, Split, from_dict, replace, to_dict
from rruffgeo.errors import UserError, describe
from rruffgeo.network import distributed
from rruffgeo.network.evaluate import run_cv, run_train, unfinished_folds
from rruffgeo.parallel import usable_cores
from rruffgeo.workdir import WorkDir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Training:
    """One network to train: a fold of an evaluation of a split protocol."""

    evaluation: Evaluation
    split: Split
    fold: int

    def label(self) -> str:
        return f"{self.evaluation.file_stem} {self.split} fold {self.fold + 1}"


def plan_jobs(settings: Settings, n_trainings: int, cores: int | None = None) -> tuple[int, int]:
    """(processes, torch threads each) for ``n_trainings`` waiting trainings.

    ``jobs`` 0 means one process per core, up to the trainings waiting, when ``threads`` is 0
    (when it is set, the user has limited the cores, so 1). CUDA and torchrun stay at one.
    """
    ts = settings.train
    cores = cores or usable_cores()
    on_cuda = ts.device.startswith("cuda") or (ts.device == "auto" and _cuda_available())
    if n_trainings <= 1 or on_cuda or distributed.launched_world_size() > 1:
        return 1, ts.threads
    jobs = ts.jobs or (min(n_trainings, cores) if ts.threads == 0 else 1)
    jobs = min(jobs, n_trainings)
    if jobs <= 1:
        return 1, ts.threads
    return jobs, ts.threads or max(1, cores // jobs)


def thread_plan(settings: Settings, n_trainings: int, jobs: int, threads: int,
                cores: int | None = None) -> list[int]:
    """Torch threads of each of ``n_trainings`` trainings, in order, run ``jobs`` at a time.

    Why: 5 folds in 2 processes leave the 5th to train alone on one core while the other
    waits. When the cores were shared out automatically (``threads`` 0), the last
    ``n_trainings % jobs`` trainings share out all the cores instead, and start only once
    the trainings before them have finished. A training's thread count (which can change the
    last bits of its floats) so follows from the plan alone, never from which process
    happened to finish first.
    """
    cores = cores or usable_cores()
    plan = [threads] * n_trainings
    tail = n_trainings % jobs
    if settings.train.threads == 0 and tail and n_trainings > jobs:
        plan[n_trainings - tail:] = [max(threads, cores // tail)] * tail
    return plan


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def waiting_trainings(workdir: WorkDir, settings: Settings, evaluation: Evaluation,
                      splits: Sequence[Split], folds: Sequence[int] | None = None
                      ) -> list[Training]:
    """The trainings of ``splits`` (``folds`` of each; all by default) not yet finished."""
    return [Training(evaluation, Split(split), k) for split in splits
            for k in unfinished_folds(workdir, settings, evaluation, split, folds)]


class TrainingFailed(UserError):
    """A training in a side process stopped with an error of input or environment."""


def train_side_by_side(workdir: WorkDir, settings: Settings, trainings: Sequence[Training],
                       progress: bool = True) -> dict[Training, Exception] | None:
    """Train ``trainings`` in ``plan_jobs`` processes; what failed, with its error.

    None when the plan is one process: the caller trains in its own process as before. Each
    process is ``python -m rruffgeo.network.jobs`` (no pickled state, nothing re-imported
    from the caller's script). Ctrl-C stops them all; their checkpoints are kept, so the next
    run resumes.
    """
    jobs, threads = plan_jobs(settings, len(trainings))
    if jobs <= 1:
        return None
    plan = thread_plan(settings, len(trainings), jobs, threads)
    waiting, running = list(zip(trainings, plan, strict=True)), {}
    failures: dict[Training, Exception] = {}
    bar = tqdm(total=len(trainings) * settings.train.epochs, unit="epoch", disable=not progress,
               desc=f"training {len(trainings)} networks, {jobs} side by side x {threads} "
               f"thread{'s' if threads > 1 else ''}")
    log.info("training %d networks in %d processes of %d thread(s)", len(trainings), jobs,
             threads)
    with selectors.DefaultSelector() as sel:
        try:
            while waiting or running:
                while waiting and _may_start(waiting[0][1], running, jobs, jobs * threads):
                    training, n_threads = waiting.pop(0)
                    job = _Running.start(workdir, training, _settings_json(settings, n_threads),
                                         n_threads)
                    running[job.proc.stdout] = job
                    sel.register(job.proc.stdout, selectors.EVENT_READ)
                for key, _ in sel.select(timeout=1.0):
                    job = running[key.fileobj]
                    line = key.fileobj.readline()
                    if line:
                        job.read(line, bar)
                        continue
                    sel.unregister(key.fileobj)
                    del running[key.fileobj]
                    error = job.finish()
                    if error is not None:
                        failures[job.training] = error
                        log.debug("%s", error)  # the caller raises it
        except BaseException:
            for job in running.values():  # Ctrl-C reached only this process, or a bug here
                job.proc.terminate()
            for job in running.values():
                job.proc.wait()
            raise
        finally:
            bar.close()
    return failures


def _may_start(threads: int, running: dict, jobs: int, cores: int) -> bool:
    """Whether a training of ``threads`` threads fits beside those running."""
    busy = sum(job.threads for job in running.values())
    return len(running) < jobs and (not running or busy + threads <= cores)


def _settings_json(settings: Settings, threads: int) -> str:
    """The settings a side process trains with: ``threads`` threads, one process."""
    return json.dumps(to_dict(replace(settings, train=replace(settings.train, threads=threads,
                                                                  jobs=1))))


@dataclass
class _Running:
    """A side process and what it has said: an epoch finished, or its one-line error."""

    proc: subprocess.Popen[str]
    training: Training
    threads: int
    error: str | None = None

    @classmethod
    def start(cls, workdir: WorkDir, training: Training, settings_json: str,
              threads: int) -> _Running:
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        proc = subprocess.Popen(
            [sys.executable, "-m", __name__, str(workdir.root), str(training.evaluation),
             str(training.split), str(training.fold)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        assert proc.stdin is not None
        proc.stdin.write(settings_json)
        proc.stdin.close()
        return cls(proc, training, threads)

    def read(self, line: str, bar: tqdm) -> None:
        kind, _, text = line.rstrip("\n").partition(" ")
        if kind == _EPOCH:
            bar.update(1)
        elif kind == _ERROR:
            self.error = text

    def finish(self) -> Exception | None:
        code = self.proc.wait()
        if code == 0:
            return None
        if self.error is not None:
            return TrainingFailed(f"{self.training.label()}: {self.error}")
        return RuntimeError(f"{self.training.label()}: the training process exited with code "
                            f"{code} (its error is above)")


def train_waiting(workdir: WorkDir, settings: Settings, evaluation: Evaluation,
                  splits: Sequence[Split], folds: Sequence[int] | None = None,
                  progress: bool = True) -> dict[Split, Exception]:
    """Train the unfinished folds of ``splits`` side by side when the cores allow it (else
    nothing: the caller's own loop trains them); the first failure of each split."""
    if plan_jobs(settings, 2)[0] <= 1:  # cheap check first: no data read for one process
        return {}
    trainings = waiting_trainings(workdir, settings, evaluation, splits, folds)
    failures = train_side_by_side(workdir, settings, trainings, progress) or {}
    first: dict[Split, Exception] = {}
    for t, exc in failures.items():
        first.setdefault(t.split, exc)
    return first


def train_split_first(workdir: WorkDir, settings: Settings, evaluation: Evaluation,
                      split: Split, folds: Sequence[int] | None = None,
                      progress: bool = True) -> None:
    """``train_waiting`` for one split, raising its first failure: what a command runs before
    ``run_cv``/``run_train`` so that they only score what is trained."""
    failed = train_waiting(workdir, settings, evaluation, [split], folds, progress).get(split)
    if failed is not None:
        raise failed


# ---------------------------------------------------------------- in the side process

_EPOCH, _ERROR = "rruffgeo-epoch", "rruffgeo-error"


def _train_one(root: str, evaluation: str, split: str, fold: int, settings: Settings) -> None:
    """Train and score one fold, exactly as ``run_cv``/``run_train`` do in one process."""
    def report(fold: int, epoch: int) -> None:
        print(_EPOCH, epoch, flush=True)

    wd = WorkDir(root)
    if Evaluation(evaluation) is Evaluation.CV:
        run_cv(wd, settings, split, progress=False, folds=[fold], on_epoch=report)
    else:
        run_train(wd, settings, split, progress=False, on_epoch=report)


def _side_main(argv: list[str]) -> int:
    """``python -m rruffgeo.network.jobs ROOT EVALUATION SPLIT FOLD`` with the settings
    as JSON on stdin: what ``train_side_by_side`` starts."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    root, evaluation, split, fold = argv
    try:
        settings = from_dict(Settings, json.loads(sys.stdin.read()))
        _train_one(root, evaluation, split, int(fold), settings)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        message = describe(exc, Path(root))
        if message is None:
            raise  # a bug: its traceback goes to stderr
        print(_ERROR, message, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_side_main(sys.argv[1:]))
