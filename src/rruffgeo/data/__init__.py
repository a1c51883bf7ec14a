"""RRUFF data: file names, headers, spectra; sources (txt, zip, mirror, download); the catalog.

``ingest``, ``load_catalog`` and ``IngestResult`` are imported lazily so that worker processes
(which import ``rruffgeo.data.parse``) do not pay for pandas and pyarrow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from rruffgeo.data.catalog import IngestResult, ingest, load_catalog, load_rejects, summary

__all__ = ["IngestResult", "ingest", "load_catalog", "load_rejects", "summary"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from rruffgeo.data import catalog

        return getattr(catalog, name)
    raise AttributeError(f"module 'rruffgeo.data' has no attribute {name!r}")
