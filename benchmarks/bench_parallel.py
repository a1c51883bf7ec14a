"""Training throughput of the cores, shared two ways: one process with every core's thread, or one
single-thread process per core (how ``rruffgeo run`` trains its two split protocols at once and
how ``rruffgeo cv --jobs N`` trains folds side by side), in fp32 and, where the CPU has bf16
kernels, in bf16 autocast.

Each contender runs the fast ConvNeXt1D's full training step (forward, cross-entropy, backward,
clipping, schedule-free AdamW) on random spectra; the figure is the spectra per second of all its
processes together, over the same wall-clock window. Contenders alternate over the rounds and the
medians are printed with their ratio to one process, beside the machine's CPU flags and matmul
rate.

    python benchmarks/bench_parallel.py [--grid 2048] [--batch 64] [--seconds 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine_info import describe, usable_cores  # noqa: E402


def _worker(threads: int, grid: int, batch: int, bf16: bool, seconds: float, start, out) -> None:
    """Train on random spectra from ``start`` (a shared wall-clock time) for ``seconds``; put
    the spectra finished in that window on ``out``."""
    import torch

    from bench_model import make_optimizer, train_step
    from rruffgeo.config import ModelSettings, TrainSettings
    from rruffgeo.network.convnext1d import ConvNeXt1D

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    ms, ts = ModelSettings(), TrainSettings()
    model = ConvNeXt1D(78, depths=ms.depths, dims=ms.dims, drop_path_rate=ms.drop_path_rate,
                       head_dropout=ms.head_dropout, layer_scale_init=ms.layer_scale_init,
                       head_pool=ms.head_pool, input_length=grid)
    opt = make_optimizer(model, "schedulefree", ts)
    x, y = torch.randn(batch, 1, grid), torch.randint(0, 78, (batch,))
    train_step(model, opt, x, y, ts.grad_clip_norm, bf16)  # warm-up
    while time.time() < start.value:
        time.sleep(0.01)
    done, end = 0, start.value + seconds
    while time.time() < end:
        train_step(model, opt, x, y, ts.grad_clip_norm, bf16)
        done += batch
    out.put(done / (time.time() - start.value))


def aggregate_rate(procs: int, threads: int, grid: int, batch: int, bf16: bool,
                   seconds: float) -> float:
    """Spectra per second of ``procs`` processes with ``threads`` threads each, together."""
    ctx = mp.get_context("spawn")
    start, out = ctx.Value("d", float("inf")), ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(threads, grid, batch, bf16, seconds, start, out))
               for _ in range(procs)]
    for w in workers:
        w.start()
    time.sleep(8)  # imports and warm-up steps, before the shared start
    start.value = time.time() + 1
    rates = [out.get() for _ in workers]
    for w in workers:
        w.join()
    return sum(rates)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=20, help="timed window per contender")
    ap.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported")
    ap.add_argument("--cores", type=int, default=0, help="cores to share (default: all usable)")
    args = ap.parse_args(argv)

    from rruffgeo.network.runtime import cpu_bf16_unsupported_reason

    cores = args.cores or usable_cores()
    no_bf16 = cpu_bf16_unsupported_reason()
    precisions = ["fp32"] + ([] if no_bf16 else ["bf16"])
    shapes = [(1, cores), (cores, 1)]
    rates: dict[tuple[str, int, int], list[float]] = {}
    t0 = time.perf_counter()
    for r in range(args.rounds):
        for prec in precisions:
            for procs, threads in shapes if r % 2 == 0 else shapes[::-1]:
                rate = aggregate_rate(procs, threads, args.grid, args.batch, prec == "bf16",
                                      args.seconds)
                rates.setdefault((prec, procs, threads), []).append(rate)
    print(describe())
    print(f"fast ConvNeXt1D training, grid {args.grid}, batch {args.batch}, {cores} cores; "
          f"median of {args.rounds} rounds of {args.seconds:.0f} s "
          f"({time.perf_counter() - t0:.0f} s in all)")
    if no_bf16:
        print(f"bf16 not timed: {no_bf16}")
    for prec in precisions:
        one = statistics.median(rates[(prec, 1, cores)])
        for procs, threads in shapes:
            med = statistics.median(rates[(prec, procs, threads)])
            print(f"  {prec}: {procs} process(es) x {threads} thread(s): {med:7.1f} spectra/s "
                  f"= {med / one:4.2f}x one process")
    if not no_bf16:
        per_core = {p: statistics.median(rates[(p, cores, 1)]) for p in precisions}
        print(f"  bf16 / fp32, one single-thread process per core: "
              f"{per_core['bf16'] / per_core['fp32']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
