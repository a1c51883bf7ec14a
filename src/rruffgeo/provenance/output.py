"""Provenance predictions as tables: terminal text, CSV, JSON and Parquet.

Torch-free. The country table keeps the columns of ``rruffgeo predict``
(``file,rank,country_iso3,country_name,probability``) first and adds whether each country is in
the conformal set, the set's size and coverage, the evidence used, the best species match with
its HQI, the library-match verdict (novelty score and p-value), what the countries rest on
(the model, or the stated prior when nothing in the library is close) and the top continent.
CSV and Parquet get companion tables beside the main file, ``<stem>.species.<ext>``,
``<stem>.specimens.<ext>`` and, when the model has continents, ``<stem>.continents.<ext>``;
JSON holds them all per file. The tables are built column by column from the answers' long
tables (``gather``): a 10,000-point map's answers hold 40,000 small tables, and a table per
spectrum, concatenated, took minutes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rruffgeo.output_plan import companion
from rruffgeo.provenance.answer import ProvenanceResult
from rruffgeo.provenance.deferred import long_rows
from rruffgeo.workdir import (
    spreadsheet_safe,
    write_csv_atomic,
    write_parquet_atomic,
    write_text_atomic,
)

COUNTRY_COLUMNS = ["file", "rank", "country_iso3", "country_name", "probability", "in_set",
                   "set_size", "coverage", "evidence", "mineral_given", "species_match",
                   "species_similarity", "species_hqi", "library_match", "novelty_score",
                   "novelty_p_value", "country_basis", "continent", "continent_probability",
                   "continent_set"]
OUTPUT_SUFFIXES = (".csv", ".json", ".parquet")


@dataclass
class Long:
    """One table of many answers as one long table, answer after answer: ``counts`` rows
    each (0 where ``present`` is False: the answer has no such table)."""

    frame: pd.DataFrame
    counts: np.ndarray
    present: np.ndarray

    @property
    def starts(self) -> np.ndarray:
        """Each answer's first row in ``frame``."""
        return np.r_[0, np.cumsum(self.counts)[:-1]].astype(np.int64)

    def repeat(self, values: Any) -> np.ndarray:
        """One value per answer, repeated over its rows."""
        return np.repeat(np.asarray(values, dtype=object if _is_text(values) else None),
                         self.counts)

    def members(self, column: str) -> list[list[Any]]:
        """Per answer, ``column`` of its rows whose ``in_set`` is True: its conformal set."""
        in_set = self.frame["in_set"].to_numpy(bool)
        owner = np.repeat(np.arange(len(self.counts)), self.counts)
        counts = np.bincount(owner[in_set], minlength=len(self.counts)).tolist()
        chosen = self.frame[column].to_numpy(object)[in_set].tolist()
        ends = np.cumsum(counts).tolist()
        return [chosen[e - c:e] for e, c in zip(ends, counts, strict=True)]

    def split(self, items: list[Any]) -> list[list[Any]]:
        """A list of ``frame``'s rows cut into one list per answer."""
        return [items[a:a + c] for a, c in zip(self.starts.tolist(), self.counts.tolist(),
                                               strict=True)]


def _is_text(values: Any) -> bool:
    return len(values) > 0 and isinstance(values[0], str)


def gather(results: Sequence[ProvenanceResult], name: str,
           limit: np.ndarray | None = None) -> Long | None:
    """The table ``name`` of every answer as one `Long` (None when no answer has one),
    only each answer's first ``limit`` rows when given. Answers of one prediction, in
    order, give their long table as built (``long_rows``); others are concatenated."""
    rows = long_rows(results, name)
    if rows is not None:
        full = np.full(len(results), rows.k)
        if limit is None:
            return Long(rows.long(), full, np.ones(len(results), bool))
        keep = (np.arange(rows.k)[None, :] < limit[:, None]).ravel()
        return Long(rows.long(keep), np.minimum(full, limit), np.ones(len(results), bool))
    frames = [getattr(r, name) for r in results]
    present = np.array([f is not None for f in frames], dtype=bool)
    if not present.any():
        return None
    counts = np.array([len(f) if f is not None else 0 for f in frames], dtype=np.int64)
    frame = pd.concat([f for f in frames if f is not None], ignore_index=True)
    if limit is not None:
        within = np.arange(len(frame)) - np.repeat(Long(frame, counts, present).starts, counts)
        frame = frame[within < np.repeat(limit, counts)].reset_index(drop=True)
        counts = np.minimum(counts, limit)
    return Long(frame, counts, present)


def _first(long: Long | None, column: str, n: int, empty: Any) -> np.ndarray:
    """Per answer, ``column`` of its first row (``empty`` where it has no rows)."""
    text = isinstance(empty, str)
    out = np.full(n, empty, dtype=object if text else np.float64)
    if long is None or column not in long.frame.columns:
        return out
    has = long.counts > 0
    values = long.frame[column].to_numpy(dtype=object if text else np.float64)
    out[has] = values[long.starts[has]]
    return out


def _answer_columns(results: Sequence[ProvenanceResult], coverage: float
                    ) -> dict[str, Any]:
    """The columns of the country table that hold one value per answer."""
    n = len(results)
    species = gather(results, "species")
    nv = [r.novelty for r in results]
    return {
        "set_size": np.array([r.set_size for r in results], dtype=np.int64),
        "coverage": np.full(n, coverage, dtype=np.float64),
        "evidence": [r.evidence for r in results],
        "mineral_given": [r.mineral_used for r in results],
        "species_match": _first(species, "species", n, ""),
        "species_similarity": _first(species, "similarity", n, np.nan),
        "species_hqi": _first(species, "hqi", n, np.nan),
        "library_match": [v.verdict if v is not None else "not checked" for v in nv],
        "novelty_score": np.array([v.score if v is not None else np.nan for v in nv], float),
        "novelty_p_value": np.array([v.p_value if v is not None else np.nan for v in nv],
                                    float),
        "country_basis": [r.country_basis for r in results],
        **_continent_columns(gather(results, "continents"), n),
    }


def _continent_columns(cont: Long | None, n: int) -> dict[str, Any]:
    """Per answer: the top continent, its probability and the continents in the set."""
    members = cont.members("continent") if cont is not None else [[] for _ in range(n)]
    return {"continent": _first(cont, "continent", n, ""),
            "continent_probability": _first(cont, "probability", n, np.nan),
            "continent_set": [";".join(m) for m in members]}


def country_table(names: Sequence[str], results: Sequence[ProvenanceResult], coverage: float,
                  top_k: int) -> pd.DataFrame:
    """Per answer its ``max(top_k, set size)`` most probable countries (COUNTRY_COLUMNS),
    built column by column from every answer's long table."""
    if not results:
        return pd.DataFrame(columns=COUNTRY_COLUMNS)
    limit = np.array([max(top_k, r.set_size) for r in results], dtype=np.int64)
    countries = gather(results, "countries", limit)
    assert countries is not None  # every answer has countries
    each = {"file": countries.repeat(list(names))}
    for column, values in _answer_columns(results, coverage).items():
        each[column] = countries.repeat(values)
    return pd.concat([pd.DataFrame(each), countries.frame], axis=1)[COUNTRY_COLUMNS]


def _with_file(names: Sequence[str], long: Long | None) -> pd.DataFrame:
    """A long table with each row's file first (empty when no answer has the table)."""
    if long is None:
        return pd.DataFrame()
    return pd.concat([pd.DataFrame({"file": long.repeat(list(names))}), long.frame], axis=1)


def tables(names: Sequence[str], results: Sequence[ProvenanceResult], coverage: float,
           top_k: int = 3) -> dict[str, pd.DataFrame]:
    """Countries, species, specimens and continents of every file as long tables (the
    continents only when the model has them)."""
    return {"countries": country_table(names, results, coverage, top_k),
            **{kind: _with_file(names, gather(results, kind) if results else None)
               for kind in ("species", "specimens", "continents")}}


def _records(results: Sequence[ProvenanceResult], name: str, nulls: bool = False
             ) -> list[Any]:
    """Each answer's table ``name`` as JSON records (None where it has none); ``nulls``:
    missing values as None. Answers of one prediction convert their long table once."""
    rows = long_rows(results, name)
    if rows is None:
        return [_as_records(getattr(r, name), nulls) for r in results]
    long = Long(rows.long(), np.full(len(results), rows.k), np.ones(len(results), bool))
    return long.split(_as_records(long.frame, nulls))


def _as_records(frame: pd.DataFrame | None, nulls: bool) -> list[dict[str, Any]] | None:
    if frame is None:
        return None
    return (frame.astype(object).where(frame.notna(), None) if nulls else frame
            ).to_dict("records")


def to_json(names: Sequence[str], results: Sequence[ProvenanceResult], coverage: float,
            refused: Sequence[tuple[str, str]]) -> str:
    out = {}
    if results:
        countries = gather(results, "countries")
        assert countries is not None  # every answer has countries
        sets = countries.members("country_iso3")
        parts = {"countries": _records(results, "countries"),
                 "species": _records(results, "species"),
                 "nearest_specimens": _records(results, "specimens", nulls=True),
                 "continents": _records(results, "continents")}
        for i, (name, r) in enumerate(zip(names, results, strict=True)):
            out[name] = {
                "evidence": r.evidence, "mineral_given": r.mineral_used,
                "coverage": coverage, "set_size": r.set_size, "prediction_set": sets[i],
                "countries": parts["countries"][i], "species": parts["species"][i],
                "nearest_specimens": parts["nearest_specimens"][i],
                "library_match": r.novelty.to_json() if r.novelty is not None else None,
                "country_basis": r.country_basis, "continents": parts["continents"][i]}
    payload = {"predictions": out, "refused": [{"file": f, "reason": m} for f, m in refused]}
    return json.dumps(payload, indent=2, default=float) + "\n"


def write_outputs(path: Path, names: Sequence[str], results: Sequence[ProvenanceResult],
                  coverage: float, refused: Sequence[tuple[str, str]], top_k: int = 3
                  ) -> list[Path]:
    """Write ``path`` (.csv, .json or .parquet) and, for tables, its companions."""
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ValueError(f"--output {path}: use a {', '.join(OUTPUT_SUFFIXES)} file name")
    if suffix == ".json":
        write_text_atomic(path, to_json(names, results, coverage, refused))
        return [path]
    written = []
    for kind, df in tables(names, results, coverage, top_k).items():
        if kind == "continents" and df.empty:
            continue
        target = path if kind == "countries" else companion(path, kind)
        if suffix == ".csv":  # localities and file names are text from outside: no formulas
            write_csv_atomic(target, spreadsheet_safe(df))
        else:
            write_parquet_atomic(target, df)
        written.append(target)
    return written


def render(name: str, r: ProvenanceResult, coverage: float, top_k: int = 5) -> str:
    """One file's answer for the terminal: species, nearest specimens, countries and set."""
    fmt = {"similarity": "{:.3f}".format, "probability": "{:.3f}".format,
           "lat": "{:.2f}".format, "lon": "{:.2f}".format, "hqi": "{:.1f}".format}
    evidence = (f"spectrum and mineral name {r.mineral_used!r}" if r.mineral_used
                else "spectrum only")
    spec = r.specimens.drop(columns=["spectrum_id"]).copy()
    spec["locality"] = spec["locality"].astype(str).str.slice(0, 50)
    countries = r.countries.head(max(top_k, min(r.set_size, 15)))
    members = r.countries[r.countries["in_set"]]["country_iso3"].tolist()
    shown = ", ".join(members[:25]) + (" ..." if len(members) > 25 else "")
    basis = ("calibrated probabilities" if r.country_basis == "model"
             else f"no answer from the spectrum; the {r.country_basis}")
    return "\n".join([
        f"== {name}  (evidence: {evidence})",
        library_line(r),
        "species match (best similarity per species in the reference library; HQI 0-100):",
        r.species.to_string(index=False, formatters=fmt),
        "nearest reference specimens:",
        spec.to_string(index=False, formatters=fmt),
        f"country of origin ({basis}):",
        countries.to_string(index=False, formatters=fmt),
        f"{coverage:.0%} prediction set: {r.set_size} of {len(r.countries)} countries: {shown}",
        *continent_lines(r, coverage),
    ])


def library_line(r: ProvenanceResult) -> str:
    """The open-set verdict in words, with its score and p-value."""
    nv = r.novelty
    if nv is None:
        return "library match: not checked (model saved without novelty.json)"
    return (f"library match: {nv.verdict} (novelty score {nv.score:.4f}, threshold "
            f"{nv.threshold:.4f}; p-value {nv.p_value:.3f}: share of known-species test "
            "spectra at least as far from the library)")


def continent_lines(r: ProvenanceResult, coverage: float) -> list[str]:
    """Continent probabilities and their set, when the model has them."""
    if r.continents is None:
        return []
    c = r.continents
    probs = ", ".join(f"{n} {p:.3f}" for n, p in zip(c["continent"], c["probability"],
                                                     strict=True))
    members = ", ".join(c[c["in_set"]]["continent"])
    return [f"continent: {probs}", f"{coverage:.0%} continent set: {members}"]
