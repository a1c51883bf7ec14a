"""The report's Jinja2 environment and the views its templates show: tables and figures.

Templates live in ``rruffgeo/report/templates`` (package data) with autoescaping on, so no text
from a work folder (a locality, a file name, an error) can break the page. The stylesheet and
the script are files there too, put inline when the page is rendered: the page stays one file
that opens from disk with no network.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup

from rruffgeo.report.stats import format_cell

#: The stylesheet and the figure-check script, inlined into the page.
CSS_FILE = "report.css"
SCRIPT_FILE = "figures_loaded.js"


def asset(name: str) -> str:
    """The text of a file of the templates folder (stylesheet, script)."""
    return resources.files("rruffgeo.report").joinpath("templates", name).read_text("utf-8")


@dataclass(frozen=True)
class Cell:
    text: str
    numeric: bool


@dataclass(frozen=True)
class Table:
    """A DataFrame as the page shows it: header and cell texts, numbers marked to align."""

    columns: list[str]
    rows: list[list[Cell]]

    @classmethod
    def of(cls, df: pd.DataFrame, digits: int = 2) -> Table:
        """Cells formatted as the Markdown tables are (``stats.format_cell``); scores that
        differ in the third decimal ask for ``digits`` 3."""
        numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
        rows = [[Cell(format_cell(v, str(c), digits), n)
                 for v, n, c in zip(rec, numeric, df.columns, strict=True)]
                for rec in df.itertuples(index=False)]
        return cls([str(c) for c in df.columns], rows)


@dataclass(frozen=True)
class FigureView:
    """One figure on the page: the PNG inline when drawn, else why it is missing."""

    id: str
    caption: str
    data: str | None = None
    missing: str = ""

    @classmethod
    def of(cls, png: Path, caption: str, skipped: str = "", absent: str = "not drawn"
           ) -> FigureView:
        """The PNG at ``png`` inline; else why not: ``skipped`` (the reason the maker gave)
        or, when the file is just not there, ``absent``."""
        if png.exists() and not skipped:
            return cls(png.stem, caption, base64.b64encode(png.read_bytes()).decode("ascii"))
        return cls(png.stem, caption, None, skipped or absent)


@functools.cache
def environment() -> jinja2.Environment:
    """Autoescaping environment over the package's templates; undefined names are errors."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("rruffgeo.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["table"] = Table.of
    env.filters["pct"] = lambda x: f"{x:.1%}"
    env.filters["num"] = lambda x, digits=3: f"{x:.{digits}f}"
    env.filters["signed"] = lambda x: f"{x:+.3f}"
    return env


def render(template: str, **context: Any) -> str:
    """``template`` rendered with ``context``, the stylesheet and the script."""
    page = environment().get_template(template)
    return page.render(css=Markup(asset(CSS_FILE)), script=Markup(asset(SCRIPT_FILE)),
                       **context)
