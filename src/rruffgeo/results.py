"""Typed results of the learning stage: written by ``model/``, read by ``report/``, the CLI and
the main job (paper 5, B.1). Torch-free, so reading results never loads the network code.

``FoldResult`` is one fold's ``result.json`` in its model folder; ``EvaluationResult`` is one
evaluation's ``metrics/<train|cv>_<split>.json``. Both are plain JSON (``to_json`` /
``from_json``); a file of another shape is refused with a ValueError naming it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd

from rruffgeo.config import Evaluation, Head, Split
from rruffgeo.workdir import per_country_of

#: A model whose test predictions are this share or more one country has learned only the class
#: prior; the report, the run summary and the provenance tables say so in words.
ONE_CLASS_SHARE = 0.9


def one_class_words(iso3: str, share: float) -> str:
    """The words for a model that answers ``iso3`` for ``share`` (>= ONE_CLASS_SHARE) of its
    test spectra: one wording for the network, the baselines and the provenance models."""
    return f"answers {iso3} for {share:.0%} of test spectra: it has learned only the class prior"

#: Metrics of a fold, in report order.
METRICS = ("accuracy", "balanced_accuracy", "f1_macro", "f1_weighted", "precision_macro",
           "recall_macro", "top3_accuracy")
#: Models scored on every fold: the network and the 1-nearest-neighbour cosine baseline.
MODELS = ("network", "baseline_1nn")
MODEL_LABELS = {"network": "ConvNeXt1D", "baseline_1nn": "1-NN (cosine) baseline"}

#: metric -> value
Scores = dict[str, float]
#: metric -> {"mean": ..., "std": ...}
Summary = dict[str, dict[str, float]]


@dataclass
class FoldResult:
    """One finished fold: both models' test scores, per-class scores, history and timings."""

    fold: int
    n_train: int
    n_test: int
    network: Scores
    baseline_1nn: Scores
    key: str = ""
    per_class_network: dict[str, list[float | None]] = field(default_factory=dict)
    per_class_baseline_1nn: dict[str, list[float | None]] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    epoch_s_mean: float = 0.0
    network_s: float = 0.0
    baseline_s: float = 0.0
    #: Spectra of the training part held out as the inner validation split (0 = none).
    n_inner_val: int = 0
    #: Processes that trained the fold (torchrun); 1 for a plain run.
    world_size: int = 1
    #: Test spectra per class (in ``EvaluationResult.classes`` order): the class prior of the
    #: test fold, for the majority-country rate beside every accuracy (empty in older files).
    test_counts: list[int] = field(default_factory=list)
    #: model -> test predictions per class: tells a model that answers one country for
    #: everything (``report.baselines.one_class_note``; empty in older files).
    predicted_counts: dict[str, list[int]] = field(default_factory=dict)

    def scores(self, model: str) -> Scores:
        return self.network if model == "network" else self.baseline_1nn

    def row(self) -> dict[str, Any]:
        """The fold's line in the metrics file (no per-class scores, no history; the class
        counts of its test labels and predictions, which the report sets beside the scores)."""
        return {"fold": self.fold, "n_train": self.n_train, "n_test": self.n_test,
                "network": self.network, "baseline_1nn": self.baseline_1nn,
                "epoch_s_mean": self.epoch_s_mean, "test_counts": self.test_counts,
                "predicted_counts": self.predicted_counts}

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> FoldResult:
        """From ``to_json`` or ``row`` output; KeyError/TypeError when a required key lacks."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in known})


@dataclass
class EvaluationResult:
    """One evaluation (hold-out or CV) of one split protocol over the folds run so far.

    ``per_country`` (the ``*_per_country.csv`` table) and ``path`` are filled when read from
    a work folder; they are not part of the JSON.
    """

    evaluation: Evaluation
    split: Split
    folds: list[FoldResult]
    summary: dict[str, Summary]
    n_samples: int = 0
    n_specimens: int = 0
    n_classes: int = 0
    classes: list[str] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    grid_cm1: dict[str, float] = field(default_factory=dict)
    elapsed_s: float = 0.0
    wall_s_this_call: float = 0.0
    world_size: int = 1
    per_country: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    path: Path | None = field(default=None, compare=False)

    @property
    def folds_run(self) -> list[int]:
        return [f.fold for f in self.folds]

    @property
    def head(self) -> str:
        """The network's classifier head ("avg" = the paper's; older files have none)."""
        return str(self.settings.get("model", {}).get("head_pool", Head.AVG.value))

    @property
    def label(self) -> str:
        return f"{self.split.label}, {self.evaluation.label(len(self.folds))}"

    def model_label(self, model: str) -> str:
        """Legend name of ``model``; the network's names its head when it is not the paper's."""
        label = MODEL_LABELS.get(model, model)
        if model == "network" and self.head != Head.AVG:
            label += f" ({self.head} head)"
        return label

    def mean(self, model: str, metric: str) -> float:
        return float(self.summary[model][metric]["mean"])

    def std(self, model: str, metric: str) -> float:
        return float(self.summary[model][metric].get("std", 0.0))

    def to_json(self) -> dict[str, Any]:
        return {
            "protocol": self.evaluation.file_stem, "split": self.split.value,
            "n_samples": self.n_samples, "n_specimens": self.n_specimens,
            "n_classes": self.n_classes, "classes": self.classes,
            "class_names": self.class_names, "folds": [f.row() for f in self.folds],
            "summary": self.summary, "settings": self.settings, "grid_cm1": self.grid_cm1,
            "folds_run": self.folds_run, "elapsed_s": self.elapsed_s,
            "wall_s_this_call": self.wall_s_this_call, "world_size": self.world_size,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> EvaluationResult:
        """From ``to_json`` output; ValueError when a required part is missing or malformed."""
        try:
            summary = doc["summary"]
            summary["network"]  # noqa: B018 - presence check
            return cls(
                evaluation=Evaluation.of(doc["protocol"]), split=Split(doc["split"]),
                folds=[FoldResult.from_json(f) for f in doc.get("folds", [])],
                summary=summary, n_samples=int(doc.get("n_samples") or 0),
                n_specimens=int(doc.get("n_specimens") or 0),
                n_classes=int(doc.get("n_classes") or 0),
                classes=list(doc.get("classes", [])),
                class_names=list(doc.get("class_names", [])),
                settings=dict(doc.get("settings") or {}), grid_cm1=dict(doc.get("grid_cm1") or {}),
                elapsed_s=float(doc.get("elapsed_s", float("nan"))),
                wall_s_this_call=float(doc.get("wall_s_this_call", 0.0)),
                world_size=int(doc.get("world_size") or 1))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a metrics file of the agreed format ({exc!r})") from exc

    @classmethod
    def read(cls, path: Path) -> EvaluationResult:
        """One metrics JSON and its ``_per_country.csv`` when present; ValueError naming it."""
        path = Path(path)
        try:
            result = cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: {exc}") from exc
        per_path = per_country_of(path)
        if per_path.exists():
            result.per_country = pd.read_csv(per_path, keep_default_na=False, na_values=[""])
        result.path = path
        return result
