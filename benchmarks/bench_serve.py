"""Load benchmark of ``rruffgeo serve``: many users uploading at once on 127.0.0.1.

Starts ``rruffgeo serve`` as a user does (its own process), then ``--clients`` threads each
post ``--spectra`` spectrum files in one upload, all at the same moment, ``--rounds`` times.
Every answer must be the results page (HTTP 200, every file listed); prints the p50/p95
latency of an upload, the throughput in spectra per second, and the server's peak resident
memory (VmHWM), which must stay within ``--max-rss-gb``.

Spectra: real RRUFF files from ``--data`` (default ../shared/rruff/excellent_unoriented.zip
when present), else synthetic CSV files. Model: ``--model`` (default
rruffgeo-work/models/final when present, else a tiny synthetic model built here).

    python benchmarks/bench_serve.py [--model DIR] [--clients 20] [--spectra 50] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "rruff" / "excellent_unoriented.zip"


def cpu_name() -> str:
    """The CPU model as lscpu names it (the machine the figures belong to)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return re.search(r"Model name:\s*(.+)", out).group(1).strip()
    except (OSError, subprocess.CalledProcessError, AttributeError):
        return platform.processor() or "unknown CPU"


def spectra_files(data: Path | None, n: int) -> list[tuple[str, bytes]]:
    """``n`` distinct spectrum files: RRUFF members of ``data``, else synthetic CSVs."""
    if data is not None and data.exists():
        with zipfile.ZipFile(data) as zf:
            names = sorted(m for m in zf.namelist() if m.endswith(".txt"))[:n]
            files = [(m.rsplit("/", 1)[-1], zf.read(m)) for m in names]
        if len(files) == n:
            return files
    rng = np.random.default_rng(0)
    x = np.linspace(100, 1300, 600)
    out = []
    for i in range(n):
        centres = rng.uniform(150, 1250, 3)
        y = sum(np.exp(-0.5 * ((x - c) / 12) ** 2) for c in centres) * 100 + rng.normal(0, 2, 600)
        body = "\n".join(f"{a:.2f},{b:.3f}" for a, b in zip(x, y + 10, strict=True))
        out.append((f"synthetic_{i:04d}.csv", f"wavenumber,intensity\n{body}\n".encode()))
    return out


def tiny_model(folder: Path) -> Path:
    """A tiny synthetic provenance model (the test suite's), when no real one is given."""
    sys.path.insert(0, str(REPO / "tests"))
    from synthetic_predict import located_final

    return located_final(folder)


def start_server(model: Path, port: int) -> subprocess.Popen:
    """``rruffgeo serve`` in its own process, once its page answers."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "rruffgeo", "serve", "--model", str(model),
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).close()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise SystemExit("bench_serve: the server did not start") from None
            time.sleep(0.5)


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory of a process (Linux VmHWM), in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s*(\d+) kB", status).group(1)) / 1024


def client(url: str, files: list[tuple[str, bytes]], rounds: int, start: threading.Barrier,
           latencies: list[float], errors: list[str]) -> None:
    """One user: ``rounds`` uploads of ``files``, each timed; wrong answers noted."""
    import httpx

    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    with httpx.Client(timeout=600) as http:
        for _ in range(rounds):
            start.wait()
            t0 = time.perf_counter()
            try:
                r = http.post(url, files=parts, data={"coverage": "0.9"})
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            latencies.append(time.perf_counter() - t0)
            listed = r.text.count('class="ok">predicted') + r.text.count('class="reason">')
            if r.status_code != 200 or listed != len(files):
                errors.append(f"HTTP {r.status_code}, {listed} of {len(files)} files listed")


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or (REPO / "rruffgeo-work" / "models" / "final")
        if not (Path(model) / "provenance.json").exists():
            print("bench_serve: no models/final here; building a tiny synthetic model")
            model = tiny_model(Path(tmp) / "wd")
        files = spectra_files(args.data, args.clients * args.spectra)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        t0 = time.perf_counter()
        proc = start_server(Path(model), port)
        print(f"server up in {time.perf_counter() - t0:.1f} s (model {model})")
        latencies: list[float] = []
        errors: list[str] = []
        barrier = threading.Barrier(args.clients)
        threads = [threading.Thread(target=client, args=(
            f"http://127.0.0.1:{port}/", files[i * args.spectra:(i + 1) * args.spectra],
            args.rounds, barrier, latencies, errors)) for i in range(args.clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        rss = peak_rss_mb(proc.pid)
        proc.terminate()
        proc.wait(timeout=30)
    return report(args, files, latencies, errors, wall, rss)


def report(args: argparse.Namespace, files: list[tuple[str, bytes]], latencies: list[float],
           errors: list[str], wall: float, rss: float) -> int:
    """Print the figures; 1 when an upload failed or memory passed the limit."""
    n = args.clients * args.spectra * args.rounds
    source = "RRUFF files" if files[0][0].endswith(".txt") else "synthetic CSV files"
    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs seen, Python "
          f"{platform.python_version()}")
    print(f"{args.clients} clients x {args.rounds} rounds x {args.spectra} spectra ({source}), "
          f"{len(latencies)} uploads answered, {len(errors)} errors")
    if latencies:
        p50, p95 = np.percentile(latencies, [50, 95])
        print(f"latency per upload: p50 {p50:.1f} s, p95 {p95:.1f} s, max {max(latencies):.1f} s")
    print(f"throughput: {n / wall:.1f} spectra/s ({n} spectra in {wall:.1f} s)")
    print(f"server peak RSS: {rss:.0f} MiB (limit {args.max_rss_gb * 1024:.0f} MiB)")
    for e in errors[:5]:
        print(f"error: {e}")
    return 1 if errors or rss > args.max_rss_gb * 1024 else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--data", type=Path, default=SHARED if SHARED.exists() else None)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--spectra", type=int, default=50, help="spectra per upload")
    p.add_argument("--rounds", type=int, default=2, help="uploads per client")
    p.add_argument("--max-rss-gb", type=float, default=2.0)
    return run(p.parse_args())


if __name__ == "__main__":
    sys.exit(main())
