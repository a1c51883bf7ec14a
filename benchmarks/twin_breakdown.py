"""The paper's regime explained with twins: 1-NN accuracy split by spectrum, by what each test
spectrum has in training (its raw/processed twin, another spectrum of its specimen, its species
only, nothing), on the same 5-fold CV folds as ``rruffgeo cv --split spectrum``.

Needs a work folder where ``ingest``, ``geocode`` and ``spectra`` have run. Prints the table and
the estimate of the share of the paper's test spectra that had a twin in training; writes both
as JSON with ``--out``.

    python benchmarks/twin_breakdown.py --workdir rruffgeo-work --out twins.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from rruffgeo.config import Settings
from rruffgeo.network.baseline import majority_scores, nn1_cosine_scores
from rruffgeo.network.evaluate import load_dataset
from rruffgeo.network.leakage import (
    breakdown,
    paired_share,
    relation_in_training,
    technique_of,
    twin_rows,
)
from rruffgeo.splits import cv_splits
from rruffgeo.workdir import CATALOG, WorkDir

#: The official RRUFF Raman set's raw and processed files (shared README, counted in 2025).
OFFICIAL_RAW, OFFICIAL_PROCESSED = 20_674, 17_382
PAPER_ACCURACY = 0.93

MEASUREMENT = ["spectrum_id", "member", "sample_id", "laser_line_nm", "orientation",
               "orientation_angle_deg", "orientation_rotation", "polarization"]


def learning_rows(workdir: WorkDir, settings: Settings):
    """The learning dataset with the catalog columns that identify a measurement."""
    ds = load_dataset(workdir, settings)
    catalog = pd.read_parquet(workdir.path(CATALOG), columns=MEASUREMENT)
    table = ds.table.merge(catalog, on="spectrum_id", how="left", validate="one_to_one")
    table["technique"] = technique_of(table["member"])
    return ds, table


def score_folds(ds, table: pd.DataFrame, folds) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Relation and per-model hits of every test spectrum, fold by fold."""
    twin = twin_rows(table)
    relation, hits = [], {"1nn": [], "majority": []}
    for k, (tr, te) in enumerate(folds):
        t0 = time.perf_counter()
        nn = nn1_cosine_scores(ds.X[tr], ds.y[tr], ds.X[te], len(ds.classes))
        maj = majority_scores(ds.y[tr], len(te), len(ds.classes))
        hits["1nn"].append(nn.argmax(1) == ds.y[te])
        hits["majority"].append(maj.argmax(1) == ds.y[te])
        relation.append(relation_in_training(table, twin, tr, te))
        print(f"fold {k}: {len(te)} test spectra, {time.perf_counter() - t0:.1f} s", flush=True)
    return np.concatenate(relation), {m: np.concatenate(h) for m, h in hits.items()}


def twin_statistics(table: pd.DataFrame, relation: np.ndarray) -> dict[str, float]:
    """How common twins are here, and the estimate for the paper's data."""
    twin = twin_rows(table)
    kinds = table["kind"].value_counts()
    ours = float((twin >= 0).mean())
    in_train = float((relation == "twin").sum() / max(1, (twin >= 0).sum()))
    official = paired_share(OFFICIAL_RAW, OFFICIAL_PROCESSED)
    return {"n_spectra": len(table), "raw": int(kinds.get("raw", 0)),
            "processed": int(kinds.get("processed", 0)), "share_with_twin": ours,
            "twin_in_training_given_twin": in_train,
            "official_share_paired": official,
            "paper_share_with_twin_in_training_estimate": official * in_train}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("rruffgeo-work"))
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    settings = Settings()
    ds, table = learning_rows(WorkDir(args.workdir), settings)
    ts = settings.train
    folds = cv_splits(ds.y, None, "spectrum", ts.n_folds, ts.seed)
    relation, hits = score_folds(ds, table, folds)
    result = breakdown(relation, hits)
    stats = twin_statistics(table, relation)
    print(result.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for key, value in stats.items():
        print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
    print(f"paper's accuracy split by spectrum: {PAPER_ACCURACY}")
    if args.out:
        args.out.write_text(json.dumps({"breakdown": result.to_dict("records"),
                                        "twins": stats, "n_folds": ts.n_folds,
                                        "seed": ts.seed}, indent=2))


if __name__ == "__main__":
    main()
