"""Tables of an answer built when first read, all of one prediction's at once.

Torch-free. A prediction of a 10,000-point map gives 40,000 small tables (countries, species,
specimens, continents per spectrum); built one by one they took longer than the prediction
itself, and a map's reader mostly wants the probabilities. ``LazyRows`` holds how to build
every row's table from the prediction's arrays and builds them all the first time one is
read; ``TableField`` makes a result's field hold either a table or a ``Deferred`` one, so
``result.species`` is a DataFrame either way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd


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
        if isinstance(value, Deferred):
            value = obj.__dict__[self.slot] = value()
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.slot] = value
