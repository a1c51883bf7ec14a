"""Deprecated: moved to :mod:`rruffgeo.network.predict` (kept for one release)."""

from rruffgeo.model import _alias

_module = _alias("predict", "rruffgeo.network.predict")
globals().update({k: v for k, v in vars(_module).items() if not k.startswith("__")})
