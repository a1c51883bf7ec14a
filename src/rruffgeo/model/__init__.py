"""Learning: the ConvNeXt1D network, training, evaluation and prediction (paper 4-5, B).

Names are imported on first use (PEP 562), so the torch-free modules of this package (the
provenance models, calibration, conformal sets, splits, metrics) load without importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from rruffgeo.model.table import learning_table as learning_table  # torch-free

_WHERE = {
    "Predictor": "rruffgeo.model.predict",
    "load_dataset": "rruffgeo.model.evaluate",
    "load_model": "rruffgeo.model.modelio",
    "predict_files": "rruffgeo.model.predict",
    "run_cv": "rruffgeo.model.evaluate",
    "run_train": "rruffgeo.model.evaluate",
    "save_model": "rruffgeo.model.modelio",
}

__all__ = sorted([*_WHERE, "learning_table"])


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'rruffgeo.model' has no attribute {name!r}")
