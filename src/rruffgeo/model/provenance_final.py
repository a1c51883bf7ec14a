"""Deprecated: moved to :mod:`rruffgeo.provenance.final` (kept for one release)."""

from rruffgeo.model import _alias

_module = _alias("provenance_final", "rruffgeo.provenance.final")
globals().update({k: v for k, v in vars(_module).items() if not k.startswith("__")})
