"""Read the learning stage's metrics files (JSON + per-country CSV) for the figures and report.

Per split protocol the cross-validation result (``cv_<split>``) is preferred; the 80/20 hold-out
(``train_<split>``) stands in when no cross-validation was run.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rruffgeo.workdir import METRICS_DIR, WorkDir

log = logging.getLogger(__name__)

SPLITS = ("spectrum", "specimen")
METRICS = ("accuracy", "balanced_accuracy", "f1_macro", "f1_weighted", "precision_macro",
           "recall_macro", "top3_accuracy")
MODELS = ("network", "baseline_1nn")
MODEL_LABELS = {"network": "ConvNeXt1D", "baseline_1nn": "1-NN (cosine) baseline"}
SPLIT_LABELS = {"spectrum": "split by spectrum (paper)",
                "specimen": "grouped by specimen (no leakage)"}


@dataclass
class Evaluation:
    """One protocol's results: the metrics document and its per-country table."""

    split: str
    protocol: str
    doc: dict
    per_country: pd.DataFrame | None
    path: Path

    @property
    def label(self) -> str:
        n = len(self.doc.get("folds", []))
        how = f"{n}-fold CV" if self.protocol == "cv" else "80/20 hold-out"
        return f"{SPLIT_LABELS.get(self.split, self.split)}, {how}"

    @property
    def head(self) -> str:
        """The network's classifier head ("avg" = the paper's; older files have none: "avg")."""
        return str(self.doc.get("settings", {}).get("model", {}).get("head_pool", "avg"))

    def model_label(self, model: str) -> str:
        """Legend name of ``model``; the network's names its head when it is not the paper's."""
        label = MODEL_LABELS.get(model, model)
        if model == "network" and self.head != "avg":
            label += f" ({self.head} head)"
        return label

    def mean(self, model: str, metric: str) -> float:
        return float(self.doc["summary"][model][metric]["mean"])

    def std(self, model: str, metric: str) -> float:
        return float(self.doc["summary"][model][metric].get("std", 0.0))


def load_evaluation(path: Path) -> Evaluation:
    """Read one metrics JSON (and its ``_per_country.csv`` when present); clear error if bad."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        split, protocol = doc["split"], doc["protocol"]
        doc["summary"]["network"]  # noqa: B018 - presence check
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a metrics file of the agreed format ({exc!r})") from exc
    per_path = Path(path).with_name(Path(path).stem + "_per_country.csv")
    per = None
    if per_path.exists():
        per = pd.read_csv(per_path, keep_default_na=False, na_values=[""])
    return Evaluation(split, protocol, doc, per, Path(path))


def load_evaluations(workdir: WorkDir) -> dict[str, Evaluation]:
    """split -> Evaluation for each split that has results (CV preferred over hold-out)."""
    mdir = workdir.root / METRICS_DIR
    out: dict[str, Evaluation] = {}
    for split in SPLITS:
        for protocol in ("cv", "train"):
            path = mdir / f"{protocol}_{split}.json"
            if not path.exists():
                continue
            try:
                out[split] = load_evaluation(path)
                break
            except ValueError as exc:
                log.warning("skipping %s", exc)
    return out
