"""Model folders: weights in safetensors plus a JSON description; no pickle anywhere.

A model folder holds ``model.safetensors`` (the eval-mode weights) and ``model.json`` (the
class list and names, the wavenumber grid, and the spectra/model/train settings), which is all
that prediction needs. Training checkpoints (``checkpoint.pt``) are read with
``torch.load(weights_only=True)``, which refuses anything but tensors and plain containers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from rruffgeo.config import ModelSettings, Settings, SpectraSettings, from_dict, to_dict
from rruffgeo.model.convnext1d import ConvNeXt1D, build_network
from rruffgeo.workdir import atomic_path, write_json_atomic

WEIGHTS = "model.safetensors"
META = "model.json"


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
        "format": "rruffgeo-convnext1d/1",
        "classes": list(classes),
        "class_names": list(class_names),
        "grid_cm1": {"start": float(grid_cm1[0]), "stop": float(grid_cm1[-1]),
                     "points": int(len(grid_cm1))},
        "settings": {"spectra": to_dict(settings.spectra), "model": to_dict(settings.model),
                     "train": to_dict(settings.train)},
        **(extra or {}),
    }
    write_json_atomic(folder / META, meta)
    return folder


def load_model(folder: Path, device: str | torch.device = "cpu") -> ModelBundle:
    """Load a model folder written by ``save_model`` (no code is executed from the files)."""
    folder = Path(folder)
    for name in (META, WEIGHTS):
        if not (folder / name).exists():
            raise FileNotFoundError(f"{folder / name} not found: not a rruffgeo model folder")
    meta = json.loads((folder / META).read_text())
    ms = from_dict(ModelSettings, meta["settings"]["model"])
    sp = from_dict(SpectraSettings, meta["settings"]["spectra"])
    g = meta["grid_cm1"]
    model = build_network(len(meta["classes"]), ms, int(g["points"]))
    model.load_state_dict(load_file(str(folder / WEIGHTS), device="cpu"))
    model.to(device).eval()
    grid = np.linspace(g["start"], g["stop"], g["points"])
    return ModelBundle(model, meta["classes"], meta["class_names"], grid, sp, meta)
