"""Named training recipes: what the paper states, the project's default, and one-change variants.

A recipe is a name such as ``paper``, ``default`` or ``paper+warmup+augment``: a base followed by
variants, each changing one named setting (``VARIANTS``), so the effect of every departure from
the paper can be measured on its own (``benchmarks/recipe_search.py``) and ``--recipe paper`` is
always one flag away. ``default`` is the project's recipe (the flatten head with augmentation,
layer scale 0.1, warm-up, no decay on norms and biases); ``default+avg+no-augment`` is it with
the paper's head and no augmentation. Settings the paper names without a value (dropout,
stochastic depth, gradient clipping) and those it never mentions (epochs, batch size) are our
choices in every recipe; where it names a method whose library has a default (schedule-free
AdamW: no warm-up), ``paper`` uses that default.
"""

from __future__ import annotations

from typing import Any

from rruffgeo.config import Settings, TrainSettings, replace, to_dict

#: What the paper states (4.2, 4.3, B.2, B.3), as (section, field) -> value. The architecture is
#: the paper's with the reference ConvNeXt's LayerNorm + conv k2 s2 downsampling between stages,
#: which its text leaves out (without them the sequence never shrinks after the stem).
PAPER: dict[tuple[str, str], Any] = {
    ("model", "depths"): (2, 2, 3, 2),
    ("model", "dims"): (32, 64, 128, 256),
    ("model", "head_pool"): "avg",
    ("model", "layer_scale_init"): 1e-6,
    ("train", "lr"): 1e-3,
    ("train", "weight_decay"): 0.35,
    ("train", "weight_decay_groups"): "all",
    ("train", "betas"): (0.9, 0.999),
    ("train", "warmup_steps"): 0,
    ("train", "label_smoothing"): 0.0,
    ("train", "aug_shift_cm1"): 0.0,
    ("train", "aug_scale"): 0.0,
    ("train", "aug_noise"): 0.0,
}

#: The augmentation settings (``TrainSettings``), switched on or off together.
AUGMENTATION = ("aug_shift_cm1", "aug_scale", "aug_noise")

#: One-change variants: name -> {(section, field): value}.
VARIANTS: dict[str, dict[tuple[str, str], Any]] = {
    "warmup": {("train", "warmup_steps"): 100},
    "wd-matrices": {("train", "weight_decay_groups"): "matrices"},
    "no-wd": {("train", "weight_decay"): 0.0},
    "lr3e-3": {("train", "lr"): 3e-3},
    "lr3e-4": {("train", "lr"): 3e-4},
    "batch32": {("train", "batch_size"): 32},
    "layer-scale-0.1": {("model", "layer_scale_init"): 0.1},
    "label-smoothing": {("train", "label_smoothing"): 0.1},
    "shift": {("train", "aug_shift_cm1"): 4.0},
    "scale": {("train", "aug_scale"): 0.15},
    "noise": {("train", "aug_noise"): 0.01},
    # the project's augmentation, as TrainSettings' defaults set it (one place for its values)
    "augment": {("train", name): getattr(TrainSettings(), name) for name in AUGMENTATION},
    "flatten": {("model", "head_pool"): "flatten"},
    "avg": {("model", "head_pool"): "avg"},
    "no-augment": {("train", name): 0.0 for name in AUGMENTATION},
    "no-dropout": {("model", "head_dropout"): 0.0, ("model", "drop_path_rate"): 0.0},
}

BASES = ("paper", "default")


def _apply(settings: Settings, changes: dict[tuple[str, str], Any]) -> Settings:
    for (section, name), value in changes.items():
        settings = replace(settings, **{section: replace(getattr(settings, section),
                                                         **{name: value})})
    return settings


def recipe_settings(recipe: str, base: Settings | None = None) -> Settings:
    """``base`` (default: ``Settings()``) with the recipe ``BASE[+VARIANT...]`` applied."""
    base = base or Settings()
    name, *variants = [part.strip() for part in recipe.split("+")]
    if name not in BASES:
        raise ValueError(f"--recipe {recipe!r}: starts with one of {', '.join(BASES)}")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"--recipe {recipe!r}: unknown variant(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(VARIANTS)}")
    settings = _apply(base, PAPER) if name == "paper" else base
    for variant in variants:
        settings = _apply(settings, VARIANTS[variant])
    return settings


def departures(settings: Settings) -> dict[str, dict[str, Any]]:
    """Every setting that differs from what the paper states: ``section.field`` -> values."""
    out = {}
    for (section, name), paper_value in PAPER.items():
        value = getattr(getattr(settings, section), name)
        if to_dict(value) != to_dict(paper_value):
            out[f"{section}.{name}"] = {"paper": to_dict(paper_value), "used": to_dict(value)}
    return out
