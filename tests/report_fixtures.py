"""Small work folders in the contract formats (catalog, geocoded, metrics, provenance CV) for
report tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from rruffgeo import results as res
from rruffgeo.config import Split
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


def _versus(value: float, baseline: float, spread: float = 0.05) -> res.Versus:
    diff = value - baseline
    return res.Versus(value, baseline, diff, diff - spread, diff + spread)


def model_scores(top1: float, log_loss: float, evidence: str = "spectrum",
                 one_class: str = "") -> res.ModelScores:
    """One provenance model's scores beside a majority rate of 0.5 and a prior of 1.0."""
    bins = np.linspace(0, 1, 6)
    reliability = res.Reliability(bins[:-1].tolist(), bins[1:].tolist(), [0, 2, 3, 4, 3],
                                  [float("nan"), 0.3, 0.5, 0.7, 0.9],
                                  [float("nan"), 0.25, 0.5, 0.75, 0.85])
    return res.ModelScores(
        evidence=evidence,
        vs_majority=res.VsMajority(_versus(top1, 0.5), _versus(min(top1 + 0.3, 1.0), 0.9),
                                   _versus(top1 - 0.2, 0.2), _versus(log_loss, 1.0)),
        log_loss_uncalibrated=log_loss + 0.1, ece_uncalibrated=0.08, ece=0.02,
        reliability=reliability, reliability_uncalibrated=reliability,
        conformal={lv: res.Coverage(float(lv) - 0.01, 1.0 + float(lv))
                   for lv in ("0.8", "0.9", "0.95")},
        most_predicted=res.MostPredicted("USA", 0.6), one_class=one_class,
        params_per_fold=[{"temperature": 1.0}])


def provenance_report(split: str, winner_top1: float = 0.6) -> res.ProvenanceReport:
    """A provenance CV report in the shape ``provenance.evaluate`` writes: the class prior
    (which answers one country), a kNN, the winning combination and its +mineral variant."""
    models = {"prior": model_scores(0.5, 1.0, one_class=res.one_class_words("USA", 1.0)),
              "knn_spectra": model_scores(0.55, 0.95),
              "combination": model_scores(winner_top1, 0.9),
              "combination+mineral": model_scores(winner_top1 + 0.05, 0.85, "spectrum+mineral")}
    goals = {"log_loss_below_prior": res.Goal([-0.15, -0.05], True),
             "top3_at_least": res.Goal(0.9, False, 0.95), "ece_at_most_0.03": res.Goal(0.02, True)}
    return res.ProvenanceReport(
        split=Split(split), n_folds=5, n_spectra=12, n_specimens=6, n_classes=3,
        classes=["USA", "CAN", "MEX"], class_names=["United States of America", "Canada",
                                                    "Mexico"],
        top3_share=1.0, families=["prior", "knn_spectra"], models=models,
        winners={"spectrum": res.Winner("combination", goals),
                 "spectrum+mineral": res.Winner("combination+mineral", goals)},
        calibration="temperature", network_note="network left out: no fold models", wall_s=1.0)


def write_provenance(wd: WorkDir, split: str, winner_top1: float = 0.6) -> res.ProvenanceReport:
    """metrics/provenance_cv_<split>.json and the confusion table beside it."""
    report = provenance_report(split, winner_top1)
    wd.dir("metrics")
    report.write(wd.provenance_cv_file(split))
    order = ["USA", "CAN", "other"]
    pd.DataFrame([[4, 1, 0], [2, 2, 1], [1, 0, 1]], index=pd.Index(order, name="true"),
                 columns=order).reset_index().to_csv(
        wd.provenance_cv_part(split, "confusion"), index=False)
    return report


def _history(epochs: int, with_val: bool) -> list[dict]:
    rows = []
    for e in range(1, epochs + 1):
        row = {"epoch": e, "step": 10 * e, "train_loss": 3 / e, "test_loss": 3.2 / e ** 0.5,
               "test_accuracy": 0.3 + 0.05 * e, "test_f1_macro": 0.01 * e, "epoch_s": 1.0}
        if with_val:
            row.update(val_loss=3.1 / e ** 0.5, val_accuracy=0.3 + 0.04 * e, val_f1_macro=0.02)
        rows.append(row)
    return rows


def write_curves(wd: WorkDir, protocol: str, split: str, folds: int = 5,
                 with_val: bool = False, epochs: int = 4) -> None:
    """metrics/curves_<protocol>_<split>.csv: per fold, a loss falling over ``epochs``."""
    from rruffgeo.network.curves import curves_table

    curves_table([(k, _history(epochs, with_val)) for k in range(folds)]).to_csv(
        wd.dir("metrics") / f"curves_{protocol}_{split}.csv", index=False)


def write_every_input(root: Path) -> WorkDir:
    """Catalog and geocoding, the network's metrics and curves for both protocols, and a
    provenance CV report grouped by specimen: what every figure group draws from."""
    wd = write_catalog_and_geocoded(root)
    write_metrics(wd, "cv", "spectrum", 0.9, test_counts=[2, 1, 1], predicted=[4, 0, 0])
    write_metrics(wd, "train", "specimen", 0.5)
    write_curves(wd, "cv", "spectrum", folds=5)
    write_curves(wd, "train", "specimen", folds=1, with_val=True)
    write_provenance(wd, "specimen", winner_top1=0.52)  # within the majority's reach
    write_twins(wd)
    write_open_set(wd)
    return wd


def write_open_set(wd: WorkDir) -> None:
    """An open-set report as ``rruffgeo provenance-fit`` writes it (numbers made up, a
    curve that flags more as it keeps fewer): what Figure 12 and the report's novelty
    section draw from."""
    from rruffgeo.results import GroupFlagged, NoveltyReport

    kept = [i / 100 for i in range(101)]
    report = NoveltyReport(
        model="learned from the library search (boosted trees)", n_splits=5,
        n_in_library=600, n_out_of_library=1600, auroc=0.81, baseline_auroc=0.74,
        baseline="derivative_hub_top1", alpha=0.05, kept_in_library=0.95,
        flagged_out_of_library=0.31, curve_kept=kept,
        curve_flagged=[round(1 - k ** 3, 4) for k in kept],
        groups=[GroupFlagged("pharmaceutical reference compounds (XD IDs)", 48, 24, 0.52,
                             0.52)])
    wd.dir("metrics")
    wd.open_set_file.write_text(json.dumps(report.to_json()))


def write_twins(wd: WorkDir, network: bool = False) -> None:
    """A twin breakdown as ``rruffgeo twins`` writes it (accuracies made up, shares summing
    to one), with the network's column when ``network``: what Figure 11 and the report's twin
    table draw from."""
    from rruffgeo.results import RelationScores, TwinBreakdown

    def scores(acc: float) -> dict[str, float]:
        return {**({"network": acc - 0.01} if network else {}), "1nn": acc, "majority": 0.3}

    rows = [RelationScores(rel, n, n / 100, scores(acc))
            for rel, n, acc in (("twin", 20, 0.62), ("same specimen", 70, 0.61),
                                ("same species", 6, 0.28), ("nothing", 4, 0.16))]
    rows.append(RelationScores("all", 100, 1.0, scores(0.59)))
    twins = TwinBreakdown(key="k", split="spectrum", n_folds=5, seed=0, rows=rows,
                          share_with_twin=0.25, twin_in_training_given_twin=0.8,
                          official_share_paired=0.91, models=list(scores(0.5)))
    wd.dir("metrics")
    wd.twins_file.write_text(json.dumps(twins.to_json()))


def write_raw_twins(wd: WorkDir) -> None:
    """A raw-twin table as ``rruffgeo raw-twins`` writes it (numbers made up): what the
    report's raw-twin table and finding draw from."""
    from rruffgeo.results import ChoiceScores, RawTwinTable, TwinScores

    def half(n: int, top1: float, agreement: float, tvd: float) -> TwinScores:
        return TwinScores(n, n // 2, top1, 0.301, agreement, tvd)

    choices = [ChoiceScores("none", "as built", 0.0, 1.0, half(790, 0.15, 0.41, 0.33),
                            half(820, 0.142, 0.397, 0.351)),
               ChoiceScores("auto", "as built", 1.0, 1.0, half(790, 0.3, 0.88, 0.07),
                            half(820, 0.297, 0.876, 0.077))]
    table = RawTwinTable(key="k", seed=0, k=10, max_shift_cm1=1500.0, min_gain=0.005,
                         n_pairs=1610, n_specimens=1047,
                         report_pairs_by_technique={"Broad_Scan": 760, "Raman": 60},
                         chosen="auto", choices=choices)
    wd.dir("metrics")
    wd.raw_twins_file.write_text(json.dumps(table.to_json()))


def write_cross_instrument(wd: WorkDir) -> None:
    """A cross-instrument table as ``rruffgeo cross-instrument`` writes it (numbers made
    up): what the report's cross-instrument table and finding draw from."""
    from rruffgeo.results import CellScores, CrossInstrumentTable, TreatmentScores

    cells = [CellScores(test, lib, n, top1, n - 5, 0.25, 0.45, 0.31, 0.45)
             for test, n in (("Raman", 4151), ("Broad_Scan", 1581))
             for lib, top1 in (("Raman", 0.571 if test == "Raman" else 0.161),
                               ("Broad_Scan", 0.294 if test == "Raman" else 0.202),
                               ("both", 0.566 if test == "Raman" else 0.228))]
    table = CrossInstrumentTable(key="k", seed=0, k=10, min_gain=0.005, chosen="crop-1500",
                                 treatments=[TreatmentScores("none", "the whole grid", 0.461,
                                                             cells),
                                             TreatmentScores("crop-1500", "up to 1500 cm-1",
                                                             0.468, cells)])
    wd.dir("metrics")
    wd.cross_instrument_file.write_text(json.dumps(table.to_json()))
