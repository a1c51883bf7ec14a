"""Small work folders in the contract formats (catalog, geocoded, metrics) for report tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from rruffgeo.workdir import WorkDir

#: (specimen_id, mineral, country_iso3, country_name, synthetic, has coordinates, n spectra)
SPECIMENS = [
    ("R000001", "Quartz", "USA", "United States of America", False, True, 3),
    ("R000002", "Quartz", "USA", "United States of America", False, True, 2),
    ("R000003", "Calcite", "USA", "United States of America", False, True, 1),
    ("R000004", "Calcite", "CAN", "Canada", False, True, 2),
    ("R000005", "Beryl", "CAN", "Canada", False, True, 1),
    ("R000006", "Beryl", "MEX", "Mexico", False, True, 2),
    ("R000007", "Diopside", "ITA", "Italy", False, True, 1),
    ("R000008", "Zircon", "", "", True, False, 2),
    ("R000009", "Zircon", "", "", False, False, 1),
]
CENTRES = {"USA": (39.0, -98.0), "CAN": (56.0, -106.0), "MEX": (23.0, -102.0),
           "ITA": (42.5, 12.5)}
METRICS = ["accuracy", "balanced_accuracy", "f1_macro", "f1_weighted", "precision_macro",
           "recall_macro", "top3_accuracy"]


def _spectrum(rng: np.random.Generator, lo: float, hi: float, n: int) -> tuple[list, list]:
    x = np.linspace(lo, hi, n)
    y = sum(rng.uniform(50, 500) * np.exp(-0.5 * ((x - rng.uniform(lo, hi)) / 8.0) ** 2)
            for _ in range(4)) + rng.uniform(5, 20)
    return x.tolist(), y.tolist()


def write_catalog_and_geocoded(root: Path) -> WorkDir:
    """catalog.parquet (one row per spectrum) and geocoded.parquet (one per specimen)."""
    wd = WorkDir(root)
    rng = np.random.default_rng(0)
    cat_rows, geo_rows = [], []
    for sid, mineral, iso3, name, synthetic, has_xy, n in SPECIMENS:
        for k in range(n):
            lo, hi = (100.0 + 20 * k, 1300.0 - 10 * k) if k % 2 == 0 else (150.0, 4000.0)
            x, y = _spectrum(rng, lo, hi, 300 + 10 * k)
            cat_rows.append({
                "spectrum_id": f"excellent_unoriented/{mineral}__{sid}__{k}.txt",
                "specimen_id": sid, "sample_id": sid, "mineral": mineral,
                "locality": f"Somewhere, {name or 'Synthetic'}",
                "kind": "processed" if k % 2 == 0 else "raw", "laser_nm": 532.0,
                "orientation": "unoriented", "category": "excellent_unoriented",
                "source": "excellent_unoriented.zip", "member": f"{mineral}__{sid}__{k}.txt",
                "n_points": len(x), "wavenumber_min_cm1": x[0], "wavenumber_max_cm1": x[-1],
                "wavenumber_step_median_cm1": float(np.median(np.diff(x))),
                "headers_json": json.dumps({"NAMES": mineral, "RRUFFID": sid}), "defects": "",
                "encoding_repair": "", "wavenumber_cm1": x, "intensity": y,
            })
        lat, lon = CENTRES.get(iso3, (np.nan, np.nan)) if has_xy else (np.nan, np.nan)
        geo_rows.append({
            "specimen_id": sid, "mineral": mineral, "locality": f"Somewhere, {name}",
            "locality_clean": f"Somewhere, {name}", "synthetic": synthetic,
            "locality_missing": False, "excluded_reason": "synthetic" if synthetic else "",
            "lat": lat, "lon": lon, "precision": "country" if has_xy else "",
            "geocoder": "gazetteer" if has_xy else "", "country_name": name,
            "country_iso3": iso3, "country_iso2": iso3[:2], "country_note": "",
        })
    pd.DataFrame(cat_rows).to_parquet(wd.catalog, index=False)
    pd.DataFrame(geo_rows).to_parquet(wd.geocoded, index=False)
    return wd


def write_metrics(wd: WorkDir, protocol: str, split: str, level: float, n_folds: int = 5,
                  test_counts: list[int] | None = None,
                  predicted: list[int] | None = None) -> None:
    """metrics/<protocol>_<split>.json and its per-country CSV, as the learning stage writes.

    ``test_counts`` / ``predicted`` (USA, CAN, MEX) are each fold's class counts of its test
    labels / network predictions; without them the file is in the older format."""
    rng = np.random.default_rng(abs(hash((protocol, split))) % 2**32)
    classes, names = ["USA", "CAN", "MEX"], ["United States of America", "Canada", "Mexico"]
    folds = []
    for f in range(n_folds if protocol == "cv" else 1):
        net = {m: float(np.clip(level + rng.normal(0, 0.03), 0, 1)) for m in METRICS}
        base = {m: float(np.clip(level - 0.1 + rng.normal(0, 0.03), 0, 1)) for m in METRICS}
        folds.append({"fold": f, "n_train": 10, "n_test": 3, "network": net,
                      "baseline_1nn": base})
        if test_counts is not None:
            folds[-1].update(n_test=sum(test_counts), test_counts=test_counts, predicted_counts={
                "network": predicted or test_counts, "baseline_1nn": test_counts})
    summary = {
        model: {m: {"mean": float(np.mean([fd[model][m] for fd in folds])),
                    "std": float(np.std([fd[model][m] for fd in folds]))} for m in METRICS}
        for model in ("network", "baseline_1nn")
    }
    doc = {"protocol": protocol, "split": split, "n_samples": 12, "n_specimens": 6,
           "n_classes": 3, "classes": classes, "class_names": names, "folds": folds,
           "summary": summary, "settings": {"train": {"epochs": 2, "seed": 0}},
           "elapsed_s": 1.5}
    mdir = wd.dir("metrics")
    (mdir / f"{protocol}_{split}.json").write_text(json.dumps(doc))
    per = pd.DataFrame({
        "country_iso3": classes, "country_name": names, "n_samples": [6, 3, 2],
        "f1_mean": [level, level - 0.2, level - 0.4], "f1_std": [0.02, 0.05, 0.1],
        "precision_mean": [level, level - 0.1, level - 0.3], "precision_std": [0.01, 0.04, 0.1],
        "recall_mean": [level, level - 0.2, level - 0.4], "recall_std": [0.02, 0.05, 0.1],
    })
    per.to_csv(mdir / f"{protocol}_{split}_per_country.csv", index=False)
