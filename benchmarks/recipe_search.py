"""Short probes of named training recipes, judged on an inner validation split only.

Each probe trains ConvNeXt1D with one recipe (``rruffgeo.recipes``: ``paper``, ``default``, or a
base plus one-change variants such as ``paper+warmup``) on the training part of outer fold 1
and records its learning curves on a validation split carved out of that training part,
grouped like the evaluated split (by specimen for ``--split specimen``). The outer test fold is
never read, so what the curves favour can be adopted without leaking it. Probes run through the
project's own ``fit_network`` (the same optimiser, augmentation and loss as ``rruffgeo cv``) and
resume from a per-probe checkpoint when interrupted.

On a slow CPU, ``--pool 4`` averages the matrix 4:1 (2,048 -> 512 points) and ``--threads 1``
keeps one core per probe. Writes ``<out>/curves_<split>.csv`` (one row per probe and epoch) and
``<out>/summary_<split>.json``, and prints the final and best validation figures beside the
validation split's majority-class rate.

    nice python benchmarks/recipe_search.py --workdir W --steps 1000 --pool 4 --threads 1 \\
        --recipes paper,paper+warmup,paper+layer-scale-0.1,paper+augment
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from machine_info import describe  # noqa: E402  (benchmarks/machine_info.py)
from rruffgeo.config import fingerprint  # noqa: E402
from rruffgeo.network.baseline import nn1_cosine_scores  # noqa: E402
from rruffgeo.network.curves import curves_table  # noqa: E402
from rruffgeo.network.evaluate import load_dataset  # noqa: E402
from rruffgeo.network.runtime import predict_proba  # noqa: E402
from rruffgeo.network.train import fit_network  # noqa: E402
from rruffgeo.recipes import departures, recipe_settings  # noqa: E402
from rruffgeo.spectra import MatrixRows  # noqa: E402
from rruffgeo.splits import cv_splits, inner_split  # noqa: E402
from rruffgeo.workdir import WorkDir, write_csv_atomic, write_json_atomic  # noqa: E402

DEFAULT_RECIPES = "paper,default,paper+warmup,paper+layer-scale-0.1,paper+augment,paper+flatten"


def machine() -> str:
    """CPU, its kernel flags, torch and its threads."""
    return f"{describe(matmul=False)}; torch {torch.__version__}, " \
           f"{torch.get_num_threads()} thread(s)"


def pooled(X: np.ndarray | MatrixRows, pool: int,
           block: int = 1024) -> np.ndarray | MatrixRows:
    """The matrix averaged ``pool``:1 along the grid (a ragged tail is dropped).

    ``load_dataset`` gives lazy ``MatrixRows``; they are read ``block`` rows at a time, so
    memory holds the pooled matrix and one block, never the full-resolution one."""
    if pool <= 1:
        return X
    n, length = X.shape
    keep = length // pool * pool
    out = np.empty((n, keep // pool), dtype=np.float32)
    for start in range(0, n, block):
        rows = np.asarray(X[start:start + block])[:, :keep]
        out[start:start + len(rows)] = rows.reshape(len(rows), keep // pool, pool).mean(
            axis=2, dtype=np.float32)
    return out


def prediction_spread(y_pred: np.ndarray) -> tuple[int, float]:
    """Distinct predicted classes and the largest class's share of the predictions."""
    counts = np.bincount(y_pred)
    return int((counts > 0).sum()), float(counts.max() / max(len(y_pred), 1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--split", choices=("spectrum", "specimen"), default="spectrum")
    ap.add_argument("--recipes", default=DEFAULT_RECIPES, help="comma-separated recipe names")
    ap.add_argument("--steps", type=int, default=1000, help="optimizer steps per probe "
                    "(rounded up to whole epochs)")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds")
    ap.add_argument("--pool", type=int, default=4, help="average the grid N:1 (1 = off)")
    ap.add_argument("--network-pool", type=int, default=1,
                    help="the network's own grid: it averages N:1 before its stem "
                    "(`rruffgeo cv --network-pool`), the matrix stays as --pool leaves it")
    ap.add_argument("--grid-points", type=int, default=None,
                    help="resample onto this many grid points (as `rruffgeo cv --grid-points`; "
                         "default: the settings' 2048)")
    ap.add_argument("--inner-val", type=float, default=0.2,
                    help="share of the training part held out for validation")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None,
                    help="output folder (default WORKDIR/metrics/recipe_search)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = args.out or args.workdir / "metrics" / "recipe_search"
    out.mkdir(parents=True, exist_ok=True)

    base = recipe_settings("default")
    if args.grid_points:
        base = replace(base, spectra=replace(base.spectra, grid_points=args.grid_points))
    ds = load_dataset(WorkDir(args.workdir), base)
    train, _test = cv_splits(ds.y, ds.groups, args.split, base.train.n_folds, base.train.seed)[0]
    fit_rel, val_rel = inner_split(ds.y[train], ds.groups[train], args.split, args.inner_val,
                                   base.train.seed)
    fit, val = train[fit_rel], train[val_rel]
    X = pooled(ds.X, args.pool)
    step_cm1 = float(ds.grid_cm1[1] - ds.grid_cm1[0]) * max(args.pool, 1)
    prior = np.bincount(ds.y[fit]) / len(fit)
    prior = prior[prior > 0]
    majority = np.bincount(ds.y[val]).max() / len(val)
    nn1 = float((nn1_cosine_scores(X[fit], ds.y[fit], X[val], len(ds.classes)).argmax(1)
                 == ds.y[val]).mean())
    print(f"machine: {machine()}")
    print(f"{args.split} split, outer fold 1 training part only: {len(fit)} fit / {len(val)} "
          f"validation spectra ({len(np.unique(ds.groups[val]))} specimens), "
          f"{X.shape[1]} points ({step_cm1:.2f} cm-1 apart); label entropy "
          f"{-(prior * np.log(prior)).sum():.3f}; majority share of validation {majority:.3f}; "
          f"1-NN cosine on it {nn1:.3f}",
          flush=True)

    rows: list[pd.DataFrame] = []
    summary: dict[str, dict] = {}
    for recipe in [r.strip() for r in args.recipes.split(",") if r.strip()]:
        for seed in [int(s) for s in args.seeds.split(",")]:
            s = recipe_settings(recipe, base)
            per_epoch = -(-len(fit) // s.train.batch_size)
            epochs = max(1, -(-args.steps // per_epoch))
            s = replace(s, train=replace(s.train, epochs=epochs, seed=seed, device="cpu",
                                         threads=args.threads),
                        model=replace(s.model, input_pool=args.network_pool))
            name = f"{recipe}@{seed}"
            key = fingerprint(ds.key, s.model, s.train, args.pool, args.split, args.inner_val)
            t0 = time.perf_counter()
            model, history = fit_network(
                X[fit], ds.y[fit], len(ds.classes), s, monitor={"val": (X[val], ds.y[val])},
                checkpoint=out / f"probe_{args.split}_{name.replace('+', '_')}.pt", key=key,
                progress=False, desc=name, device=torch.device("cpu"), grid_step_cm1=step_cm1)
            wall = time.perf_counter() - t0
            pred = predict_proba(model, X[val], torch.device("cpu")).argmax(1)
            distinct, top_share = prediction_spread(pred)
            curve = curves_table([(0, history)]).drop(columns="fold")
            curve.insert(0, "seed", seed)
            curve.insert(0, "recipe", recipe)
            rows.append(curve)
            last = history[-1]
            best = max(h["val_accuracy"] for h in history)
            summary[name] = {"recipe": recipe, "seed": seed, "steps": last["step"],
                             "epochs": epochs, "train_loss": last["train_loss"],
                             "val_loss": last["val_loss"], "val_accuracy": last["val_accuracy"],
                             "val_f1_macro": last["val_f1_macro"], "best_val_accuracy": best,
                             "distinct_predicted": distinct, "top_country_share": top_share,
                             "wall_s_this_call": wall, "departures": departures(s)}
            print(f"{name:<34} steps {last['step']:5d}  train loss {last['train_loss']:.3f}  "
                  f"val loss {last['val_loss']:.3f}  val acc {last['val_accuracy']:.3f} "
                  f"(best {best:.3f}, majority {majority:.3f})  macro-F1 "
                  f"{last['val_f1_macro']:.3f}  {distinct} countries predicted, top share "
                  f"{top_share:.2f}  ({wall:.0f} s)", flush=True)
            write_csv_atomic(out / f"curves_{args.split}.csv", pd.concat(rows))
            write_json_atomic(out / f"summary_{args.split}.json",
                              {"machine": machine(), "split": args.split, "pool": args.pool,
                               "network_pool": args.network_pool,
                               "n_fit": int(len(fit)), "n_val": int(len(val)),
                               "majority_val": float(majority), "nn1_val": nn1,
                               "probes": summary})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
