"""rruffgeo: tell where on Earth a mineral specimen comes from by reading its Raman spectrum.

Rebuilds the pipeline of Pappone, Califano & Tafani (2024), "From Spectra to Geography:
Intelligent Mapping of RRUFF Mineral Data", with honest (specimen-grouped) evaluation.
Stages, each reading and writing files in one work folder:
data -> geo -> spectra -> model -> report.

To predict your own spectra in Python::

    import rruffgeo
    model = rruffgeo.open_model("rruffgeo-work/models/final")
    result = model.predict_files(["my_spectrum.txt"])
    result.table(top_k=3), result.refused

Names are imported on first use, so ``import rruffgeo`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_WHERE = {"open_model": "rruffgeo.predict", "Predictions": "rruffgeo.predict",
          "UserError": "rruffgeo.errors"}

__all__ = ["Predictions", "UserError", "__version__", "open_model"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'rruffgeo' has no attribute {name!r}")
