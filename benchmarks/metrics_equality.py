"""Do two checkouts give the same metrics? A small fixed run whose metric files are hashed.

A refactoring must not change a number. This runs one small, fixed configuration through the
commands of the checkout named by ``--repo`` (default: this one), each in its own process with
that checkout's ``src`` first on the path: ``ingest`` of the first ``--spectra`` RRUFF files of one
category (sorted by name), ``geocode`` (offline), ``train`` and ``cv`` of both split protocols
(2 epochs, 256 grid points, one thread, fp32), and ``provenance-cv`` of both protocols with the
network's fold models. It then prints, per metrics file, a hash of its values with the timings
left out (they differ from run to run) and the headline numbers, and writes them to
``WORK/equality.json``. Run it on two checkouts and compare the two files:

    python benchmarks/metrics_equality.py --work /tmp/eq-new
    git worktree add /tmp/eq-base BASE && \\
        python benchmarks/metrics_equality.py --repo /tmp/eq-base --work /tmp/eq-old
    python benchmarks/metrics_equality.py --compare /tmp/eq-old /tmp/eq-new

About 3 minutes of CPU with the defaults.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parents[1]
#: Keys and columns that hold seconds (``*_s``, ``epoch_s_mean``, ``wall_s_this_call``).
TIMING = re.compile(r"_s($|_)")
COMMON = ["--grid-points", "256", "--epochs", "2", "--device", "cpu", "--threads", "1",
          "--precision", "fp32", "--seed", "0", "--no-progress"]


def take_spectra(zip_path: Path, n: int, folder: Path) -> None:
    """The first ``n`` .txt members of the zip by name: the same files on every run."""
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path) as z:
        names = sorted(m for m in z.namelist() if m.endswith(".txt"))[:n]
        for name in names:
            (folder / Path(name).name).write_bytes(z.read(name))


def rruffgeo(repo: Path, *argv: str) -> None:
    """One command of the checkout at ``repo``, its ``src`` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(repo / "src"), "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rruffgeo", *argv], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    print(f"  rruffgeo {' '.join(argv[:3])} ... {time.perf_counter() - t0:.0f} s", flush=True)


def run_all(repo: Path, data: Path, work: Path) -> None:
    wd = ["--workdir", str(work)]
    rruffgeo(repo, "ingest", "--data", str(data), "--workers", "1", "--no-progress", *wd)
    rruffgeo(repo, "geocode", "--no-progress", *wd)
    for split in ("spectrum", "specimen"):
        rruffgeo(repo, "train", "--split", split, *COMMON, *wd)
        rruffgeo(repo, "cv", "--split", split, "--jobs", "1", "--no-provenance", *COMMON, *wd)
    rruffgeo(repo, "provenance-cv", "--split", "both", "--network", "auto", "--no-figures",
             "--grid-points", "256", "--seed", "0", *wd)


def timeless(obj: Any) -> Any:
    """``obj`` without the keys that hold seconds."""
    if isinstance(obj, dict):
        return {k: timeless(v) for k, v in obj.items() if not TIMING.search(k)}
    if isinstance(obj, list):
        return [timeless(v) for v in obj]
    return obj


def values_of(path: Path, work: Path) -> bytes:
    """The file's values as bytes to hash: timings left out, the work folder's path (in notes)
    as WORK, arrays and tables exact."""
    if path.suffix == ".json":
        doc = json.loads(path.read_text().replace(str(work), "WORK"))
        return json.dumps(timeless(doc), sort_keys=True).encode()
    if path.suffix in (".csv", ".parquet"):
        df = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
        df = df[[c for c in df.columns if not TIMING.search(str(c))]]
        buf = io.StringIO()
        df.to_csv(buf, index=False, float_format="%.17g")
        return buf.getvalue().encode()
    with np.load(path, allow_pickle=False) as z:
        return b"".join(k.encode() + np.ascontiguousarray(z[k]).tobytes() for k in sorted(z))


def headline(path: Path) -> dict[str, Any]:
    """A few numbers to read: mean accuracies, or each provenance model's top-1 and log-loss."""
    if path.suffix != ".json":
        return {}
    doc = json.loads(path.read_text())
    if "summary" in doc:
        return {f"{m}.{k}": v["mean"] for m, part in doc["summary"].items()
                for k, v in part.items() if k in ("accuracy", "f1_macro")}
    return {f"{m}.{k}": r["vs_majority"][k]["value"] for m, r in doc.get("models", {}).items()
            for k in ("top1", "log_loss")}


def summarise(work: Path) -> dict[str, Any]:
    files = sorted(p for p in (work / "metrics").iterdir()
                   if p.suffix in (".json", ".csv", ".parquet", ".npz"))
    out = {p.name: {"values_sha256": hashlib.sha256(values_of(p, work)).hexdigest()[:16],
                    "headline": headline(p)} for p in files}
    out["ALL"] = {"values_sha256": hashlib.sha256("".join(
        v["values_sha256"] for v in out.values()).encode()).hexdigest()[:16]}
    return out


def compare(old: Path, new: Path) -> int:
    a = json.loads((old / "equality.json").read_text())
    b = json.loads((new / "equality.json").read_text())
    differ = sorted(k for k in a.keys() | b.keys()
                    if a.get(k, {}).get("values_sha256") != b.get(k, {}).get("values_sha256"))
    print(f"{len(a) - 1} metrics files; " + (f"DIFFERENT: {', '.join(differ)}" if differ else
                                               "every value identical to the last digit"))
    return 1 if differ else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, default=HERE, help="checkout whose code runs")
    ap.add_argument("--work", type=Path, default=Path("/tmp/rruffgeo-equality"))
    ap.add_argument("--rruff", type=Path, default=Path("/work/shared/rruff"),
                    help="folder of the official RRUFF zips")
    ap.add_argument("--category", default="excellent_unoriented")
    ap.add_argument("--spectra", type=int, default=400)
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("OLD", "NEW"),
                    help="compare the equality.json of two earlier runs")
    ap.add_argument("--hash-only", action="store_true",
                    help="hash the metrics of an earlier run in --work again, running nothing")
    args = ap.parse_args()
    if args.compare:
        return compare(*args.compare)
    t0 = time.perf_counter()
    if not args.hash_only:
        shutil.rmtree(args.work, ignore_errors=True)
        take_spectra(args.rruff / f"{args.category}.zip", args.spectra, args.work / "data")
        run_all(args.repo.resolve(), args.work / "data", args.work / "w")
    result = summarise(args.work / "w")
    (args.work / "equality.json").write_text(json.dumps(result, indent=2) + "\n")
    for name, r in result.items():
        print(f"{r['values_sha256']}  {name}  " + ", ".join(
            f"{k} {v:.6f}" for k, v in r.get("headline", {}).items()))
    print(f"{time.perf_counter() - t0:.0f} s; written to {args.work / 'equality.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
