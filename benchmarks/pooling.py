"""Pooled answers per specimen against per-spectrum answers, from the provenance CV's folds.

For one split protocol (default ``specimen``) it reads the provenance CV of a work folder
(running it first when its fold cache is missing: ``rruffgeo provenance-cv --network off``
gives the same folds) and scores, for the best model by log-loss (spectrum evidence):

- per spectrum: each spectrum's calibrated answer and its conformal set, weighted either
  spectrum by spectrum or so that each specimen counts once (its spectra's scores averaged);
- pooled: one answer per test specimen from all its spectra (the pooling rule, calibration and
  conformal threshold each fold chose and fitted on its inner folds), weighted each specimen
  once or by its number of spectra.

Prints top-1, top-3, log-loss, top-label ECE (15 bins), 90% coverage and set size, the
majority-country and prior baselines under the same weights, the goals, and the pooled answer's
top-1 gain over the per-spectrum answers specimen by specimen (with a bootstrap interval).

    python benchmarks/pooling.py --workdir DIR [--split specimen] [--model NAME] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

import numpy as np

from rruffgeo.config import Settings
from rruffgeo.provenance.calibration import log_loss_per_sample
from rruffgeo.provenance.conformal import conformal_set
from rruffgeo.provenance.data import ProvenanceData, load_provenance_data
from rruffgeo.provenance.evaluate import run_provenance_cv
from rruffgeo.provenance.pooling import group_codes, pooled_by_group
from rruffgeo.splits import cv_splits
from rruffgeo.workdir import WorkDir

LEVEL = "0.9"


@dataclass
class Answers:
    """Answers to score: probabilities, sets, labels and each row's weight."""

    proba: np.ndarray
    sets: np.ndarray
    y: np.ndarray
    weight: np.ndarray


def weighted_ece(proba: np.ndarray, y: np.ndarray, w: np.ndarray, n_bins: int = 15) -> float:
    """Top-label ECE with row weights (equal-width bins of the top probability)."""
    conf, right = proba.max(axis=1), (proba.argmax(axis=1) == y).astype(float)
    which = np.clip(np.digitize(conf, np.linspace(0, 1, n_bins + 1)[1:-1], right=True),
                    0, n_bins - 1)
    total = np.bincount(which, weights=w, minlength=n_bins)
    gap = np.abs(np.bincount(which, weights=w * (right - conf), minlength=n_bins))
    return float(gap.sum() / max(total.sum(), 1e-300))


def scores(a: Answers, prior: np.ndarray) -> dict[str, float]:
    """Every metric of ``a`` under its weights, with the majority and prior baselines."""
    w = a.weight / a.weight.sum()
    top3 = np.argsort(-a.proba, axis=1)[:, :3]
    prior_top3 = np.argsort(-prior, axis=1)[:, :3]
    rows = np.arange(len(a.y))
    return {
        "top1": float(w @ (a.proba.argmax(axis=1) == a.y)),
        "majority_top1": float(w @ (prior.argmax(axis=1) == a.y)),
        "top3": float(w @ (top3 == a.y[:, None]).any(axis=1)),
        "prior_top3": float(w @ (prior_top3 == a.y[:, None]).any(axis=1)),
        "log_loss": float(w @ log_loss_per_sample(a.proba, a.y)),
        "prior_log_loss": float(w @ log_loss_per_sample(prior, a.y)),
        "ece": weighted_ece(a.proba, a.y, a.weight),
        "coverage90": float(w @ a.sets[rows, a.y]),
        "size90": float(w @ a.sets.sum(axis=1)),
    }


def per_spectrum(data: ProvenanceData, splits: list, folds: list, model: str
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Calibrated answers, their 90% sets and the prior, row for row of ``data``."""
    n, c = len(data.y), len(data.classes)
    proba, sets, prior = np.zeros((n, c)), np.zeros((n, c), bool), np.zeros((n, c))
    for (_, te), f in zip(splits, folds, strict=True):
        proba[te] = f[model]["calibrated"]
        sets[te] = conformal_set(proba[te], f[model]["params"]["set_thresholds"][LEVEL])
        prior[te] = f["prior"]["raw"]
    return proba, sets, prior


def pooled(data: ProvenanceData, splits: list, folds: list, model: str
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One pooled answer per test specimen: probabilities, 90% sets, labels, the number of
    spectra pooled and the prior, each fold's pooled calibration fitted on its inner folds."""
    out_p, out_s, out_y, out_n, out_prior = [], [], [], [], []
    for (_, te), f in zip(splits, folds, strict=True):
        pool = f[model]["params"]["pool"]
        _, codes = group_codes(data.groups[te])
        n_groups = int(codes.max()) + 1
        _, p = pooled_by_group(f[model]["raw"], data.groups[te], pool, f[model]["best_sim"])
        out_p.append(p)
        out_s.append(conformal_set(p, pool["set_thresholds"][LEVEL]))
        first = np.unique(codes, return_index=True)[1]
        out_y.append(data.y[te][first])
        out_n.append(np.bincount(codes, minlength=n_groups).astype(float))
        out_prior.append(f["prior"]["raw"][first])
    return tuple(np.concatenate(x) for x in (out_p, out_s, out_y, out_n, out_prior))


def table(data: ProvenanceData, splits: list, folds: list, model: str) -> dict[str, dict]:
    """The four ways of scoring: per-spectrum or pooled answers, specimen or spectrum weights."""
    proba, sets, prior = per_spectrum(data, splits, folds, model)
    _, codes = group_codes(data.groups)
    per_specimen_w = 1.0 / np.bincount(codes)[codes]
    p, s, y, n, prior_pool = pooled(data, splits, folds, model)
    return {
        "per-spectrum, each specimen once": scores(Answers(proba, sets, data.y, per_specimen_w),
                                                   prior),
        "pooled, each specimen once": scores(Answers(p, s, y, np.ones(len(y))), prior_pool),
        "per-spectrum, each spectrum once": scores(Answers(proba, sets, data.y,
                                                           np.ones(len(data.y))), prior),
        "pooled, each spectrum once": scores(Answers(p, s, y, n), prior_pool),
    }


def top1_gain(data: ProvenanceData, splits: list, folds: list, model: str, n_boot: int = 2000,
              seed: int = 0) -> tuple[float, float, float]:
    """Pooled top-1 minus per-spectrum top-1 (averaged over its spectra), specimen by
    specimen: the mean and a 95% bootstrap interval over specimens."""
    diffs = []
    for (_, te), f in zip(splits, folds, strict=True):
        pool = f[model]["params"]["pool"]
        _, p = pooled_by_group(f[model]["raw"], data.groups[te], pool, f[model]["best_sim"])
        _, codes = group_codes(data.groups[te])
        y = data.y[te][np.unique(codes, return_index=True)[1]]
        each = (f[model]["calibrated"].argmax(axis=1) == data.y[te]).astype(float)
        diffs.append((p.argmax(axis=1) == y) - np.bincount(codes, weights=each)
                     / np.bincount(codes))
    d = np.concatenate(diffs)
    rng = np.random.default_rng(seed)
    boot = [d[rng.integers(0, len(d), len(d))].mean() for _ in range(n_boot)]
    return float(d.mean()), float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))


def goals(row: dict[str, float]) -> dict[str, str]:
    """The country goals grouped by specimen, each with its margin."""
    checks = {"top1 >= majority + 0.03": row["top1"] - row["majority_top1"] - 0.03,
              "top3 >= prior + 0.08": row["top3"] - row["prior_top3"] - 0.08,
              "ECE <= 0.03": 0.03 - row["ece"],
              "coverage90 in [0.88, 0.92]": min(row["coverage90"] - 0.88,
                                                 0.92 - row["coverage90"])}
    return {k: f"{'met' if v >= 0 else 'missed'} ({v:+.3f})" for k, v in checks.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--split", default="specimen")
    ap.add_argument("--model", default=None, help="default: the best by log-loss")
    ap.add_argument("--json", default=None, help="also write the table as JSON here")
    args = ap.parse_args()
    settings, wd = Settings(), WorkDir(args.workdir)
    data = load_provenance_data(wd, settings)
    report = run_provenance_cv(wd, settings, args.split, None, progress=True, data=data)
    ps = settings.provenance
    splits = cv_splits(data.y, data.split_groups(args.split), args.split, ps.n_folds, ps.seed)
    from rruffgeo.provenance.cv import cv_key, load_fold

    key = cv_key(data, settings, args.split, False)
    folds = [load_fold(wd.provenance_cv_cache(args.split), k, key) for k in range(len(splits))]
    model = args.model or report.winner("spectrum")
    rows = table(data, splits, folds, model)
    rules = [f[model]["params"]["pool"].get("rule", "log_mean") for f in folds]
    print(f"split {args.split}, model {model}: {len(data.y)} spectra, "
          f"{len(np.unique(data.groups))} specimens; pooling rule per fold: {rules}")
    names = list(next(iter(rows.values())))
    print(f"{'answer, weights':<34}" + "".join(f"{m:>15}" for m in names))
    for label, row in rows.items():
        print(f"{label:<34}" + "".join(f"{row[m]:>15.3f}" for m in names))
    gain = top1_gain(data, splits, folds, model)
    print(f"pooled top-1 minus per-spectrum top-1, each specimen once: {gain[0]:+.4f} "
          f"(95% bootstrap interval over specimens {gain[1]:+.4f} to {gain[2]:+.4f})")
    for label in ("per-spectrum, each specimen once", "pooled, each specimen once"):
        print(f"goals, {label}: {goals(rows[label])}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"split": args.split, "model": model, "rows": rows,
                       "pooled_top1_gain": gain}, fh, indent=2)


if __name__ == "__main__":
    main()
