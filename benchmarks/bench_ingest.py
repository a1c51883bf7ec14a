"""Time ``rruffgeo ingest`` on the RRUFF data, side by side with RamanSPy's RRUFF loader.

Prints spectra per second for rruffgeo (zips folder, extracted folder, cached re-run) and, when
RamanSPy is available (``--ramanspy-python PATH`` of a venv that has it, or importable here),
the time of ``ramanspy.datasets.rruff(folder, download=False)`` on the same extracted files and
the ratio. Goal: the whole folder in under 10 s on 2 cores, at least 3x faster than RamanSPy.

    python benchmarks/bench_ingest.py [--data ../shared/rruff]
        [--ramanspy-python /tmp/venv-ramanspy/bin/python]

Besides wall-clock seconds it prints CPU seconds (this process and its workers), which stay
meaningful when other work shares the machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from rruffgeo.config import IngestSettings  # noqa: E402
from rruffgeo.data import ingest  # noqa: E402
from rruffgeo.workdir import WorkDir  # noqa: E402

RAMANSPY_SCRIPT = r"""
import glob, json, os, resource, sys, time
import ramanspy
from importlib.metadata import version as _v
def _version():
    return _v("ramanspy")
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # it opens every file of a folder at once
folders = sys.argv[1:]
t = time.perf_counter()
c = time.process_time()
n = 0
for folder in folders:
    spectra, metadata = ramanspy.datasets.rruff(folder, download=False)
    n += len(spectra)
print(json.dumps({"seconds": time.perf_counter() - t, "cpu_s": time.process_time() - c,
                  "n_spectra": n,
                  "version": _version()}))
"""


def extract(data: Path, out: Path) -> list[Path]:
    """Extract each zip into ``out/<zip stem>/`` (the layout RamanSPy reads); returns folders."""
    folders = []
    for z in sorted(data.glob("*.zip")):
        dest = out / z.stem
        dest.mkdir(parents=True)
        with zipfile.ZipFile(z) as zf:
            for name in zf.namelist():
                if name.endswith(".txt") and "/" not in name and not name.startswith(".."):
                    (dest / name).write_bytes(zf.read(name))
        folders.append(dest)
    return folders


def time_ingest(source: Path, workdir: Path, workers: int) -> tuple[float, float, int, int]:
    """Wall seconds, CPU seconds (this process + parser processes' chunks), spectra, rejects."""
    t = time.perf_counter()
    res = ingest(source, WorkDir(workdir), IngestSettings(workers=workers), progress=False)
    return time.perf_counter() - t, res.cpu_s, res.n_spectra, res.n_rejects


def run_ramanspy(py: str, folders: list[Path]) -> tuple[float, float, int, str]:
    """Wall and CPU seconds of RamanSPy reading the folders (in its own interpreter)."""
    proc = subprocess.run([py, "-c", RAMANSPY_SCRIPT, *map(str, folders)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"RamanSPy run failed:\n{proc.stderr[-2000:]}")
    rs = json.loads(proc.stdout.strip().splitlines()[-1])
    return rs["seconds"], rs["cpu_s"], rs["n_spectra"], rs["version"]


def ramanspy_python(arg: str | None) -> str | None:
    if arg:
        return arg
    if importlib.util.find_spec("ramanspy") is not None:
        return sys.executable
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = os.environ.get("RRUFFGEO_DATA") or str(REPO.parent / "shared" / "rruff")
    ap.add_argument("--data", type=Path, default=Path(default), help="folder of RRUFF zips")
    ap.add_argument("--ramanspy-python", default=None,
                    help="python of a venv with ramanspy (run in a subprocess)")
    ap.add_argument("--workers", type=int, default=0, help="parser processes (0 = all cores)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each side, alternating; the best (least loaded) and the "
                         "median are reported")
    args = ap.parse_args()
    if not any(args.data.glob("*.zip")):
        print(f"no RRUFF zips in {args.data}; nothing to time")
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"data: {args.data}  cores: {cores}  load average: "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="rruffgeo-bench-") as tmp:
        tmpd = Path(tmp)
        folders = extract(args.data, tmpd / "extracted")
        n_files = sum(len(list(f.glob("*.txt"))) for f in folders)
        mb = sum(p.stat().st_size for f in folders for p in f.glob("*.txt")) / 1e6
        print(f"extracted: {n_files} files, {mb:.0f} MB of text")

        py = ramanspy_python(args.ramanspy_python)
        runs: dict[str, list[tuple[float, float, int, int]]] = {"zip": [], "re": [], "txt": [],
                                                                "ramanspy": []}
        for r in range(max(1, args.repeat)):
            runs["zip"].append(time_ingest(args.data, tmpd / f"w-zip{r}", args.workers))
            runs["re"].append(time_ingest(args.data, tmpd / f"w-zip{r}", args.workers))
            runs["txt"].append(time_ingest(tmpd / "extracted", tmpd / f"w-txt{r}", args.workers))
            if py is not None:
                runs["ramanspy"].append(run_ramanspy(py, folders))
        s_zip, c_zip, n_zip, rej_zip = min(runs["zip"])
        s_re, c_re, _, _ = min(runs["re"])
        s_txt, c_txt, n_txt, rej_txt = min(runs["txt"])
        print(f"best of {max(1, args.repeat)} runs each, alternating; all walls (s): "
              + "; ".join(f"{k} " + " ".join(f"{v[0]:.2f}" for v in vs)
                          for k, vs in runs.items() if vs))
        print(f"rruffgeo ingest, zips folder      : {s_zip:6.2f} s ({c_zip:5.2f} CPU s)  "
              f"{n_zip / s_zip:7.0f} spectra/s  ({n_zip} spectra, {rej_zip} rejects)")
        print(f"rruffgeo ingest, unchanged re-run : {s_re:6.2f} s ({c_re:5.2f} CPU s)")
        print(f"rruffgeo ingest, extracted folder : {s_txt:6.2f} s ({c_txt:5.2f} CPU s)  "
              f"{n_txt / s_txt:7.0f} spectra/s  ({n_txt} spectra, {rej_txt} rejects)")

        if py is None:
            print("RamanSPy: not available (pass --ramanspy-python PATH); no ratio")
            return 0
        rs_wall, rs_cpu, rs_n, rs_version = min(runs["ramanspy"])
        rs = {"seconds": rs_wall, "cpu_s": rs_cpu, "n_spectra": rs_n, "version": rs_version}
        print(f"RamanSPy {rs['version']} rruff(folder, download=False): {rs['seconds']:6.2f} s "
              f"({rs['cpu_s']:5.2f} CPU s)  {rs['n_spectra'] / rs['seconds']:7.0f} spectra/s  "
              f"({rs['n_spectra']} spectra)")
        print(f"speed-up vs RamanSPy, wall clock (best runs): extracted folder "
              f"{rs['seconds'] / s_txt:.1f}x, zips folder {rs['seconds'] / s_zip:.1f}x "
              f"(goal >= 3x)")
        print(f"CPU-time ratio (RamanSPy CPU s / rruffgeo CPU s, best runs): extracted folder "
              f"{rs['cpu_s'] / c_txt:.1f}x, zips folder {rs['cpu_s'] / c_zip:.1f}x")
        med = {k: (statistics.median(v[0] for v in vs), statistics.median(v[1] for v in vs))
               for k, vs in runs.items() if vs}
        print("medians, wall s (CPU s): " + "; ".join(
            f"{k} {w:.2f} ({c:.2f})" for k, (w, c) in med.items()))
        print(f"speed-up vs RamanSPy, medians: wall extracted folder "
              f"{med['ramanspy'][0] / med['txt'][0]:.1f}x, zips folder "
              f"{med['ramanspy'][0] / med['zip'][0]:.1f}x; CPU extracted folder "
              f"{med['ramanspy'][1] / med['txt'][1]:.1f}x, zips folder "
              f"{med['ramanspy'][1] / med['zip'][1]:.1f}x")
        paired = [r[0] / t[0] for r, t in zip(runs["ramanspy"], runs["txt"], strict=True)]
        print("wall ratio of each alternating pair (RamanSPy / rruffgeo extracted folder): "
              + " ".join(f"{x:.1f}x" for x in paired)
              + f"; median {statistics.median(paired):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
