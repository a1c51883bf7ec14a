"""Model folders: weights in safetensors plus a JSON description; no pickle anywhere.

A model folder holds ``model.safetensors`` (the eval-mode weights) and ``model.json`` (the
class list and names, the wavenumber grid, and the spectra/model/train settings), which is all
that prediction needs. Training checkpoints (``checkpoint.pt``) are read with
``torch.load(weights_only=True)``, which refuses anything but tensors and plain containers.
"""

from __future__ import annotations

import json
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from rruffgeo.config import ModelSettings, Settings, SpectraSettings, from_dict, to_dict
from rruffgeo.errors import UserError
from rruffgeo.network.convnext1d import ConvNeXt1D, build_network
from rruffgeo.workdir import MODEL_META, atomic_path, write_json_atomic

log = logging.getLogger(__name__)

WEIGHTS = "model.safetensors"
META = MODEL_META


@dataclass
class ModelBundle:
    """A loaded model with what prediction needs."""

    model: ConvNeXt1D
    classes: list[str]
    class_names: list[str]
    grid_cm1: np.ndarray
    spectra: SpectraSettings
    meta: dict[str, Any]


def save_model(folder: Path, model: torch.nn.Module, classes: list[str], class_names: list[str],
               grid_cm1: np.ndarray, settings: Settings, extra: dict[str, Any] | None = None
               ) -> Path:
    """Write ``model.safetensors`` and ``model.json`` into ``folder`` (atomically each)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    with atomic_path(folder / WEIGHTS) as tmp:
        save_file(state, str(tmp))
    meta = {
        "format": FORMAT,
        "classes": list(classes),
        "class_names": list(class_names),
        "grid_cm1": {"start": float(grid_cm1[0]), "stop": float(grid_cm1[-1]),
                     "points": int(len(grid_cm1))},
        "settings": {"spectra": to_dict(settings.spectra), "model": to_dict(settings.network),
                     "train": to_dict(settings.train)},
        **(extra or {}),
    }
    write_json_atomic(folder / META, meta)
    return folder


def check_finite_weights(state: dict[str, torch.Tensor], source: Path | str) -> None:
    """UserError naming ``source`` when a floating-point tensor holds NaN or inf.

    Such a model predicts NaN for every spectrum; refusing it at load time costs one pass over
    the weights (a few million numbers).
    """
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise UserError(f"{source}: {len(bad)} of {len(state)} weight tensors hold NaN or inf "
                         f"(first: {bad[0]}); the model is corrupt, retrain or restore it")


def load_model(folder: Path, device: str | torch.device = "cpu") -> ModelBundle:
    """Load a model folder written by ``save_model`` (no code is executed from the files).

    A truncated or foreign file, a model.json without the keys it needs, or weights that do not
    fit the network model.json describes raise `UserError` naming the file and the problem.
    """
    folder = Path(folder)
    for name in (META, WEIGHTS):
        if not (folder / name).is_file():
            raise UserError(f"{folder / name} not found: not a rruffgeo model folder")
    meta = _read_meta(folder / META)
    try:
        ms = from_dict(ModelSettings, meta["settings"]["model"])
        sp = from_dict(SpectraSettings, meta["settings"]["spectra"])
        g = meta["grid_cm1"]
        model = build_network(len(meta["classes"]), ms, int(g["points"]))
        grid = np.linspace(float(g["start"]), float(g["stop"]), int(g["points"]))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise UserError(f"{folder / META}: describes no network that can be built "
                        f"({type(exc).__name__}: {exc})") from exc
    model.load_state_dict(_read_weights(folder / WEIGHTS, model.state_dict()))
    model.to(device).eval()
    return ModelBundle(model, meta["classes"], meta["class_names"], grid, sp, meta)


#: The model.json this version writes and reads.
FORMAT = "rruffgeo-convnext1d/1"
#: Keys of model.json that loading needs.
_META_KEYS = {"classes": list, "class_names": list, "grid_cm1": dict, "settings": dict}


def _read_meta(path: Path) -> dict[str, Any]:
    """model.json, checked for the keys and types that loading needs."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise UserError(f"{path}: expected a JSON object, found {type(meta).__name__}")
    wrong = [k for k, kind in _META_KEYS.items() if not isinstance(meta.get(k), kind)]
    wrong += [f"settings.{k}" for k in ("model", "spectra")
              if not isinstance(meta.get("settings", {}).get(k), dict)]
    wrong += [f"grid_cm1.{k}" for k in ("start", "stop", "points")
              if k not in (meta.get("grid_cm1") or {})]
    if wrong:
        raise UserError(f"{path}: missing or malformed keys {', '.join(wrong)}")
    if len(meta["classes"]) != len(meta["class_names"]) or not meta["classes"]:
        raise UserError(f"{path}: classes and class_names differ in length or are empty")
    if meta.get("format", FORMAT) != FORMAT:  # folders written before the key read as /1
        raise UserError(f"{path}: unknown format {meta['format']!r} (this version reads "
                        f"{FORMAT})")
    _check_grid(path, meta["grid_cm1"])
    return meta


def _check_grid(path: Path, grid: dict[str, Any]) -> None:
    """The grid must be finite and increasing: a swapped or NaN grid would resample every
    spectrum onto nothing and still give an answer."""
    try:
        start, stop, points = float(grid["start"]), float(grid["stop"]), int(grid["points"])
    except (TypeError, ValueError) as exc:
        raise UserError(f"{path}: grid_cm1 is not numbers ({exc})") from None
    if not (np.isfinite(start) and np.isfinite(stop)):
        raise UserError(f"{path}: grid_cm1.start/stop must be finite, got {start}, {stop}")
    if not stop > start or points < 2:
        raise UserError(f"{path}: grid_cm1 must run upwards over at least 2 points, got "
                        f"start {start:g}, stop {stop:g}, points {points}")


def _read_weights(path: Path, expected: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The weights of ``path``, checked against the network's own names and shapes."""
    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError) as exc:
        raise UserError(f"{path}: not a readable safetensors file, truncated or corrupt "
                        f"({exc})") from exc
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
             if k in state and state[k].shape != v.shape]
    problems = [f"{label} {', '.join(items[:3])}{' ...' if len(items) > 3 else ''}"
                for label, items in (("missing", missing), ("unexpected", unexpected),
                                     ("wrong shape", wrong)) if items]
    if problems:
        raise UserError(f"{path}: weights do not fit the network of {META} "
                        f"({'; '.join(problems)})")
    check_finite_weights(state, path)
    return state


#: What a training checkpoint holds (written by the training loop after every epoch).
CHECKPOINT_KEYS = ("model", "optimizer", "epoch", "history_json", "key")


def read_checkpoint(path: Path, device: str | torch.device = "cpu",
                    desc: str = "train") -> dict[str, Any] | None:
    """A training checkpoint, or None when there is none or it cannot be read.

    A checkpoint cut short (killed during a copy, a full disk) or otherwise unreadable is
    ignored with a warning, so the fold starts again instead of failing until the file is
    deleted by hand; the next epoch's checkpoint replaces it.
    """
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except (RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        log.warning("%s: checkpoint %s cannot be read (%s); starting the fold again",
                    desc, path, why)
        return None
    if not isinstance(state, dict) or any(k not in state for k in CHECKPOINT_KEYS):
        log.warning("%s: checkpoint %s lacks the training state; starting the fold again",
                    desc, path)
        return None
    return state
