"""The network: the ConvNeXt1D, its training, evaluation and prediction (paper 4-5, B).

Names are imported on first use (PEP 562), so importing the package does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from rruffgeo.dataset import learning_table as learning_table  # torch-free

_WHERE = {
    "Predictor": "rruffgeo.network.predict",
    "load_dataset": "rruffgeo.network.evaluate",
    "load_model": "rruffgeo.network.modelio",
    "run_cv": "rruffgeo.network.evaluate",
    "run_train": "rruffgeo.network.evaluate",
    "save_model": "rruffgeo.network.modelio",
}

__all__ = sorted([*_WHERE, "learning_table"])


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'rruffgeo.network' has no attribute {name!r}")
