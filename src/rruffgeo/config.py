"""All settings in one typed place; the defaults are the paper's values where the paper gives one.

Every stage takes its own section; ``Settings`` bundles them. Settings are plain frozen
dataclasses so they hash into cache keys (``fingerprint``) and serialise into model folders
and reports (``to_dict`` / ``from_dict``).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

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


@dataclass(frozen=True)
class IngestSettings:
    """Reading RRUFF files into the catalog."""

    #: Categories to download when the source is the RRUFF URL (all ten by default).
    categories: tuple[str, ...] = RRUFF_CATEGORIES
    #: Where downloaded zips are kept between runs.
    cache_dir: Path = field(default_factory=lambda: default_cache_dir() / "zips")
    #: Worker processes for parsing (0 = one per CPU core).
    workers: int = 0


@dataclass(frozen=True)
class GeoSettings:
    """Locality cleaning and geocoding (paper section 2, appendix A.1-A.3)."""

    #: Use the online chain Nominatim -> Photon -> ArcGIS (paper A.1) instead of the gazetteer.
    online: bool = False
    #: Order of the online geocoders.
    online_chain: tuple[str, ...] = ("nominatim", "photon", "arcgis")
    #: Other servers for the online geocoders, as (name, "scheme://host[:port]") pairs, e.g.
    #: (("nominatim", "http://localhost:8080"),) for a self-hosted Nominatim; () = public ones.
    online_servers: tuple[tuple[str, str], ...] = ()
    #: User agent sent to Nominatim (its usage policy requires one).
    user_agent: str = "rruffgeo/0.1 (https://github.com/rruffgeo)"
    #: Seconds between requests to one online service (Nominatim allows 1 request/s).
    min_delay_s: float = 1.0
    #: Retries per online request on transient errors.
    max_retries: int = 2
    #: Seconds to wait before retrying after a transient error.
    error_wait_s: float = 5.0
    #: Persistent SQLite cache of online answers.
    cache_path: Path = field(default_factory=lambda: default_cache_dir() / "geocode.sqlite")
    #: Largest distance (degrees) from a polygon for the offshore nearest-country fallback.
    offshore_max_deg: float = 0.5


@dataclass(frozen=True)
class SpectraSettings:
    """Resampling onto one global grid (paper 4.1, A.4)."""

    #: Number of grid points. 2048 over ~0-4,250 cm-1 is ~2.1 cm-1 a point: close to the coarsest
    #: raw steps (2.5 cm-1) and a power of two for the stem's stride-4 and three stride-2 layers.
    grid_points: int = 2048
    #: Window in cm-1; None = the global window covering every spectrum of the data (paper A.4).
    window_cm1: tuple[float, float] | None = None
    #: Min-max normalise each spectrum to [0, 1] (paper A.4).
    minmax: bool = True


#: Inference precisions: "fp32" (same results as the reference network) or "bf16" (the network
#: cast to bfloat16: 1.5-1.8x faster on the 2-core AVX512-BF16 machine, logits within ~0.01;
#: README, "Network speed").
PRECISIONS = ("fp32", "bf16")
#: Classifier heads of ConvNeXt1D: "avg" (global average pool, the paper's) or "flatten".
HEAD_POOLS = ("avg", "flatten")


@dataclass(frozen=True)
class ModelSettings:
    """ConvNeXt1D architecture (paper 4.2, B.2)."""

    depths: tuple[int, ...] = (2, 2, 3, 2)
    dims: tuple[int, ...] = (32, 64, 128, 256)
    #: Dropout before the classifier (paper B.3 names dropout but gives no value). 0.1: light,
    #: because ~4,000 training spectra in 15 epochs under-fit more than they over-fit, yet a
    #: 100+-class head on 256 features memorises rare countries without any.
    head_dropout: float = 0.1
    #: Largest stochastic-depth rate, reached by the last block (paper B.3 gives no value).
    #: 0.1 is the ConvNeXt-T value of the reference code (rates grow linearly from 0); only 9
    #: blocks here, so more would drop a large share of the network in each step.
    drop_path_rate: float = 0.1
    #: Layer scale initial value (paper 4.3).
    layer_scale_init: float = 1e-6
    #: Head pooling: "avg" = global average pool, the paper's head (B.2); "flatten" = the last
    #: stage's positions kept, so the head also knows where along the axis a feature sits.
    #: Average pooling does not make the network blind to band positions: one last-stage
    #: position sees 848 input points and the zero padding marks where a spectrum starts, so
    #: features can encode where a band is. On RRUFF the avg head learns slowly (it stays at
    #: the class prior for its first several hundred steps; README); "flatten" fits faster.
    head_pool: str = "avg"


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation and evaluation (paper 4.3, 5, B.1, B.3)."""

    #: Schedule-free AdamW learning rate (paper 4.3).
    lr: float = 1e-3
    #: Paper 4.3. Schedule-free multiplies it by lr (3.5e-4 per step); applied to conv/linear
    #: weights only, not to norms, biases or layer-scale gamma (see model.train.make_optimizer).
    weight_decay: float = 0.35
    betas: tuple[float, float] = (0.9, 0.999)
    #: Linear warm-up of schedule-free AdamW: about 2 epochs of steps at batch 64.
    warmup_steps: int = 100
    #: The paper gives none. Chosen so a full 5-fold CV fits 45 minutes on 2 CPU cores: the
    #: paper-size network at 2,048 points trains ~140 spectra/s and infers ~500/s there (idle,
    #: 2 threads), so an epoch over ~3,700 training spectra plus validation of ~900 takes ~29 s
    #: and 5 folds x 15 epochs ~36 min, leaving margin for load. On the busy shared machine
    #: (five jobs on 2 cores) one epoch over the real data took 127-514 s (1 thread). At the
    #: paper's lr the network stayed at the majority-class share for its first 8 epochs on the
    #: real data: 15 is what the CPU budget allows, not a converged schedule; on a GPU or with
    #: a faster network raise --epochs.
    epochs: int = 15
    #: The paper gives none. 64 gives ~60 optimizer steps per epoch on ~3,700 spectra (enough
    #: updates within 15 epochs) and keeps a batch's activations small on CPU.
    batch_size: int = 64
    #: Gradient-norm clipping (paper B.3 names clipping without a value). 1.0, the common
    #: choice for AdamW-trained ConvNeXt/ViT recipes, tames loss spikes from batches of rare
    #: countries early in training.
    grad_clip_norm: float = 1.0
    #: Fraction held out by ``train`` (paper 4.3: 80/20).
    test_size: float = 0.2
    #: Folds of ``cv`` (paper B.1: 5).
    n_folds: int = 5
    #: Keep countries with at least this many samples (paper 5.1: 2).
    min_samples_per_country: int = 2
    #: "spectrum" (the paper's protocol) or "specimen" (grouped by RRUFF ID, no leakage).
    split: str = "spectrum"
    seed: int = 0
    #: "auto" = CUDA when present, else CPU.
    device: str = "auto"
    #: CPU threads for torch; 0 = one per usable core. Use 1 when several jobs share the cores:
    #: OpenMP threads spin-wait, and on a busy 2-core machine a 2-thread training step was
    #: measured 4-5x slower than a 1-thread one.
    threads: int = 0
    # -- Recipe: every departure from what the paper states is one of these named settings;
    # -- ``rruffgeo.recipes`` holds the named presets (``--recipe paper`` restores the paper).
    #: Which parameters weight decay applies to: "all" (AdamW as the paper names it) or
    #: "matrices" (conv/linear weights only; norms, biases and layer-scale gamma undecayed).
    weight_decay_groups: str = "matrices"
    #: Cross-entropy label smoothing (the paper: plain cross-entropy, 0).
    label_smoothing: float = 0.0
    #: Augmentation (the paper: none). Largest random shift of a spectrum along the wavenumber
    #: axis in cm-1 (a calibration offset, drawn uniformly in +-this per spectrum and step).
    aug_shift_cm1: float = 0.0
    #: Random intensity scale per spectrum, uniform in 1 +- this (0 = off).
    aug_scale: float = 0.0
    #: Gaussian noise added inside each spectrum's measured range (never on its zero padding),
    #: standard deviation in units of the min-max-normalised intensity (0 = off).
    aug_noise: float = 0.0
    #: Share of each training part held out as an inner validation split, grouped like the
    #: evaluated split (by specimen when ``split`` is "specimen"); its curves (val_*) are what
    #: recipe choices are made from. 0 = off (the network trains on the whole training part).
    inner_val_fraction: float = 0.0


@dataclass(frozen=True)
class Settings:
    """Every stage's settings."""

    ingest: IngestSettings = field(default_factory=IngestSettings)
    geo: GeoSettings = field(default_factory=GeoSettings)
    spectra: SpectraSettings = field(default_factory=SpectraSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    train: TrainSettings = field(default_factory=TrainSettings)


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


__all__ = [
    "DATA_ENV",
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
    "to_dict",
]
