"""Deprecated: the learners moved to :mod:`rruffgeo.network` and :mod:`rruffgeo.provenance`.

Kept for one release so that code written against the old paths keeps running: the old
package's names (``rruffgeo.model.run_cv``) and its old modules (``rruffgeo.model.predict``,
``rruffgeo.model.provenance_final``, ...) resolve to their new homes, each use warning once
with the new name. No old module file is kept: a finder maps the old names."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from types import ModuleType
from typing import Any

from rruffgeo import network as _network

#: Old module of ``rruffgeo.model`` -> where it lives now.
MOVED = {
    **{name: f"rruffgeo.network.{name}" for name in (
        "augment", "baseline", "convnext1d", "curves", "distributed", "estimator", "evaluate",
        "heads", "metrics", "modelio", "predict", "runtime", "train")},
    "side_by_side": "rruffgeo.network.jobs", "splits": "rruffgeo.splits",
    "provenance": "rruffgeo.provenance.models", "provenance_cv": "rruffgeo.provenance.cv",
    "provenance_data": "rruffgeo.provenance.data",
    "provenance_eval": "rruffgeo.provenance.evaluate",
    "provenance_final": "rruffgeo.provenance.final",
    "provenance_metrics": "rruffgeo.provenance.metrics",
    "provenance_output": "rruffgeo.provenance.output",
    "library": "rruffgeo.provenance.library", "calibration": "rruffgeo.provenance.calibration",
    "conformal": "rruffgeo.provenance.conformal",
    "network_oof": "rruffgeo.provenance.network_oof",
}


def _moved(old: str, new: str) -> None:
    warnings.warn(f"{old} moved to {new}; the old name goes in the next release",
                  DeprecationWarning, stacklevel=3)


def __getattr__(name: str) -> Any:
    if name in _network.__all__:
        _moved(f"rruffgeo.model.{name}", f"rruffgeo.network.{name}")
        return getattr(_network, name)
    raise AttributeError(f"module 'rruffgeo.model' has no attribute {name!r}")


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports of an old module path give a module holding the new module's names."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        old = fullname.removeprefix(f"{__name__}.")
        if old == fullname or old not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: Any) -> None:
        return None  # the default: a fresh module, filled by exec_module

    def exec_module(self, module: ModuleType) -> None:
        new = MOVED[module.__name__.removeprefix(f"{__name__}.")]
        _moved(module.__name__, new)
        names = vars(importlib.import_module(new))
        module.__dict__.update({k: v for k, v in names.items() if not k.startswith("__")})


if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
    sys.meta_path.append(_MovedModules())
