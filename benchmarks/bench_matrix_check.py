"""Cost of verifying the cached spectrum matrix (SHA-256 + NaN scan) beside reading it.

    python benchmarks/bench_matrix_check.py --workdir WORK   # WORK holds spectra/matrix.npy

Prints the machine (CPU model, SIMD flags, a float32 matmul rate), then, alternating three
rounds, the time to read the memory-mapped matrix into RAM (what training does anyway) and the
time of ``rruffgeo.spectra.integrity.matrix_digest`` on it, and their ratio.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from machine_info import describe  # benchmarks/machine_info.py
from rruffgeo.spectra.integrity import matrix_digest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, required=True)
    args = ap.parse_args()
    folder = args.workdir / "spectra"
    meta = json.loads((folder / "meta.json").read_text())
    print(describe())
    reads, checks = [], []
    for _ in range(3):
        X = np.load(folder / "matrix.npy", mmap_mode="r")
        t0 = time.perf_counter()
        np.array(X, dtype=np.float32)
        reads.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        digest, bad = matrix_digest(X)
        checks.append(time.perf_counter() - t0)
        assert digest == meta["matrix_sha256"] and bad == 0, "matrix does not match meta.json"
    r, c = min(reads), min(checks)
    print(f"matrix {X.shape[0]:,} x {X.shape[1]:,} float32, {X.nbytes / 1e6:.0f} MB")
    print(f"read into RAM: {r:.3f} s (best of 3); SHA-256 + NaN scan: {c:.3f} s "
          f"({X.nbytes / 1e6 / c:.0f} MB/s); check / read = {c / r:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
