"""Time and peak memory of every stage on a (large) RRUFF mirror folder.

    python benchmarks/make_mirror.py 5 /tmp/mirror5          # ~42,000 spectra
    python benchmarks/bench_stages.py [--mirror /tmp/mirror5] [--workdir DIR]
        [--stages ingest,geocode,spectra,baselines,train] [--folds 1]

Each stage runs in a fresh child process (the CLI for ingest, geocode and spectra; the
baselines and the one-epoch training through the library, as ``rruffgeo cv`` calls them) and is
measured from outside: wall seconds, CPU seconds of the child and its workers, and peak memory =
the largest resident set (max RSS) of any one of its processes (``getrusage(RUSAGE_CHILDREN)``
of a wrapper process that runs only that stage). The machine (CPU model, SIMD flags, cores,
float32 matmul rate) and the load average before each stage are printed beside the figures,
since the machine may be shared.

Stages:
  ingest     ``rruffgeo ingest --data MIRROR`` (parser processes: one per core)
  geocode    ``rruffgeo geocode`` (offline gazetteer)
  spectra    ``rruffgeo spectra --force`` (resample into the memory-mapped matrix)
  baselines  majority class and 1-NN cosine on the 5-fold CV (by spectrum), reading the
             memory-mapped matrix; ``--folds`` of the 5 (1-NN time grows with n^2)
  train      one epoch of ``fit_network`` on fold 1 with a small ConvNeXt1D (depths 1,1,
             dims 8,16; the paper-size network would take hours at this size on 2 cores),
             then its predictions on the test fold: the data path of ``rruffgeo cv``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine_info import describe  # benchmarks/machine_info.py

REPO = Path(__file__).resolve().parents[1]
STAGES = ("ingest", "geocode", "spectra", "baselines", "train")

#: Runs one command and prints its figures as JSON (a fresh process per stage, so that
#: RUSAGE_CHILDREN's max RSS is this stage's alone).
WRAPPER = r"""
import json, resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.run(sys.argv[1:]).returncode
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print("BENCH " + json.dumps({"rc": rc, "wall_s": time.perf_counter() - t,
      "cpu_s": ru.ru_utime + ru.ru_stime, "peak_mb": ru.ru_maxrss / 1024}), flush=True)
"""

BASELINES = r"""
import sys, time, numpy as np
from rruffgeo.config import Settings
from rruffgeo.network.baseline import majority_scores, nn1_cosine_scores
from rruffgeo.network.evaluate import load_dataset
from rruffgeo.network.metrics import fold_metrics
from rruffgeo.splits import cv_splits
from rruffgeo.workdir import WorkDir
settings = Settings()
ds = load_dataset(WorkDir(sys.argv[1]), settings)
print(f"{len(ds.y)} spectra of {len(ds.classes)} countries; X is {type(ds.X).__name__}")
splits = cv_splits(ds.y, ds.groups, "spectrum", 5, 0)
for k in [int(f) - 1 for f in sys.argv[2].split(",")]:
    tr, te = splits[k]
    t = time.perf_counter()
    maj = fold_metrics(ds.y[te], majority_scores(ds.y[tr], len(te), len(ds.classes)))
    nn = fold_metrics(ds.y[te], nn1_cosine_scores(ds.X[tr], ds.y[tr], ds.X[te],
                                                   len(ds.classes), progress=True))
    print(f"fold {k + 1}: {len(tr)} train, {len(te)} test; majority acc "
          f"{maj['accuracy']:.3f}; 1-NN acc {nn['accuracy']:.3f} "
          f"({time.perf_counter() - t:.1f} s)", flush=True)
"""

TRAIN = r"""
import sys, time
from rruffgeo.config import ModelSettings, Settings, TrainSettings
from rruffgeo.network.evaluate import load_dataset
from rruffgeo.network.metrics import fold_metrics
from rruffgeo.splits import cv_splits
from rruffgeo.network.runtime import predict_proba, select_device
from rruffgeo.network.train import fit_network
from rruffgeo.workdir import WorkDir
settings = Settings(model=ModelSettings(depths=(1, 1), dims=(8, 16)),
                    train=TrainSettings(epochs=1, threads=1))
ds = load_dataset(WorkDir(sys.argv[1]), settings)
tr, te = cv_splits(ds.y, ds.groups, "spectrum", 5, 0)[0]
device = select_device("cpu", 1)
t = time.perf_counter()
model, hist = fit_network(ds.X[tr], ds.y[tr], len(ds.classes), settings, device=device,
                          grid_step_cm1=float(ds.grid_cm1[1] - ds.grid_cm1[0]))
m = fold_metrics(ds.y[te], predict_proba(model, ds.X[te], device))
print(f"1 epoch on {len(tr)} spectra + predict {len(te)}: {time.perf_counter() - t:.1f} s, "
      f"acc {m['accuracy']:.3f}", flush=True)
"""


def _timed(fn: object) -> float:
    t = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t


def stage_command(stage: str, mirror: Path, workdir: Path, folds: str) -> list[str]:
    py = sys.executable
    cli = [py, "-m", "rruffgeo"]
    if stage == "ingest":
        return [*cli, "ingest", "--data", str(mirror), "--workdir", str(workdir)]
    if stage == "geocode":
        return [*cli, "geocode", "--workdir", str(workdir)]
    if stage == "spectra":
        return [*cli, "spectra", "--workdir", str(workdir), "--force"]
    if stage == "baselines":
        return [py, "-c", BASELINES, str(workdir), folds]
    if stage == "train":
        return [py, "-c", TRAIN, str(workdir)]
    raise ValueError(stage)


def run_stage(cmd: list[str], src: Path) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(src))
    proc = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], env=env,
                          stdout=subprocess.PIPE, text=True)
    figures: dict[str, float] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH "):
            figures = json.loads(line[6:])
        else:
            print("    " + line, flush=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirror", type=Path, default=REPO.parent / "shared" / "rruff",
                    help="folder of RRUFF zips (default ../shared/rruff, the shared data)")
    ap.add_argument("--workdir", type=Path, help="work folder (default: a temporary one, "
                    "removed at the end)")
    ap.add_argument("--stages", default=",".join(STAGES[:4]),
                    help=f"comma-separated, in order (default: the first four of "
                    f"{','.join(STAGES)})")
    ap.add_argument("--folds", default="1", help="CV folds (1-based) for the baselines stage")
    ap.add_argument("--src", type=Path, default=REPO / "src",
                    help="the rruffgeo sources to run (default: this checkout's; another "
                    "checkout's src/ gives a before/after)")
    args = ap.parse_args(argv)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    bad = [s for s in stages if s not in STAGES]
    if bad:
        print(f"--stages: unknown stage(s) {', '.join(bad)}; choose from {', '.join(STAGES)}",
              file=sys.stderr)
        return 2
    if not args.mirror.is_dir():
        print(f"--mirror {args.mirror}: not a folder", file=sys.stderr)
        return 2
    print(describe(), flush=True)
    temp = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="rruffgeo-bench-")) if temp else args.workdir
    rows = []
    try:
        for stage in stages:
            load = os.getloadavg()[0]
            print(f"[{stage}] load average {load:.2f}", flush=True)
            fig = run_stage(stage_command(stage, args.mirror.resolve(), workdir, args.folds),
                            args.src.resolve())
            rows.append((stage, fig, load))
            if fig:  # at once too, so that an interrupted run keeps what it measured
                print(f"[{stage}] {json.dumps(fig)}", flush=True)
            if not fig or fig["rc"] != 0:
                print(f"[{stage}] failed (exit {fig.get('rc')}); stopping", file=sys.stderr)
                break
        n = _n_spectra(workdir)
    finally:
        if temp:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{n} spectra in the catalog ({args.mirror})")
    # CPU time per spectrum stays flat where a stage's time grows linearly with the data,
    # and is far less disturbed than wall time when other jobs share the machine.
    print(f"{'stage':<10} {'wall s':>8} {'CPU s':>8} {'CPU ms/sp':>9} {'peak MB':>8} "
          f"{'load':>6}")
    for stage, fig, load in rows:
        if fig:
            per = f"{1000 * fig['cpu_s'] / n:9.2f}" if isinstance(n, int) and n else f"{'?':>9}"
            print(f"{stage:<10} {fig['wall_s']:8.1f} {fig['cpu_s']:8.1f} {per} "
                  f"{fig['peak_mb']:8.0f} {load:6.2f}")
    return 0 if all(f and f["rc"] == 0 for _, f, _ in rows) else 1


def _n_spectra(workdir: Path) -> int | str:
    try:
        import pyarrow.parquet as pq

        return pq.read_metadata(workdir / "catalog.parquet").num_rows
    except Exception:  # noqa: BLE001 - only a label for the table
        return "?"


if __name__ == "__main__":
    raise SystemExit(main())
