"""Time the learning stage and project the cost of a full 5-fold CV.

Prints: matrix build time (vectorised ``resample_many``) beside a per-spectrum
``resample_spectrum`` loop over the same catalog; training throughput (spectra/s) of the
configured ConvNeXt1D with schedule-free AdamW over a few batches; inference throughput; and
the projected time of ``rruffgeo cv`` for the default epochs (and the epochs that would fit a
45-minute budget). With ``--workdir`` it uses that work folder's catalog (run ``rruffgeo
ingest`` first); without, synthetic spectra.

    python benchmarks/bench_cv.py [--workdir DIR] [--grid-points 2048] [--batches 8]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rruffgeo.config import Settings, replace
from rruffgeo.network.convnext1d import build_network
from rruffgeo.network.runtime import predict_proba, select_device
from rruffgeo.network.train import make_optimizer
from rruffgeo.spectra.matrix import build_matrix, read_catalog_spectra
from rruffgeo.spectra.resample import clean_axis, resample_many, resample_spectrum
from rruffgeo.workdir import CATALOG, WorkDir


def bench_matrix(wd: WorkDir, settings: Settings) -> np.ndarray:
    t0 = time.perf_counter()
    m = build_matrix(wd, settings, force=True)
    t_build = time.perf_counter() - t0
    _, wns, ints = read_catalog_spectra(wd.root / CATALOG)
    cleaned = [c for c in (clean_axis(x, y) for x, y in zip(wns, ints, strict=True))
               if len(c[0]) >= 4]
    t0 = time.perf_counter()
    resample_many(cleaned, m.grid_cm1)
    t_many = time.perf_counter() - t0
    t0 = time.perf_counter()
    for x, y in cleaned:
        resample_spectrum(x, y, m.grid_cm1)
    t_loop = time.perf_counter() - t0
    print(f"matrix: {m.X.shape[0]} spectra x {m.X.shape[1]} points, "
          f"{len({x.tobytes() for x, _ in cleaned})} distinct axes; build_matrix {t_build:.2f} s "
          f"(read + clean + resample + write); resample step: resample_many {t_many:.2f} s, "
          f"resample_spectrum loop {t_loop:.2f} s")
    return np.asarray(m.X)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--grid-points", type=int, default=2048)
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--n-train", type=int, default=None,
                    help="training spectra per fold (default: 80%% of the matrix rows)")
    ap.add_argument("--classes", type=int, default=100)
    args = ap.parse_args()
    s = Settings()
    s = replace(s, spectra=replace(s.spectra, grid_points=args.grid_points))
    if args.workdir:
        X = bench_matrix(WorkDir(args.workdir), s).copy()
    else:
        X = np.random.default_rng(0).random((2000, args.grid_points), dtype=np.float32)
        print("matrix: synthetic (no --workdir)")
    device = select_device(args.device, args.threads)
    ts = s.train
    n_train = args.n_train or int(0.8 * len(X))
    model = build_network(args.classes, s.model, X.shape[1]).to(device)
    opt = make_optimizer(model, ts)
    y = torch.randint(0, args.classes, (len(X),))
    Xt = torch.as_tensor(X).unsqueeze(1)
    model.train()
    opt.train()
    times = []
    for b in range(args.batches + 1):
        idx = torch.randint(0, len(X), (ts.batch_size,))
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(Xt[idx].to(device)), y[idx].to(device))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), ts.grad_clip_norm)
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if b:  # the first batch warms up
            times.append(time.perf_counter() - t0)
    train_rate = ts.batch_size / float(np.median(times))
    model.eval()
    opt.eval()
    n_inf = min(len(X), 1024)
    t0 = time.perf_counter()
    predict_proba(model, X[:n_inf], device)
    infer_rate = n_inf / (time.perf_counter() - t0)
    n_test = len(X) - n_train
    epoch_s = n_train / train_rate + n_test / infer_rate  # training + per-epoch validation
    print(f"device {device}, torch threads {torch.get_num_threads()}, grid {args.grid_points}, "
          f"batch {ts.batch_size}")
    print(f"training {train_rate:.0f} spectra/s, inference {infer_rate:.0f} spectra/s")
    print(f"epoch (train {n_train} + validate {n_test}): {epoch_s:.1f} s")
    total = ts.n_folds * ts.epochs * epoch_s
    print(f"projected {ts.n_folds}-fold CV at {ts.epochs} epochs: {total / 60:.1f} min; "
          f"epochs fitting 45 min: {int(45 * 60 / (ts.n_folds * epoch_s))}")


if __name__ == "__main__":
    main()
