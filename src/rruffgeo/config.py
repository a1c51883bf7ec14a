"""All settings in one typed place; the defaults are the paper's values where the paper gives one.

Every stage takes its own section; ``Settings`` bundles them. Settings are plain frozen
dataclasses so they hash into cache keys (``result_fingerprint``) and serialise into model
folders and reports (``to_dict`` / ``from_dict``). Each section checks its values when it is
made (``__post_init__``), so a bad option fails at once with one line naming it, never deep
inside a stage. The vocabulary shared by the stages (split protocols, evaluations, heads,
precisions) is here as small enums, so adding one is one new member.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import MISSING, Field, asdict, dataclass, field, fields, is_dataclass, replace
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, TypeVar

from rruffgeo.checks import (
    Checked,
    SettingError,
    at_least,
    device_name,
    enum_check,
    in_range,
    integer_at_least,
    numbers,
    setting,
    sizes,
)

#: Environment variable naming the RRUFF data (folder, zip, .txt file or URL).
DATA_ENV = "RRUFFGEO_DATA"
#: Where the official RRUFF Raman zips are published.
RRUFF_RAMAN_URL = "https://rruff.info/zipped_data_files/raman/"
#: The ten quality categories published at RRUFF_RAMAN_URL (zip name without ``.zip``).
RRUFF_CATEGORIES = (
    "excellent_oriented",
    "excellent_unoriented",
    "fair_oriented",
    "fair_unoriented",
    "ignore_unoriented",
    "poor_oriented",
    "poor_unoriented",
    "unrated_oriented",
    "unrated_unoriented",
    "LR-Raman",
)

# ---------------------------------------------------------------- vocabulary


class Split(StrEnum):
    """How test spectra are kept apart from training spectra; a member is (name, label, the
    learning-table column whose values never straddle train and test, or None)."""

    SPECTRUM = ("spectrum", "split by spectrum (paper)", None)
    SPECIMEN = ("specimen", "grouped by specimen (no leakage)", "specimen_id")
    LOCALITY = ("locality", "grouped by locality (no shared place)", "locality_group")

    def __new__(cls, value: str, label: str = "", group_column: str | None = None) -> Split:
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.label = label  # type: ignore[attr-defined]
        obj.group_column = group_column  # type: ignore[attr-defined]
        return obj


#: The protocols ``run`` trains and reports by default; ``locality`` is asked for by name.
RUN_SPLITS: tuple[Split, ...] = (Split.SPECTRUM, Split.SPECIMEN)


class Evaluation(StrEnum):
    """How a network is scored: one 80/20 hold-out (paper 4.3) or k-fold CV (paper B.1)."""

    HOLDOUT = "holdout"
    CV = "cv"

    @property
    def file_stem(self) -> str:
        """Name in metrics files (``metrics/<stem>_<split>.json``): "train" for the hold-out,
        as ``rruffgeo train`` has always written it."""
        return "train" if self is Evaluation.HOLDOUT else self.value

    @classmethod
    def of(cls, text: str) -> Evaluation:
        """The evaluation named by ``text``: a member's value or its metrics-file stem."""
        return cls.HOLDOUT if text in ("train", "holdout") else cls(text)

    def label(self, n_folds: int = 0) -> str:
        return f"{n_folds}-fold CV" if self is Evaluation.CV else "80/20 hold-out"


class Head(StrEnum):
    """Classifier heads of ConvNeXt1D (built by ``rruffgeo.network.heads``), with their help."""

    AVG = ("avg", "global average pool (the paper's, B.2)")
    FLATTEN = ("flatten", "keep the positions (learns in fewer steps on RRUFF)")

    def __new__(cls, value: str, help: str = "") -> Head:  # noqa: A002
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.help = help  # type: ignore[attr-defined]
        return obj


class Precision(StrEnum):
    """Inference precisions: "fp32" (same results as the reference network) or "bf16" (the
    network cast to bfloat16: faster on an AVX512-BF16 CPU, logits within ~0.01; docs/guide.md,
    "Network speed"; falls back to fp32 where the CPU has no bf16 kernels)."""

    FP32 = "fp32"
    BF16 = "bf16"


class TrainPrecision(StrEnum):
    """Training precisions on the CPU: "auto" picks bf16 autocast where the CPU has native bf16
    (AVX512-BF16 or AMX) and fp32 elsewhere (``runtime.resolve_train_precision``)."""

    AUTO = "auto"
    FP32 = "fp32"
    BF16 = "bf16"


#: Inference precisions, as plain strings (``Precision``).
PRECISIONS = tuple(p.value for p in Precision)
#: Classifier heads of ConvNeXt1D, as plain strings (``Head``).
HEAD_POOLS = tuple(h.value for h in Head)
@dataclass(frozen=True)
class IngestSettings(Checked):
    """Reading RRUFF files into the catalog."""

    #: Categories to download when the source is the RRUFF URL (all ten by default).
    categories: tuple[str, ...] = RRUFF_CATEGORIES
    #: Where downloaded zips are kept between runs.
    cache_dir: Path = setting(default_factory=lambda: default_cache_dir() / "zips",
                              changes_result=False)
    #: Worker processes for parsing (0 = one per CPU core).
    workers: int = setting(0, check=integer_at_least(0, 4096), option="--workers",
                           changes_result=False)
    #: Memory (MiB) a parser process may use, whatever the files hold: files are read and parsed
    #: in batches that fit, and a file too large to parse within it is rejected (the default
    #: allows files of up to 64 MiB of text; RRUFF files are under 1 MiB).
    worker_memory_mb: int = setting(512, check=integer_at_least(8, 1 << 20),
                                    option="--worker-memory-mb", changes_result=False)


@dataclass(frozen=True)
class GeoSettings(Checked):
    """Locality cleaning and geocoding (paper section 2, appendix A.1-A.3)."""

    #: Use the online chain Nominatim -> Photon -> ArcGIS (paper A.1) instead of the gazetteer.
    online: bool = setting(False, option="--online")
    #: Order of the online geocoders.
    online_chain: tuple[str, ...] = ("nominatim", "photon", "arcgis")
    #: Other servers for the online geocoders, as (name, "scheme://host[:port]") pairs, e.g.
    #: (("nominatim", "http://localhost:8080"),) for a self-hosted Nominatim; () = public ones.
    online_servers: tuple[tuple[str, str], ...] = ()
    #: User agent sent to Nominatim (its usage policy requires one).
    user_agent: str = "rruffgeo/0.1 (https://github.com/rruffgeo)"
    #: Seconds between requests to one online service (Nominatim allows 1 request/s).
    min_delay_s: float = setting(1.0, check=at_least(0))
    #: Retries per online request on transient errors.
    max_retries: int = setting(2, check=integer_at_least(0, 100))
    #: Seconds to wait before retrying after a transient error.
    error_wait_s: float = setting(5.0, check=at_least(0))
    #: Persistent SQLite cache of online answers.
    cache_path: Path = setting(default_factory=lambda: default_cache_dir() / "geocode.sqlite",
                               option="--cache", changes_result=False)
    #: Largest distance (degrees) from a polygon for the offshore nearest-country fallback.
    offshore_max_deg: float = setting(0.5, check=at_least(0))


#: Fewest grid points: a spectrum on fewer cannot show Raman bands at all.
MIN_GRID_POINTS = 16


def _window(v: Any) -> str | None:
    if v is None:
        return None
    if (not isinstance(v, (tuple, list)) or len(v) != 2
            or not all(isinstance(x, (int, float)) and math.isfinite(x) for x in v)):
        return "must be two finite numbers (low, high) in cm-1"
    return None if v[0] < v[1] else "low must be below high"


@dataclass(frozen=True)
class SpectraSettings(Checked):
    """Resampling onto one global grid (paper 4.1, A.4)."""

    #: Number of grid points. 2048 over ~0-4,250 cm-1 is ~2.1 cm-1 a point: close to the coarsest
    #: raw steps (2.5 cm-1) and a power of two for the stem's stride-4 and three stride-2 layers.
    grid_points: int = setting(2048, check=integer_at_least(MIN_GRID_POINTS, 1 << 20),
                               option="--grid-points")
    #: Window in cm-1; None = the global window covering every spectrum of the data (paper A.4).
    window_cm1: tuple[float, float] | None = setting(None, check=_window)
    #: Min-max normalise each spectrum to [0, 1] (paper A.4).
    minmax: bool = True


#: Most blocks in one stage and most channels: ConvNeXt-XL has 27 blocks and 2,048 channels;
#: far more only exhausts memory before the first step.
MAX_DEPTH = 64
MAX_DIM = 4096


#: Points the network learns on when ``--network-pool`` is auto: the grid averaged down to
#: about this many (a 2,048-point grid 4:1).
NETWORK_POINTS = 512


@dataclass(frozen=True)
class ModelSettings(Checked):
    """ConvNeXt1D architecture (paper 4.2, B.2)."""

    depths: tuple[int, ...] = setting((2, 2, 3, 2), check=sizes(MAX_DEPTH))
    dims: tuple[int, ...] = setting((32, 64, 128, 256), check=sizes(MAX_DIM))
    #: Dropout before the classifier (paper B.3 names dropout but gives no value). 0.1: light,
    #: because ~4,000 training spectra in 15 epochs under-fit more than they over-fit, yet a
    #: 100+-class head on 256 features memorises rare countries without any.
    head_dropout: float = setting(0.1, check=in_range(0, 1))
    #: Largest stochastic-depth rate, reached by the last block (paper B.3 gives no value).
    #: 0.1 is the ConvNeXt-T value of the reference code (rates grow linearly from 0); only 9
    #: blocks here, so more would drop a large share of the network in each step.
    drop_path_rate: float = setting(0.1, check=in_range(0, 1))
    #: Layer scale initial value. The paper (4.3) uses ConvNeXt's 1e-6 (``--recipe paper``): its
    #: residual blocks start as near-identities and, at lr 1e-3, need ~1,000 steps to grow. 0.1
    #: was better for both heads on an inner validation split (docs/guide.md, "Why the defaults").
    layer_scale_init: float = setting(0.1, check=in_range(0, 10, low_open=True))
    #: Head pooling: "avg" = global average pool, the paper's head (B.2, ``--head avg`` or
    #: ``--recipe paper``); "flatten" (the default) = the last stage's positions kept, so the head
    #: also knows where along the axis a feature sits. Average pooling does not make the network
    #: blind to band positions (one last-stage position sees 848 input points and the zero
    #: padding marks where a spectrum starts), but on RRUFF it learns slowly and, converged,
    #: stays below the 1-NN lookup, which the flatten head reaches (docs/guide.md, "Why the
    #: defaults"). The head that reaches the 1-NN is the default.
    head_pool: Head = setting(Head.FLATTEN, check=enum_check(Head), option="--head")
    #: The network's own grid: it averages every ``input_pool`` neighbouring points of the
    #: spectra grid before its stem, so it learns on a coarser grid while the reference
    #: library, which sets the resolution of the species match, keeps the full grid.
    #: 0 (the default, auto) gives the network about ``NETWORK_POINTS`` points: 4 on the
    #: 2,048-point grid, about 3.3x less training compute, and ahead of the full grid on the
    #: inner validation splits measured (docs/guide.md, "Which grid"). 1 = the grid as it is.
    #: ``Settings.network`` holds it resolved for the grid; keys and model.json use that.
    input_pool: int = setting(0, check=integer_at_least(0, 64), option="--network-pool",
                              unkeyed_value=1)

    def pool_for(self, grid_points: int) -> int:
        """The input pooling on a grid of ``grid_points``: as set, or for 0 (auto) the one
        that leaves the network about ``NETWORK_POINTS`` points."""
        return self.input_pool or max(1, grid_points // NETWORK_POINTS)

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.depths) != len(self.dims):
            raise SettingError(f"depths {self.depths} and dims {self.dims}: one of each per "
                               "stage (they differ in length)")

    @property
    def min_input_length(self) -> int:
        """Fewest points a spectrum needs: the input pooling, the stem's stride 4, then
        stride 2 per stage."""
        return max(self.input_pool, 1) * 4 * 2 ** (len(self.dims) - 1)


#: What weight decay applies to: every parameter, or conv/linear weight matrices only.
WEIGHT_DECAY_GROUPS = ("all", "matrices")


def _decay_groups(v: object) -> str | None:
    """Check of ``TrainSettings.weight_decay_groups``."""
    return None if v in WEIGHT_DECAY_GROUPS else f"choose one of {', '.join(WEIGHT_DECAY_GROUPS)}"


@dataclass(frozen=True)
class TrainSettings(Checked):
    """Optimisation and evaluation (paper 4.3, 5, B.1, B.3)."""

    #: Schedule-free AdamW learning rate (paper 4.3).
    lr: float = setting(1e-3, check=in_range(0, 10, low_open=True), option="--lr")
    #: Paper 4.3. Schedule-free multiplies it by lr (3.5e-4 per step); applied to conv/linear
    #: weights only, not to norms, biases or layer-scale gamma (see model.train.make_optimizer).
    weight_decay: float = setting(0.35, check=at_least(0))
    betas: tuple[float, float] = (0.9, 0.999)
    #: Linear warm-up of schedule-free AdamW: about 2 epochs of steps at batch 64.
    warmup_steps: int = setting(100, check=integer_at_least(0))
    #: The paper gives none. 20 epochs are about 2,000 steps at batch 64 on a fold's training
    #: spectra, where the flatten head (the default) has converged; the paper's average-pool
    #: head needs more (``--head avg --epochs 48``; docs/guide.md, "Why the defaults").
    epochs: int = setting(20, check=integer_at_least(1, 100_000), option="--epochs")
    #: The paper gives none. 64 gives ~100 optimizer steps per epoch on a fold's ~6,350 training
    #: spectra and keeps a batch's activations small on CPU.
    batch_size: int = setting(64, check=integer_at_least(1, 1 << 20), option="--batch-size")
    #: Gradient-norm clipping (paper B.3 names clipping without a value). 1.0, the common
    #: choice for AdamW-trained ConvNeXt/ViT recipes, tames loss spikes from batches of rare
    #: countries early in training.
    grad_clip_norm: float = setting(1.0, check=at_least(0))
    #: Fraction held out by ``train`` (paper 4.3: 80/20).
    test_size: float = setting(0.2, check=in_range(0, 1, low_open=True))
    #: Folds of ``cv`` (paper B.1: 5).
    n_folds: int = setting(5, check=integer_at_least(2, 1000), option="--n-folds")
    #: Keep countries with at least this many samples (paper 5.1: 2).
    min_samples_per_country: int = setting(2, check=integer_at_least(1),
                                           option="--min-samples-per-country")
    #: "spectrum" (the paper's protocol) or "specimen" (grouped by RRUFF ID, no leakage).
    split: Split = setting(Split.SPECTRUM, check=enum_check(Split), option="--split")
    seed: int = setting(0, check=integer_at_least(0, 2**32 - 1), option="--seed")
    #: "auto" = CUDA when present, else CPU. Where it runs does not change the result.
    device: str = setting("auto", check=device_name, option="--device", changes_result=False)
    #: CPU threads for torch; 0 = one per usable core. Use 1 when several jobs share the cores:
    #: OpenMP threads spin-wait, so on a busy machine more threads can be much slower
    #: (docs/guide.md, "Why the defaults").
    threads: int = setting(0, check=integer_at_least(0, 4096), option="--threads",
                           changes_result=False)
    # -- Recipe: every departure from what the paper states is one of these named settings;
    # -- ``rruffgeo.recipes`` holds the named presets (``--recipe paper`` restores the paper).
    #: Which parameters weight decay applies to: "all" (AdamW as the paper names it) or
    #: "matrices" (conv/linear weights only; norms, biases and layer-scale gamma undecayed).
    weight_decay_groups: str = setting("matrices", check=_decay_groups)
    #: Cross-entropy label smoothing (the paper: plain cross-entropy, 0).
    label_smoothing: float = setting(0.0, check=in_range(0, 1))
    #: Augmentation (the paper: none; ``--recipe default+no-augment`` turns it off). On by
    #: default: with the flatten head it raised inner-validation accuracy and macro-F1
    #: (docs/guide.md, "Why the defaults").
    #: Largest random shift of a spectrum along the wavenumber axis in cm-1 (a calibration
    #: offset, drawn uniformly in +-this per spectrum and step; about 2 points of the default grid).
    aug_shift_cm1: float = setting(4.0, check=in_range(0, 1000))
    #: Random intensity scale per spectrum, uniform in 1 +- this (0 = off).
    aug_scale: float = setting(0.15, check=in_range(0, 1))
    #: Gaussian noise added inside each spectrum's measured range (never on its zero padding),
    #: standard deviation in units of the min-max-normalised intensity (0 = off).
    aug_noise: float = setting(0.01, check=in_range(0, 10))
    #: Share of each training part held out as an inner validation split, grouped like the
    #: evaluated split (by specimen when ``split`` is "specimen"); its curves (val_*) are what
    #: recipe choices are made from. 0 = off (the network trains on the whole training part).
    inner_val_fraction: float = setting(0.0, check=in_range(0, 1), option="--inner-val")
    #: Training precision on the CPU: "auto" (default: bf16 autocast where the CPU has native
    #: bf16, AVX512-BF16 or AMX, faster there; fp32 elsewhere), "fp32" (the same numbers
    #: on every kind of CPU, to float rounding) or "bf16" (autocast mixed precision, fp32
    #: weights; refused with the reason on a CPU without bf16 kernels). The precision a model
    #: was trained in is recorded in its model.json. CUDA always trains in mixed precision.
    precision: TrainPrecision = setting(TrainPrecision.AUTO, check=enum_check(TrainPrecision),
                                        option="--precision")
    #: Trainings run side by side (folds, or the split protocols of ``run``), each in its own
    #: process with its share of the cores: 0 = auto (one per usable core, up to the trainings
    #: waiting, when ``threads`` is 0; else 1): faster on small CPUs (docs/guide.md, "Why the
    #: defaults"). A training's result is the same whichever process runs it.
    jobs: int = setting(0, check=integer_at_least(0, 256), option="--jobs", changes_result=False)


#: Neighbours kept per query by the provenance models, so the largest kNN ``k``: enough for
#: k=150 specimens when specimens have many spectra.
MAX_NEIGHBOURS = 800


@dataclass(frozen=True)
class ProvenanceSettings(Checked):
    """Cross-validation of the provenance country models (``rruffgeo.provenance.cv``).

    The outer folds are the network's: ``--seed`` and ``--n-folds`` set both, so that the
    network's fold models can join (they are left out, saying why, when the folds differ).
    Each grid point costs an inner CV, so the grids stay small.
    """

    #: Outer folds of the provenance CV (the network's ``cv`` folds by default).
    n_folds: int = setting(5, check=integer_at_least(2, 1000), option="--n-folds")
    #: Seed of the outer and inner folds.
    seed: int = setting(0, check=integer_at_least(0, 2**32 - 1), option="--seed")
    #: Inner folds of each training fold, grouped by specimen: they choose each family's
    #: grid point and fit calibration and conformal quantiles.
    inner_folds: int = setting(5, check=integer_at_least(2, 1000))
    #: Species-frequency smoothing (``SpeciesFrequency.alpha``) tried on the inner folds.
    species_alpha: tuple[float, ...] = setting((2.0, 8.0, 32.0),
                                               check=numbers(in_range(0, 1e6, low_open=True)))
    #: kNN grid (every combination is tried): neighbours voting, ...
    knn_k: tuple[int, ...] = setting((20, 50, 150),
                                     check=numbers(integer_at_least(1, MAX_NEIGHBOURS)))
    #: ... temperature of their similarity weights, ...
    knn_tau: tuple[float, ...] = setting((0.05, 0.1, 0.3),
                                         check=numbers(in_range(0, 100, low_open=True)))
    #: ... and the share of the class prior mixed into their votes.
    knn_lam: tuple[float, ...] = setting((0.3, 0.6, 0.85), check=numbers(in_range(0, 1)))
    #: Coverages of the conformal prediction sets.
    levels: tuple[float, ...] = setting((0.8, 0.9, 0.95),
                                        check=numbers(in_range(0, 1, low_open=True)))

    def __post_init__(self) -> None:
        super().__post_init__()
        if 0.9 not in self.levels:
            raise SettingError(f"ProvenanceSettings.levels {self.levels}: must hold 0.9 (the "
                               "coverage goal and predict's default --coverage)")


@dataclass(frozen=True)
class PredictSettings(Checked):
    """Predicting the country of new spectra with a model folder."""

    #: Countries listed per spectrum, most probable first.
    top_k: int = setting(3, check=integer_at_least(1, 10_000), option="--top-k")
    precision: Precision = setting(Precision.FP32, check=enum_check(Precision),
                                   option="--precision")
    device: str = setting("cpu", check=device_name, option="--device")


@dataclass(frozen=True)
class Settings:
    """Every stage's settings."""

    ingest: IngestSettings = field(default_factory=IngestSettings)
    geo: GeoSettings = field(default_factory=GeoSettings)
    spectra: SpectraSettings = field(default_factory=SpectraSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    provenance: ProvenanceSettings = field(default_factory=ProvenanceSettings)

    @property
    def network(self) -> ModelSettings:
        """The network's settings with its input pooling resolved for the spectra grid: what
        trains, what cache keys and model.json hold (auto never reaches them)."""
        pool = self.model.pool_for(self.spectra.grid_points)
        return self.model if pool == self.model.input_pool else replace(self.model,
                                                                         input_pool=pool)

    def __post_init__(self) -> None:
        need = self.network.min_input_length
        if self.spectra.grid_points < need:
            pool = self.network.input_pool
            raise SettingError(f"--grid-points {self.spectra.grid_points}: a network of "
                               f"{len(self.model.dims)} stages"
                               + (f" with --network-pool {pool}" if pool > 1 else "")
                               + f" needs at least {need} points")


def default_cache_dir() -> Path:
    """Per-user cache (downloads, geocoder answers).

    ``$RRUFFGEO_CACHE``, else ``$XDG_CACHE_HOME/rruffgeo``, else ``~/.cache/rruffgeo``.
    """
    env = os.environ.get("RRUFFGEO_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rruffgeo"


def to_dict(obj: Any) -> Any:
    """JSON-ready dict of a settings dataclass (paths as strings, tuples as lists)."""
    if is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (tuple, list)):
        return [to_dict(v) for v in obj]
    return obj


T = TypeVar("T")


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a settings dataclass from ``to_dict`` output; unknown keys are ignored."""
    kwargs: dict[str, Any] = {}
    defaults = cls()  # type: ignore[call-arg]
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            continue
        value = data[f.name]
        current = getattr(defaults, f.name)
        if is_dataclass(current):
            value = from_dict(type(current), value)
        elif isinstance(current, Path):
            value = Path(value)
        elif isinstance(current, tuple) and isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        elif f.name == "window_cm1" and isinstance(value, list):
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)


def fingerprint(*parts: Any) -> str:
    """Short stable hash of settings and other JSON-able values, for cache keys."""
    blob = json.dumps([to_dict(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def result_dict(obj: Any) -> Any:
    """``to_dict`` without the fields marked as not changing a result (device, threads,
    workers, cache folders): what a cached result must match to be re-used."""
    if is_dataclass(obj):
        return {f.name: result_dict(getattr(obj, f.name)) for f in fields(obj)
                if f.metadata.get("changes_result", True) and not _at_unkeyed_value(obj, f)}
    return to_dict(obj)


def _at_unkeyed_value(obj: Any, f: Field) -> bool:
    """A setting at the value it had before it existed (``unkeyed_value``, see
    ``checks.setting``): left out of cache keys."""
    unkeyed = f.metadata.get("unkeyed_value", MISSING)
    return unkeyed is not MISSING and getattr(obj, f.name) == unkeyed


def result_fingerprint(*parts: Any) -> str:
    """``fingerprint`` of what changes a result: the one cache key of every stage."""
    return fingerprint(*(result_dict(p) for p in parts))


__all__ = [
    "DATA_ENV",
    "HEAD_POOLS",
    "NETWORK_POINTS",
    "PRECISIONS",
    "Evaluation",
    "Head",
    "Precision",
    "TrainPrecision",
    "PredictSettings",
    "ProvenanceSettings",
    "SettingError",
    "Split",
    "RRUFF_CATEGORIES",
    "RRUFF_RAMAN_URL",
    "GeoSettings",
    "IngestSettings",
    "ModelSettings",
    "Settings",
    "SpectraSettings",
    "TrainSettings",
    "asdict",
    "default_cache_dir",
    "fingerprint",
    "from_dict",
    "replace",
    "result_dict",
    "result_fingerprint",
    "to_dict",
]
