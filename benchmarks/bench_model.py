"""ConvNeXt1D speed: the fast network against the straightforward reference, side by side.

Prints training throughput (a full training step: forward, cross-entropy, backward, gradient
clipping, schedule-free AdamW step, as ``rruffgeo.network`` trains) and inference throughput
(eval mode under ``torch.inference_mode``) of ``ReferenceConvNeXt1D`` and ``ConvNeXt1D`` with the
same weights, their ratios, the parameter count and the largest output difference. The two are
measured interleaved (alternating order) after a warm-up, and the medians over repeats are
reported, so background load affects both alike.

    python benchmarks/bench_model.py [--grid 2048] [--batch 64] [--threads 2] [--repeats 5]

``--bf16`` adds the fast network in bfloat16 as a third contender: training under
``torch.autocast("cpu", torch.bfloat16)`` (mixed precision, fp32 weights), inference with the
network cast to bf16 as ``rruffgeo predict --precision bf16`` runs it. Not numerically
equivalent: reported with its largest logit difference. ``--infer-batch`` sets the inference
batch (default: the training batch; ``predict`` uses 256). ``--input-pool N`` adds the fast
network on its own grid (``ModelSettings.input_pool``: the spectra averaged N:1 before the
stem) as a contender, fed the same ``--grid``-point spectra, with its speed-up over ``fast``.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the reference network

from machine_info import describe, torch_matmul_gflops  # noqa: E402  (benchmarks/)
from reference_convnext1d import ReferenceConvNeXt1D  # noqa: E402
from rruffgeo.config import ModelSettings, TrainSettings  # noqa: E402
from rruffgeo.network.convnext1d import ConvNeXt1D  # noqa: E402
from rruffgeo.network.runtime import inference_network  # noqa: E402


def make_optimizer(
    model: torch.nn.Module, name: str, train: TrainSettings
) -> torch.optim.Optimizer:
    """The training optimiser: schedule-free AdamW (paper 4.3), or torch AdamW for comparison."""
    if name == "schedulefree":
        import schedulefree

        opt = schedulefree.AdamWScheduleFree(model.parameters(), lr=train.lr, betas=train.betas,
                                             weight_decay=train.weight_decay,
                                             warmup_steps=train.warmup_steps)
        opt.train()
        return opt
    return torch.optim.AdamW(model.parameters(), lr=train.lr, betas=train.betas,
                             weight_decay=train.weight_decay)


def precision(bf16: bool):
    """bf16 autocast on the CPU, or nothing."""
    return torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def train_step(model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor,
               y: torch.Tensor, clip: float, bf16: bool = False) -> None:
    """One optimisation step exactly as training does it."""
    with precision(bf16):
        loss = F.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()


def training_flops(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """FLOPs of one training batch's forward and backward pass: convolutions and matrix
    products as torch's FlopCounterMode counts them (norms, GELU and the optimiser left out)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def timed(fn, steps: int, clock=time.perf_counter) -> float:
    """Seconds per call of ``fn`` over ``steps`` calls."""
    start = clock()
    for _ in range(steps):
        fn()
    return (clock() - start) / steps


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", type=int, default=2048, help="spectrum length (points)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--classes", type=int, default=101)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--repeats", type=int, default=5, help="timed rounds; medians are reported")
    ap.add_argument("--train-steps", type=int, default=2, help="training steps per round")
    ap.add_argument("--infer-steps", type=int, default=4, help="inference batches per round")
    ap.add_argument("--optimizer", choices=("schedulefree", "adamw"), default="schedulefree")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bf16", action="store_true", help="also time the fast network in bf16")
    ap.add_argument("--input-pool", type=int, default=0,
                    help="also time the fast network averaging the input N:1 (0 = not)")
    ap.add_argument("--infer-batch", type=int, default=0,
                    help="inference batch (0 = --batch; rruffgeo predict uses 256)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall time, or process CPU time (robust to other load with --threads 1)")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    ms, ts = ModelSettings(), TrainSettings()
    kw = dict(depths=ms.depths, dims=ms.dims, drop_path_rate=ms.drop_path_rate,
              head_dropout=ms.head_dropout, layer_scale_init=ms.layer_scale_init)
    models = {"reference": ReferenceConvNeXt1D(args.classes, **kw),
              "fast": ConvNeXt1D(args.classes, **kw)}
    if args.bf16:
        models["fast bf16"] = ConvNeXt1D(args.classes, **kw)
    for k in models:
        models[k].load_state_dict(models["reference"].state_dict())
    pool_key = f"fast pool {args.input_pool}"
    if args.input_pool > 1:  # the same weights, fed the averaged grid (outputs differ)
        models[pool_key] = ConvNeXt1D(args.classes, input_pool=args.input_pool, **kw)
        models[pool_key].load_state_dict(models["reference"].state_dict())
    bf16 = {k: k.endswith("bf16") for k in models}
    n_params = sum(p.numel() for p in models["fast"].parameters())
    x = torch.randn(args.batch, 1, args.grid)
    y = torch.randint(0, args.classes, (args.batch,))
    infer_batch = args.infer_batch or args.batch
    xi = torch.randn(infer_batch, 1, args.grid)
    # Inference runs each network as prediction does: bf16 as a copy cast to bfloat16.
    for m in models.values():
        m.eval()
    infer_models = {k: inference_network(m, "bf16" if bf16[k] else "fp32")
                    for k, m in models.items()}

    with torch.inference_mode():
        expected = models["reference"](xi)
        diff = {k: (m(xi.to(next(m.parameters()).dtype)).float() - expected).abs().max().item()
                for k, m in infer_models.items()}

    flops_per_spectrum = {k: training_flops(m, x, y) / args.batch for k, m in models.items()}
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    matmul_before = torch_matmul_gflops(clock=clock)
    opts = {k: make_optimizer(m, args.optimizer, ts) for k, m in models.items()}
    train = {k: [] for k in models}
    infer = {k: [] for k in models}
    order = list(models)
    t0 = time.perf_counter()
    for r in range(args.repeats + 1):  # round 0 is the warm-up
        for k in order if r % 2 else order[::-1]:
            m = models[k]
            m.train()
            sec = timed(lambda m=m, k=k: train_step(m, opts[k], x, y, ts.grad_clip_norm, bf16[k]),
                        1 if r == 0 else args.train_steps, clock)
            if r:
                train[k].append(args.batch / sec)
            m.eval()
            mi = infer_models[k]
            xk = xi.to(next(mi.parameters()).dtype)
            with torch.inference_mode():
                sec = timed(lambda mi=mi, xk=xk: mi(xk), 1 if r == 0 else args.infer_steps,
                            clock)
            if r:
                infer[k].append(infer_batch / sec)

    med = {k: (statistics.median(train[k]), statistics.median(infer[k])) for k in models}
    matmul = max(matmul_before, torch_matmul_gflops(clock=clock))
    print(describe(matmul=False))
    print(f"ConvNeXt1D grid {args.grid}, batch {args.batch}, {args.classes} classes, "
          f"{torch.get_num_threads()} threads, {args.optimizer}, "
          f"inference batch {infer_batch}, "
          f"drop_path {ms.drop_path_rate}, head dropout {ms.head_dropout}, {args.clock} clock; "
          f"medians of {args.repeats} interleaved rounds ({time.perf_counter() - t0:.0f} s)")
    print(f"parameters: {n_params:,}")
    print(f"max |output difference| from the reference (eval, same weights): {diff['fast']:.3g}")
    for label, series in (("training", train), ("inference", infer)):
        ref, fast = series["reference"], series["fast"]
        ratios = [f / r for f, r in zip(fast, ref, strict=True)]
        print(f"{label:9s} spectra/s: reference {statistics.median(ref):8.1f}   "
              f"fast {statistics.median(fast):8.1f}   ratio {statistics.median(ratios):5.2f}x "
              f"(median of per-round ratios; rounds {min(ratios):.2f}-{max(ratios):.2f}x)")
    gflop = {k: f / 1e9 for k, f in flops_per_spectrum.items()}
    print(f"training FLOPs per spectrum (convolutions + matmuls, forward + backward): "
          f"{gflop['fast']:.3f} GFLOP; torch float32 matmul 1024^3 with "
          f"{torch.get_num_threads()} thread(s): {matmul:.1f} GFLOP/s (best of before and after "
          "the rounds)")
    for k in models:
        rate = med[k][0] * gflop[k]
        print(f"  {k:10s} training {rate:6.1f} GFLOP/s ({gflop[k]:.3f} GFLOP a spectrum) = "
              f"{100 * rate / matmul:4.1f}% of the "
              f"matmul rate" + (" (bf16 autocast, against the fp32 rate)" if bf16[k] else ""))
    if args.bf16:
        tr, inf = med["fast bf16"]
        print(f"fast + bf16: training (autocast) {tr:.1f} ({tr / med['reference'][0]:.2f}x), "
              f"inference (bf16 network) {inf:.1f} ({inf / med['reference'][1]:.2f}x) "
              f"spectra/s; "
              f"max |logit difference| {diff['fast bf16']:.3g} (not equivalent)")
    if args.input_pool > 1:
        tr, inf = med[pool_key]
        print(f"fast on its own grid ({args.grid} points averaged {args.input_pool}:1): "
              f"training {tr:.1f} ({tr / med['fast'][0]:.2f}x fast), inference {inf:.1f} "
              f"({inf / med['fast'][1]:.2f}x fast) spectra/s (a different function of the "
              "input: no output difference reported)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
