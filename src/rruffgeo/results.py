"""Typed results of the learning stages: written by ``network/`` and ``provenance/``, read by
``report/``, the CLI and the main job (paper 5, B.1). Torch-free, so reading results never loads
the network code.

``FoldResult`` is one fold's ``result.json`` in its model folder; ``EvaluationResult`` is one
evaluation's ``metrics/<train|cv>_<split>.json``. Both are plain JSON (``to_json`` /
``from_json``); a file of another shape is refused with a ValueError naming it.

``ProvenanceReport`` is one provenance cross-validation, ``metrics/provenance_cv_<split>.json``:
per model a ``ModelScores`` (each metric ``Versus`` its baseline, calibration, conformal sets),
the winners and their goals. The keys are those the file has always had; a damaged file is
refused with one ``UserError`` naming the file and the field.
"""

from __future__ import annotations

import json
import types
from collections.abc import Callable, Sequence
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Protocol, Self, TypeVar, Union, get_args, get_origin, get_type_hints

import numpy as np
import pandas as pd

from rruffgeo.config import Evaluation, Head, Split
from rruffgeo.errors import UserError
from rruffgeo.workdir import WorkDir, per_country_of, write_json_atomic

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


# ---------------------------------------------------------------- provenance results
#
# The provenance file is read into dataclasses by their type hints (``_build``), so each field
# is checked once, in one place, and a damaged file names the field that is wrong.

#: Field metadata: ``key`` spells the field in the JSON file when its name cannot (``class``);
#: ``json=False`` keeps a field out of the file (where it was read from).
_KEY, _IN_JSON = "key", "json"


def _bad(where: str, problem: str) -> UserError:
    return UserError(f"field {where or '(top)'}: {problem}")


def _number(kind: type, value: Any, where: str) -> Any:
    """``value`` as ``kind`` (int or float); JSON's NaN stays a float, a bool is no number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(where, f"expected a number, found {type(value).__name__}")
    if kind is int and not (isinstance(value, int) or float(value).is_integer()):
        raise _bad(where, f"expected a whole number, found {value!r}")
    return kind(value)


def _union(options: tuple[Any, ...], value: Any, where: str) -> Any:
    """The first of ``options`` that ``value`` reads as; the last one's error otherwise."""
    error = _bad(where, "no value")
    for option in options:
        if option is type(None):
            if value is None:
                return None
            continue
        try:
            return _value(option, value, where)
        except UserError as exc:
            error = exc
    raise error


def _container(kind: Any, value: Any, where: str) -> Any:
    """A ``list[...]`` or ``dict[str, ...]``, each item checked against its type."""
    origin, args = get_origin(kind), get_args(kind)
    if origin is list:
        if not isinstance(value, list):
            raise _bad(where, f"expected a list, found {type(value).__name__}")
        return [_value(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, dict):
        raise _bad(where, f"expected an object, found {type(value).__name__}")
    return {str(k): _value(args[1], v, f"{where}.{k}") for k, v in value.items()}


def _value(kind: Any, value: Any, where: str) -> Any:
    """``value`` read as ``kind`` (a type hint), or a UserError naming ``where``."""
    origin = get_origin(kind)
    if kind is Any:
        return value
    if origin in (Union, types.UnionType):
        return _union(get_args(kind), value, where)
    if origin in (list, dict):
        return _container(kind, value, where)
    if is_dataclass(kind):
        return _build(kind, value, where)
    if kind in (int, float):
        return _number(kind, value, where)
    if isinstance(kind, type) and issubclass(kind, Enum):
        try:
            return kind(value)
        except ValueError:
            raise _bad(where, f"{value!r} is not one of {[m.value for m in kind]}") from None
    if not isinstance(value, kind):
        raise _bad(where, f"expected {kind.__name__}, found {type(value).__name__}")
    return value


def _build(cls: Any, doc: Any, where: str = "") -> Any:
    """A ``cls`` dataclass from its JSON object; fields with defaults may be absent."""
    if not isinstance(doc, dict):
        raise _bad(where, f"expected an object, found {type(doc).__name__}")
    hints = get_type_hints(cls)
    values = {}
    for f in fields(cls):
        key = f.metadata.get(_KEY, f.name)
        here = f"{where}.{key}" if where else key
        if not f.metadata.get(_IN_JSON, True):
            continue
        if key in doc:
            values[f.name] = _value(hints[f.name], doc[key], here)
        elif f.default is MISSING and f.default_factory is MISSING:
            raise _bad(here, "missing")
    return cls(**values)


def _plain(value: Any) -> Any:
    """``value`` as JSON: dataclasses by their keys (None left out), enums by value."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.metadata.get(_KEY, f.name): _plain(getattr(value, f.name))
                for f in fields(value) if f.metadata.get(_IN_JSON, True)
                and not (getattr(value, f.name) is None and f.default is None)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class JsonRecord:
    """``to_json`` / ``from_json`` of a result dataclass, by its fields and type hints."""

    def to_json(self) -> dict[str, Any]:
        """The record as the file holds it (the same keys the readers of old files know)."""
        return _plain(self)

    @classmethod
    def from_json(cls, doc: Any) -> Self:
        """From ``to_json`` output; a UserError naming the first field that is wrong."""
        return _build(cls, doc)

    @classmethod
    def from_file(cls, path: Path, what: str) -> Self:
        """The record in the JSON file ``path``; one UserError naming the file, and the field
        when the JSON is valid but not ``what``."""
        path = Path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise UserError(f"{path}: {exc.strerror or exc}") from exc
        except ValueError as exc:
            raise UserError(f"{path}: not valid JSON ({exc})") from exc
        try:
            return cls.from_json(doc)
        except UserError as exc:
            raise UserError(f"{path}: not {what}: {exc}") from None


@dataclass
class Versus(JsonRecord):
    """One metric of a model beside the same metric of its baseline (the majority class, or the
    class prior for the log-loss) with the 95% paired bootstrap interval of the difference."""

    value: float
    baseline: float
    diff: float
    diff_lo: float
    diff_hi: float

    def text(self, interval: bool = True) -> str:
        """``value (baseline) [lo, hi]``: the interval is that of the difference."""
        out = f"{self.value:.3f} ({self.baseline:.3f})"
        return out + f" [{self.diff_lo:+.3f}, {self.diff_hi:+.3f}]" if interval else out


@dataclass
class VsMajority(JsonRecord):
    """The metrics of ``provenance.metrics.POINT_METRICS``, each beside its baseline."""

    top1: Versus
    top3: Versus
    macro_f1: Versus
    log_loss: Versus

    def items(self) -> list[tuple[str, Versus]]:
        """(metric, comparison) in file order, for tables that list every metric."""
        return [(f.name, getattr(self, f.name)) for f in fields(self)]


@dataclass
class Reliability(JsonRecord):
    """Top-label confidence against accuracy per equal-width bin (NaN where a bin is empty)."""

    lower: list[float]
    upper: list[float]
    count: list[int]
    confidence: list[float]
    accuracy: list[float]


@dataclass
class Coverage(JsonRecord):
    """A conformal level's achieved coverage and mean prediction-set size."""

    coverage: float
    mean_size: float


@dataclass
class MostPredicted(JsonRecord):
    """The country a model predicts most often and its share of the predictions."""

    iso3: str = field(metadata={_KEY: "class"})
    share: float = 0.0


@dataclass
class Goal(JsonRecord):
    """One goal of the winning model: what was measured, the bar when it is a number, met."""

    value: float | list[float]
    met: bool
    goal: float | None = None

    def measured(self) -> str:
        """The value in words: an interval as ``[lo, hi]``, the bar in brackets."""
        v = self.value
        text = f"[{v[0]:+.3f}, {v[1]:+.3f}]" if isinstance(v, list) else f"{v:.3f}"
        return text + (f" (goal {self.goal:.3f})" if self.goal is not None else "")


@dataclass
class Winner(JsonRecord):
    """The model with the lowest log-loss for one kind of evidence, and its goals."""

    model: str
    goals: dict[str, Goal] = field(default_factory=dict)


@dataclass
class ModelScores(JsonRecord):
    """Every score of one provenance model's out-of-fold probabilities."""

    evidence: str
    vs_majority: VsMajority
    log_loss_uncalibrated: float
    ece_uncalibrated: float
    ece: float
    reliability: Reliability
    reliability_uncalibrated: Reliability
    #: level ("0.8", "0.9", "0.95") -> coverage and set size of the conformal sets
    conformal: dict[str, Coverage]
    most_predicted: MostPredicted
    #: the one-class words (``one_class_words``), "" when the model answers several countries
    one_class: str = ""
    params_per_fold: list[dict[str, Any]] = field(default_factory=list)

    def row(self) -> dict[str, float | str]:
        """The model's flat line of the models table: each metric, its baseline and the
        interval of the difference, calibration and conformal sets."""
        row: dict[str, float | str] = {"evidence": self.evidence}
        for name, v in self.vs_majority.items():
            row[name], row[f"{name}_majority"] = v.value, v.baseline
            row[f"{name}_diff_lo"], row[f"{name}_diff_hi"] = v.diff_lo, v.diff_hi
        row.update(log_loss_uncalibrated=self.log_loss_uncalibrated,
                   ece_uncalibrated=self.ece_uncalibrated, ece=self.ece)
        for level, c in self.conformal.items():
            row[f"coverage_{level}"], row[f"set_size_{level}"] = c.coverage, c.mean_size
        row["most_predicted"] = self.most_predicted.iso3
        row["most_predicted_share"] = self.most_predicted.share
        row["note"] = self.one_class
        return row


def lowest_log_loss(models: dict[str, ModelScores], evidence: str,
                    leave_out: tuple[str, ...] = ()) -> str:
    """The model of ``evidence`` (the class prior always competes) with the lowest log-loss."""
    pool = {n: m for n, m in models.items() if n not in leave_out
            and (m.evidence == evidence or n == "prior")}
    if not pool:
        raise ValueError(f"no provenance model scored with {evidence} evidence")
    return min(pool, key=lambda n: pool[n].vs_majority.log_loss.value)


@dataclass
class PooledRow(JsonRecord):
    """One way of scoring a CV's country answers: per spectrum or pooled per specimen,
    weighted each specimen once or each spectrum once, beside the majority and the prior."""

    answer: str
    weights: str
    top1: float
    majority_top1: float
    top3: float
    prior_top3: float
    log_loss: float
    prior_log_loss: float
    ece: float
    coverage90: float
    size90: float


@dataclass
class PoolingTable(JsonRecord):
    """Pooled answers per specimen against the per-spectrum answers they pool, for the CV's
    winning model (``provenance.pooling_eval``)."""

    model: str
    #: the pooling rule each fold's inner folds chose
    rules: list[str]
    rows: list[PooledRow]
    #: pooled top-1 minus per-spectrum top-1, specimen by specimen, and its 95% interval
    top1_gain: float
    top1_gain_low: float
    top1_gain_high: float


@dataclass
class ContinentTable(JsonRecord):
    """The continent answer under one CV protocol (``provenance.continents_eval``): the
    winner's out-of-fold country probabilities summed per continent, calibrated and given 90%
    sets by models fitted on the other folds, beside the majority continent (top-1), the three
    largest (top-3) and the continent prior (log-loss)."""

    model: str
    continents: list[str]
    vs_majority: VsMajority
    ece: float
    #: ECE of the plain sums of the calibrated country probabilities
    ece_summed: float
    coverage90: float
    size90: float
    #: outer folds whose inner splits chose to re-calibrate the sums
    recalibrated_folds: int
    n_folds: int
    #: each continent's share of the spectra
    shares: dict[str, float]

    def goals(self) -> dict[str, bool]:
        """The continent answer's goals, each with whether it is met."""
        v = self.vs_majority
        return {"top-1 above the majority continent": v.top1.diff > 0,
                "top-3 above the three largest continents": v.top3.diff > 0,
                "ECE at most 0.03": self.ece <= 0.03,
                "90% coverage between 0.88 and 0.92": 0.88 <= self.coverage90 <= 0.92}


@dataclass
class ProvenanceReport(JsonRecord):
    """One provenance cross-validation of one split protocol (``provenance_cv_<split>.json``)."""

    split: Split
    n_folds: int
    n_spectra: int
    n_specimens: int
    n_classes: int
    classes: list[str]
    class_names: list[str]
    #: share of spectra in the three most common countries (the top-3 goal's bar)
    top3_share: float
    families: list[str]
    models: dict[str, ModelScores]
    #: evidence ("spectrum", "spectrum+mineral") -> its winner by log-loss
    winners: dict[str, Winner]
    calibration: str = ""
    #: whether (or why not) the network's fold models took part
    network_note: str = ""
    wall_s: float = 0.0
    protocol: str = "provenance_cv"
    #: the winner's pooled answers per specimen against its per-spectrum answers
    pooling: PoolingTable | None = None
    #: the winner's continent answer (absent in reports written before it)
    continents: ContinentTable | None = None
    path: Path | None = field(default=None, compare=False, metadata={_IN_JSON: False})

    def winner(self, evidence: str = "spectrum") -> str:
        """The winning model's name; ``spectrum`` is the evidence every query has."""
        return self.winners[evidence].model

    def scores(self, evidence: str = "spectrum") -> ModelScores:
        """The winner's scores for ``evidence``."""
        return self.models[self.winner(evidence)]

    def goals(self, evidence: str = "spectrum") -> dict[str, Goal]:
        """The winner's goals for ``evidence``: each measured, and whether it is met."""
        return self.winners[evidence].goals

    def models_table(self) -> pd.DataFrame:
        """One row per model (``ModelScores.row``): the ``_models.csv`` beside the report."""
        return pd.DataFrame([{"model": n, **m.row()} for n, m in self.models.items()])

    def write(self, path: Path) -> None:
        """Write atomically, so a reader never sees half a report."""
        write_json_atomic(path, self.to_json())

    @classmethod
    def read(cls, path: Path) -> ProvenanceReport:
        """The report in ``path``; one UserError naming the file and the field when damaged."""
        report = cls.from_file(path, "a provenance CV report")
        report.path = Path(path)
        return report

    @classmethod
    def of(cls, workdir: WorkDir, split: Split | str) -> ProvenanceReport | None:
        """The work folder's report of ``split``; None when the stage has not written it."""
        path = workdir.provenance_cv_file(split)
        return cls.read(path) if path.exists() else None



#: The paper's country accuracy, 5-fold CV split by spectrum (its abstract and conclusion).
PAPER_ACCURACY = 0.93


@dataclass
class RelationScores(JsonRecord):
    """Test spectra that have ``relation`` as their closest relative in training, and each
    model's accuracy on them (NaN where there are none)."""

    relation: str
    n_test: int
    share: float
    accuracy: dict[str, float]


class KeyedRecord(Protocol):
    """A cached measurement: the key of what made it, and its JSON."""

    key: str

    def to_json(self) -> dict[str, Any]: ...


Keyed = TypeVar("Keyed", bound=KeyedRecord)


def cached_record(path: Path, read: Callable[[Path], Keyed | None], key: str,
                  compute: Callable[[], Keyed], force: bool = False) -> Keyed:
    """The record at ``path`` when it was made with ``key`` (and not ``force``), else
    ``compute()``, written there atomically: how every cached measurement is re-used or
    redone, so a changed input or setting is never answered from an old file."""
    cached = read(path)
    if cached is not None and cached.key == key and not force:
        return cached
    result = compute()
    write_json_atomic(path, result.to_json())
    return result


@dataclass
class TwinBreakdown(JsonRecord):
    """Accuracy split by spectrum, broken down by what each test spectrum has in training
    (its raw/processed twin, another spectrum of its specimen, its species only, nothing), and
    the estimate of how many of the paper's test spectra had their twin in training."""

    key: str
    split: str
    n_folds: int
    seed: int
    rows: list[RelationScores]
    share_with_twin: float
    twin_in_training_given_twin: float
    official_share_paired: float
    models: list[str]

    @property
    def paper_share_with_twin_in_training(self) -> float:
        """The estimate for the paper's data: the official set's paired share times the
        chance, measured here, that a twin lands in training."""
        return self.official_share_paired * self.twin_in_training_given_twin

    @property
    def paper_accuracy(self) -> float:
        return PAPER_ACCURACY

    def table(self) -> pd.DataFrame:
        """One row per relation (and "all"): test spectra, share and each model's accuracy."""
        return pd.DataFrame([{"relation": r.relation, "n_test": r.n_test, "share": r.share,
                              **{f"accuracy_{m}": r.accuracy.get(m, float("nan"))
                                 for m in self.models}} for r in self.rows])

    @classmethod
    def read(cls, path: Path) -> TwinBreakdown | None:
        """The breakdown at ``path``; None when absent, a UserError naming a damaged field."""
        return cls.from_file(path, "a twin breakdown") if path.exists() else None


@dataclass
class TwinScores(JsonRecord):
    """Raw spectra beside their processed twins on one half of the specimens: top-1 species
    of each side, how often their top-1 agree, and the mean total variation distance of
    their country distributions (k nearest reference specimens, one vote each)."""

    n_pairs: int
    n_specimens: int
    top1_raw: float
    top1_twin: float
    agreement: float
    mean_tvd: float


@dataclass
class ChoiceScores(JsonRecord):
    """One preprocessing choice of the raw spectra: the library it is matched against
    (``built``: the spectra matrix; ``alike``: the processed files under the same rule), the
    share of raw and library spectra whose baseline it subtracted, and its scores per half."""

    name: str
    library: str
    baseline_subtracted: float
    library_baseline_subtracted: float
    choose: TwinScores
    report: TwinScores


@dataclass
class RawTwinTable(JsonRecord):
    """Raw RRUFF spectra matched like their processed twins? One row per preprocessing
    choice; ``chosen`` is picked on the choose half of the specimens, the table is the report
    half (``rruffgeo raw-twins``)."""

    key: str
    seed: int
    k: int
    max_shift_cm1: float | None
    min_gain: float
    n_pairs: int
    n_specimens: int
    report_pairs_by_technique: dict[str, int]
    chosen: str
    choices: list[ChoiceScores]

    def choice(self, name: str) -> ChoiceScores:
        return next(c for c in self.choices if c.name == name)

    def table(self, half: str = "report") -> pd.DataFrame:
        """One row per choice, scored on ``half``; the chosen one marked, and beside it the
        choose half's top-1 the choice was made on."""
        rows = []
        for c in self.choices:
            s: TwinScores = getattr(c, half)
            rows.append({"preprocessing of the raw spectrum": c.name,
                         "library": c.library, "chosen": "yes" if c.name == self.chosen else "",
                         "raw: baseline subtracted": c.baseline_subtracted,
                         "library: baseline subtracted": c.library_baseline_subtracted,
                         "top-1 raw": s.top1_raw, "top-1 twin": s.top1_twin,
                         "agreement with twin": s.agreement, "mean country TVD": s.mean_tvd,
                         "pairs": s.n_pairs, "specimens": s.n_specimens,
                         "choose half: top-1 raw": c.choose.top1_raw})
        return pd.DataFrame(rows)

    @classmethod
    def read(cls, path: Path) -> RawTwinTable | None:
        """The table at ``path``; None when absent, a UserError naming a damaged field."""
        return cls.from_file(path, "a raw-twin table") if path.exists() else None


@dataclass
class CellScores(JsonRecord):
    """Test spectra of one instrument against a library of one instrument (or ``both``),
    their specimens left out: top-1 species, and for those with a country the top-1/top-3
    country of the k nearest specimens' vote beside the library's majority countries."""

    test: str
    library: str
    n: int
    species_top1: float
    n_country: int
    country_top1: float
    country_top3: float
    majority_top1: float
    majority_top3: float


@dataclass
class TreatmentScores(JsonRecord):
    """One treatment of the matrix rows: its choose-half score (top-1 species against the
    whole library) and its report-half cells."""

    name: str
    label: str
    choose_species_top1: float
    report: list[CellScores]


@dataclass
class CrossInstrumentTable(JsonRecord):
    """Species and country matching within and across RRUFF's two instruments
    (``rruffgeo cross-instrument``); ``chosen`` is picked on the choose half."""

    key: str
    seed: int
    k: int
    min_gain: float
    chosen: str
    treatments: list[TreatmentScores]

    def treatment(self, name: str) -> TreatmentScores:
        return next(t for t in self.treatments if t.name == name)

    def table(self, name: str | None = None) -> pd.DataFrame:
        """The report-half cells of treatment ``name`` (default: the chosen one)."""
        cells = self.treatment(name or self.chosen).report
        return pd.DataFrame([{"test spectra": c.test, "library": c.library, "n": c.n,
                              "species top-1": c.species_top1,
                              "country top-1": c.country_top1,
                              "country top-3": c.country_top3,
                              "majority top-1": c.majority_top1,
                              "majority top-3": c.majority_top3} for c in cells])

    def choose_table(self) -> pd.DataFrame:
        """Each treatment's choose-half top-1 species (what the choice was made on)."""
        return pd.DataFrame([{"treatment": t.label, "chosen": "yes" if t.name == self.chosen
                              else "", "choose half: species top-1 (whole library)":
                              t.choose_species_top1} for t in self.treatments])

    @classmethod
    def read(cls, path: Path) -> CrossInstrumentTable | None:
        """The table at ``path``; None when absent, a UserError naming a damaged field."""
        return cls.from_file(path, "a cross-instrument table") if path.exists() else None


#: Columns of the long table of a prediction's most probable countries.
PREDICTION_COLUMNS = ["file", "rank", "country_iso3", "country_name", "probability"]


def top_k_table(names: Sequence[str], proba: np.ndarray, classes: Sequence[str],
                class_names: Sequence[str], top_k: int) -> pd.DataFrame:
    """Long table of the ``top_k`` most probable countries per spectrum (PREDICTION_COLUMNS)."""
    if isinstance(top_k, bool) or not isinstance(top_k, int | np.integer) or top_k < 1:
        raise ValueError(f"--top-k {top_k}: must be a whole number of at least 1")
    k = min(int(top_k), proba.shape[1])
    records = []
    for name, p in zip(names, proba, strict=True):
        for rank, c in enumerate(np.argsort(-p, kind="stable")[:k], 1):
            records.append((name, rank, classes[c], class_names[c], float(p[c])))
    return pd.DataFrame(records, columns=PREDICTION_COLUMNS)


@dataclass
class GroupFlagged(JsonRecord):
    """A group of spectra of nothing in the library (the pharmaceutical reference
    compounds), scored by the fitted novelty model: the share flagged, per spectrum and
    with each specimen counted once."""

    name: str
    n_spectra: int
    n_specimens: int
    flagged: float
    flagged_per_specimen: float


@dataclass
class NoveltyReport(JsonRecord):
    """How well the saved novelty model tells spectra of species not in the library
    (``metrics/novelty.json``, written by ``provenance-fit``). Every score is cross-fitted:
    the held-out spectra of the open-set splits (a fifth of the species left out whole, a
    fifth of the other specimens), each scored by trees fitted without its split."""

    model: str
    n_splits: int
    n_in_library: int
    n_out_of_library: int
    auroc: float
    #: AUROC of the best single similarity the score is compared with
    baseline_auroc: float
    baseline: str
    alpha: float
    #: at the saved threshold, on the same rows whose in-library scores set it
    kept_in_library: float
    flagged_out_of_library: float
    #: the curve: share of out-of-library spectra flagged at each share of in-library kept
    curve_kept: list[float]
    curve_flagged: list[float]
    groups: list[GroupFlagged] = field(default_factory=list)
    wall_s: float = 0.0

    def flagged_at(self, kept: float) -> float:
        """Share flagged where the curve keeps ``kept`` of the in-library spectra."""
        return float(np.interp(kept, self.curve_kept, self.curve_flagged))

    def curve_table(self, kept: tuple[float, ...] = (0.99, 0.95, 0.9, 0.8, 0.67, 0.5)
                    ) -> pd.DataFrame:
        """The curve at a few shares of in-library spectra kept."""
        return pd.DataFrame({"in-library spectra kept": list(kept),
                             "out-of-library spectra flagged": [self.flagged_at(k)
                                                                for k in kept]})

    @classmethod
    def read(cls, path: Path) -> NoveltyReport | None:
        """The report at ``path``; None when absent, a UserError naming a damaged field."""
        return cls.from_file(path, "a novelty report") if path.exists() else None
