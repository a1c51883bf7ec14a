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
top-1 gain over the per-spectrum answers specimen by specimen (with a bootstrap interval). The
scoring is ``rruffgeo.provenance.pooling_eval``'s, the table `rruffgeo provenance-cv` keeps in
its report (for its winner) and the report page shows; this script scores any ``--model``.

    python benchmarks/pooling.py --workdir DIR [--split specimen] [--model NAME] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from rruffgeo.config import Settings
from rruffgeo.provenance.cv import cv_key, load_fold
from rruffgeo.provenance.data import load_provenance_data
from rruffgeo.provenance.evaluate import run_provenance_cv
from rruffgeo.provenance.pooling_eval import pooling_table
from rruffgeo.results import PooledRow
from rruffgeo.splits import cv_splits
from rruffgeo.workdir import WorkDir

METRICS = ("top1", "majority_top1", "top3", "prior_top3", "log_loss", "prior_log_loss", "ece",
           "coverage90", "size90")


def goals(row: PooledRow) -> dict[str, str]:
    """The country goals grouped by specimen, each with its margin."""
    checks = {"top1 >= majority + 0.03": row.top1 - row.majority_top1 - 0.03,
              "top3 >= prior + 0.08": row.top3 - row.prior_top3 - 0.08,
              "ECE <= 0.03": 0.03 - row.ece,
              "coverage90 in [0.88, 0.92]": min(row.coverage90 - 0.88, 0.92 - row.coverage90)}
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
    key = cv_key(data, settings, args.split, False)
    folds = [load_fold(wd.provenance_cv_cache(args.split), k, key) for k in range(len(splits))]
    model = args.model or report.winner("spectrum")
    table = pooling_table(data.y, data.groups, splits, folds, model)
    if table is None:
        raise SystemExit(f"{model}: its folds hold no pooled fit (run provenance-cv again)")
    print(f"split {args.split}, model {model}: {len(data.y)} spectra, "
          f"{report.n_specimens} specimens; pooling rule per fold: {table.rules}")
    print(f"{'answer, weights':<34}" + "".join(f"{m:>15}" for m in METRICS))
    for row in table.rows:
        label = f"{row.answer}, {row.weights}"
        print(f"{label:<34}" + "".join(f"{getattr(row, m):>15.3f}" for m in METRICS))
    print(f"pooled top-1 minus per-spectrum top-1, each specimen once: {table.top1_gain:+.4f} "
          f"(95% bootstrap interval over specimens {table.top1_gain_low:+.4f} to "
          f"{table.top1_gain_high:+.4f})")
    for row in table.rows[:2]:
        print(f"goals, {row.answer}, {row.weights}: {goals(row)}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"split": args.split, **asdict(table)}, fh, indent=2)


if __name__ == "__main__":
    main()
