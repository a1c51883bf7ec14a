"""Tables of an answer built when first read, all of one prediction's at once.

Torch-free. A prediction of a 10,000-point map gives 40,000 small tables (countries, species,
specimens, continents per spectrum); built one by one they took longer than the prediction
itself, and a map's reader mostly wants the probabilities. ``LazyRows`` holds how to build
every row's table from the prediction's arrays and builds them all the first time one is
read; ``TableField`` makes a result's field hold either a table or a ``Deferred`` one, so
``result.species`` is a DataFrame either way. ``LongRows`` cuts the rows' tables from one long
table, which a writer of every row's answer reads whole (``long_rows``), never the 40,000.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from rruffgeo.provenance.library import per_query


class LazyRows:
    """The tables of many rows, built together by ``build`` when one is first asked for."""

    def __init__(self, build: Callable[[], list[pd.DataFrame]]) -> None:
        self._build: Callable[[], list[pd.DataFrame]] | None = build
        self._rows: list[pd.DataFrame] | None = None

    def __getitem__(self, i: int) -> pd.DataFrame:
        if self._rows is None:
            assert self._build is not None
            self._rows, self._build = self._build(), None  # the arrays go with the builder
        return self._rows[i]


class LongRows(LazyRows):
    """``n`` tables of ``k`` rows each, cut from one long table (query after query).
    ``build(keep)`` makes the long table, only its rows ``keep`` (a mask of the ``n * k``)
    when given, so a writer needing the first rows of each builds no others."""

    def __init__(self, build: Callable[[np.ndarray | None], pd.DataFrame], n: int, k: int
                 ) -> None:
        super().__init__(self._cut)
        self.build, self.n, self.k = build, n, k
        self._long: pd.DataFrame | None = None

    def long(self, keep: np.ndarray | None = None) -> pd.DataFrame:
        """The long table (built once), or its rows ``keep`` only."""
        if keep is not None:
            return self.build(keep).reset_index(drop=True)
        if self._long is None:
            self._long = self.build(None).reset_index(drop=True)
        return self._long

    def _cut(self) -> list[pd.DataFrame]:
        return per_query(self.long(), self.n, self.k)


class Deferred:
    """Row ``i`` of ``rows``, not built yet."""

    __slots__ = ("i", "rows")

    def __init__(self, rows: LazyRows, i: int) -> None:
        self.rows, self.i = rows, i

    def __call__(self) -> pd.DataFrame:
        return self.rows[self.i]


class TableField:
    """A dataclass field holding a table or a `Deferred` one, built when first read.
    ``default``: the field's default (none unless given)."""

    _NONE = object()

    def __init__(self, default: Any = _NONE) -> None:
        self.default = default

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}_table"

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:  # the dataclass asks for a default
            if self.default is TableField._NONE:
                raise AttributeError(self.slot)
            return self.default
        value = obj.__dict__[self.slot]
        return value() if isinstance(value, Deferred) else value  # the rows keep it once built

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.slot] = value


def long_rows(results: Sequence[Any], name: str) -> LongRows | None:
    """The `LongRows` whose tables are the field ``name`` of ``results``, one each in order,
    or None (a table given or replaced, results of several predictions, a slice of them)."""
    slot = f"_{name}_table"
    first = results[0].__dict__.get(slot) if len(results) else None
    rows = first.rows if isinstance(first, Deferred) else None
    if not isinstance(rows, LongRows) or rows.n != len(results):
        return None
    for i, r in enumerate(results):
        value = r.__dict__.get(slot)
        if not isinstance(value, Deferred) or value.rows is not rows or value.i != i:
            return None
    return rows
