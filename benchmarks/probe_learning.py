"""Does ConvNeXt1D learn on RRUFF? Training loss and held-out accuracy every 100 steps.

Trains on fold 1 of the 5-fold split (``--split spectrum`` as in the paper, or ``specimen``)
of a work folder that ``rruffgeo spectra`` has prepared, with the project's optimiser
(schedule-free AdamW, lr 1e-3, wd 0.35, clipping 1.0) and one knob changed at a time, so the
cause of a flat loss can be found in minutes instead of a full CV. The entropy of the training
labels is printed first: a loss that stays there has learned nothing but the class prior.

    python benchmarks/probe_learning.py --workdir W --steps 600 --head avg
    python benchmarks/probe_learning.py --workdir W --steps 600 --head flatten
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the reference network

from reference_convnext1d import ReferenceConvNeXt1D  # noqa: E402
from rruffgeo.config import HEAD_POOLS, Settings  # noqa: E402
from rruffgeo.network.convnext1d import build_network  # noqa: E402
from rruffgeo.network.evaluate import load_dataset  # noqa: E402
from rruffgeo.network.train import make_optimizer  # noqa: E402
from rruffgeo.splits import cv_splits  # noqa: E402
from rruffgeo.workdir import WorkDir  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--split", choices=("spectrum", "specimen"), default="spectrum")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--head", choices=HEAD_POOLS, default="avg")
    ap.add_argument("--reference", action="store_true",
                    help="the straightforward timm-style network (avg head only)")
    ap.add_argument("--layer-scale", type=float, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--standardise", action="store_true",
                    help="inputs minus the training mean, over the training std")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    s = Settings()
    s = replace(s, model=replace(s.model, head_pool=args.head,
                                 layer_scale_init=args.layer_scale or s.model.layer_scale_init),
                train=replace(s.train, lr=args.lr or s.train.lr,
                              batch_size=args.batch or s.train.batch_size))
    ds = load_dataset(WorkDir(args.workdir), s)
    train, test = cv_splits(ds.y, ds.groups, args.split, s.train.n_folds, s.train.seed)[0]
    X = np.asarray(ds.X)  # this probe holds the whole matrix in memory
    if args.standardise:
        X = (X - X[train].mean()) / X[train].std()
    Xtr, ytr = torch.as_tensor(X[train]).unsqueeze(1), torch.as_tensor(ds.y[train])
    Xte, yte = torch.as_tensor(X[test]).unsqueeze(1), ds.y[test]
    prior = np.bincount(ds.y[train]) / len(train)
    prior = prior[prior > 0]
    print(f"{args.split} split, fold 1: {len(train)} train / {len(test)} test spectra, "
          f"{len(ds.classes)} classes; label entropy {-(prior * np.log(prior)).sum():.3f}; "
          f"majority share of test {np.bincount(yte).max() / len(yte):.3f}")
    print(f"head {args.head}{' (reference network)' if args.reference else ''}, "
          f"layer scale {s.model.layer_scale_init:g}, lr {s.train.lr:g}, "
          f"batch {s.train.batch_size}, standardised {args.standardise}")

    torch.manual_seed(args.seed)
    if args.reference:
        ms = s.model
        model = ReferenceConvNeXt1D(len(ds.classes), depths=ms.depths, dims=ms.dims,
                                    drop_path_rate=ms.drop_path_rate,
                                    head_dropout=ms.head_dropout,
                                    layer_scale_init=ms.layer_scale_init)
    else:
        model = build_network(len(ds.classes), s.model, X.shape[1])
    opt = make_optimizer(model, s.train)
    gen = torch.Generator().manual_seed(args.seed)
    losses: list[float] = []
    t0 = time.perf_counter()
    for step in range(1, args.steps + 1):
        model.train()
        opt.train()
        batch = torch.randint(0, len(ytr), (s.train.batch_size,), generator=gen)
        loss = F.cross_entropy(model(Xtr[batch]), ytr[batch])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), s.train.grad_clip_norm)
        opt.step()
        losses.append(loss.item())
        if step % 100 == 0 or step == args.steps:
            model.eval()
            opt.eval()
            with torch.no_grad():
                pred = torch.cat([model(Xte[i:i + 256]) for i in range(0, len(Xte), 256)])
            acc = float((pred.argmax(1).numpy() == yte).mean())
            print(f"step {step:5d}  training loss (last 100) {np.mean(losses[-100:]):.3f}  "
                  f"test accuracy {acc:.3f}  ({time.perf_counter() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
