"""What machine a benchmark ran on: CPU model, the SIMD flags that choose kernels, cores, and
float32 matmul rates, printed beside every speed figure (machines here differ: AVX-512 + BF16
on some, AVX2 only on others, about 5x apart in fp32 matmul)."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np

#: Flags that decide which kernels run (oneDNN's AVX-512 and bf16 paths, AMX).
KERNEL_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16",
                "avx512_vnni", "amx_tile", "sha_ni")


def cpu_model_and_flags() -> tuple[str, list[str]]:
    """The CPU's model name and which of ``KERNEL_FLAGS`` it has (from /proc/cpuinfo)."""
    model, flags = platform.processor() or platform.machine() or "?", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return model, [f for f in KERNEL_FLAGS if f in flags]


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _best_matmul_gflops(a, n: int, repeats: int, clock) -> float:
    """Best rate of ``a @ a`` (an n x n float32 matrix, NumPy or torch) over ``repeats``."""
    a @ a  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = clock()
        a @ a
        best = min(best, clock() - t)
    return 2 * n**3 / max(best, 1e-9) / 1e9


def numpy_matmul_gflops(n: int = 1024, repeats: int = 3) -> float:
    """Best float32 ``n``^3 matmul rate of NumPy's BLAS, GFLOP/s."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    return _best_matmul_gflops(a, n, repeats, time.perf_counter)


def torch_matmul_gflops(n: int = 1024, repeats: int = 5, clock=time.perf_counter) -> float:
    """Best float32 ``n``^3 matmul rate of torch with its current thread count, GFLOP/s."""
    import torch

    return _best_matmul_gflops(torch.randn(n, n), n, repeats, clock)


def describe(matmul: bool = True) -> str:
    """One or two lines: CPU, cores, kernel flags, and NumPy's float32 matmul rate."""
    model, flags = cpu_model_and_flags()
    line = f"CPU: {model}; {usable_cores()} cores; flags: {' '.join(flags) or 'none of them'}"
    if matmul:
        line += f"\nfloat32 matmul 1024^3 (NumPy): {numpy_matmul_gflops():.1f} GFLOP/s"
    return line


if __name__ == "__main__":
    import torch

    print(describe())
    for threads in sorted({1, usable_cores()}):
        torch.set_num_threads(threads)
        print(f"float32 matmul 1024^3 (torch, {threads} thread(s)): "
              f"{torch_matmul_gflops():.1f} GFLOP/s")
