"""Catalog columns that ingest derives from a file's name and IDs, read from any catalog.

``technique`` (the file name's technique field: ``Raman``, or ``Broad_Scan`` for the
low-resolution ``LR-Raman`` instrument; "" where the name does not follow the RRUFF naming)
and ``is_reference_compound`` (an ``XD`` RRUFF ID: a pharmaceutical or excipient measured as
a reference, not a mineral) are written at ingest. A catalog written before they existed is
still read by the later stages (a ``run`` whose sources did not change skips ingest): the
columns are then derived here, by the same rules, from ``member`` / ``spectrum_id`` and
``specimen_id``, so every stage counts the same whichever version wrote the catalog.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import pandas as pd
import pyarrow.parquet as pq

from rruffgeo.data.naming import is_reference_compound_id, parse_file_name, technique_of


def _technique(frame: pd.DataFrame) -> pd.Series:
    """The technique field of each row's file name (``member``, else the end of
    ``spectrum_id``, which is ``<category>/<member>``)."""
    names = frame["member"] if "member" in frame else frame["spectrum_id"]
    return names.fillna("").astype(str).map(
        lambda name: technique_of(parse_file_name(name).technique))


def _reference_compound(frame: pd.DataFrame) -> pd.Series:
    return frame["specimen_id"].fillna("").astype(str).map(is_reference_compound_id)


#: How columns a stored table lacks are made: per column, the stored columns it needs, and the
#: rule that makes it from them.
Rules = dict[str, tuple[tuple[str, ...], Callable[[pd.DataFrame], pd.Series]]]

#: The catalog's derived columns.
DERIVED: Rules = {
    "technique": (("member", "spectrum_id"), _technique),
    "is_reference_compound": (("specimen_id",), _reference_compound),
}


def read_columns(path: str | os.PathLike[str], columns: Sequence[str], derived: Rules,
                 optional: Sequence[str] = ()) -> pd.DataFrame:
    """``columns`` of the parquet table at ``path``, in that order, then those of ``optional``
    the table has; columns the file lacks (a table an older version wrote) are made by their
    rule in ``derived`` from the stored ones; a column of ``columns`` neither stored nor
    derivable is a KeyError, one of ``optional`` is left out."""
    stored = set(pq.read_schema(path).names)
    columns = [*columns, *(c for c in optional if c in stored or c in derived)]
    missing = [c for c in columns if c not in stored and c in derived]
    sources = [src for c in missing for src in derived[c][0]]
    needed = [c for c in dict.fromkeys([*columns, *sources]) if c in stored]
    frame = pd.read_parquet(path, columns=needed)
    for column in missing:
        frame[column] = derived[column][1](frame)
    return frame[columns]


def read_catalog_columns(path: str | os.PathLike[str], columns: Sequence[str],
                         optional: Sequence[str] = ()) -> pd.DataFrame:
    """``columns`` of the catalog at ``path``, in that order, then those of ``optional`` it
    has; derived ones are computed where an older catalog lacks them."""
    return read_columns(path, columns, DERIVED, optional)


def catalog_column(frame: pd.DataFrame, column: str) -> pd.Series:
    """A derived ``column`` of a catalog frame: as stored, else made by its rule (a frame
    built from fewer columns than the catalog has)."""
    return frame[column] if column in frame.columns else DERIVED[column][1](frame)


__all__ = ["DERIVED", "Rules", "catalog_column", "read_catalog_columns", "read_columns"]
