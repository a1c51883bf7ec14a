"""Deprecated: the learners moved to :mod:`rruffgeo.network` and :mod:`rruffgeo.provenance`.

Kept for one release so that code written against the old paths keeps running; each use
warns once with the new name."""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from rruffgeo import network as _network


def _moved(old: str, new: str) -> None:
    warnings.warn(f"{old} moved to {new}; the old name goes in the next release",
                  DeprecationWarning, stacklevel=3)


def __getattr__(name: str) -> Any:
    if name in _network.__all__:
        _moved(f"rruffgeo.model.{name}", f"rruffgeo.network.{name}")
        return getattr(_network, name)
    raise AttributeError(f"module 'rruffgeo.model' has no attribute {name!r}")


def _alias(old: str, new: str) -> Any:
    _moved(f"rruffgeo.model.{old}", new)
    return importlib.import_module(new)
