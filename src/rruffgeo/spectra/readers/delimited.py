"""Delimited text spectra: CSV, TSV, TXT with any delimiter, header lines and decimal commas.

Covers the plain exports of most instruments: Horiba LabSpec (``#Key=<tab>value`` headers,
tab-separated columns), B&W Tek (``key;value`` headers, ``;`` columns with decimal commas),
Renishaw WiRE and LightNovo text exports, and two-column CSV. A decimal comma is read only
where the delimiter is not a comma; a comma-delimited file whose columns could as well be
decimal commas (``153,56,0,00``) is refused with the reason rather than guessed.
"""

from __future__ import annotations

import csv
import re

import numpy as np

from rruffgeo.spectra.readers.units import laser_from_text, to_raman_shift
from rruffgeo.spectra.spectrum import Spectrum

#: Delimiters tried, in order; None means runs of whitespace.
DELIMITERS: tuple[str | None, ...] = ("\t", ";", ",", None)
_DECIMAL_COMMA = re.compile(r"[-+]?\d*,\d+(?:[eE][-+]?\d+)?")
_DATA_START = re.compile(r"^\s*[\"']?[-+]?(?:\d|[.,]\d)")
_X_NAMES = (r"raman\s*shift|shift", r"wave\s*number|cm-1|cm\^-1|1/cm|cm⁻¹|cm-¹",
            r"wave\s*length|\(nm\)|\bnm\b|\((?:um|µm|μm)\)")
_Y_NAMES = (r"dark\s*subtracted", r"intensity|counts|signal", r"raw")


def _split(line: str, delim: str | None) -> list[str]:
    if delim and '"' in line:
        return _split_quoted(line, delim)
    parts = line.split(delim) if delim else line.split()
    if delim and parts and not parts[-1].strip():
        parts = parts[:-1]  # a trailing delimiter (B&W Tek) is not an empty column
    return [p.strip().strip('"') for p in parts]


def _split_quoted(line: str, delim: str) -> list[str]:
    """Fields of a line with quoted fields (``"153.50","100.00"``, spreadsheet exports). A
    quoted ``"153,5"`` cannot be two columns, so its comma is a decimal mark."""
    try:
        parts = next(csv.reader([line], delimiter=delim, skipinitialspace=True))
    except (csv.Error, StopIteration):
        return [p.strip() for p in line.split(delim)]
    if parts and not parts[-1].strip():
        parts = parts[:-1]
    fields = [p.strip() for p in parts]
    if delim == ",":
        fields = [f.replace(",", ".") if _DECIMAL_COMMA.fullmatch(f) else f for f in fields]
    return fields


def _to_float(field: str, delim: str | None) -> float:
    if not field:
        return float("nan")
    if "," in field:
        if delim == "," or "." in field or not _DECIMAL_COMMA.fullmatch(field):
            raise ValueError(field)
        field = field.replace(",", ".")
    return float(field)


def _row(line: str, delim: str | None) -> list[float] | None:
    try:
        values = [_to_float(f, delim) for f in _split(line, delim)]
    except ValueError:
        return None
    return values if len(values) >= 2 and np.isfinite(values).sum() >= 1 else None


def _choose_delimiter(lines: list[str]) -> str | None:
    """The delimiter that splits most data-looking lines into >= 2 numbers."""
    candidates = [ln for ln in lines if _DATA_START.match(ln) and not ln.startswith("#")][:200]
    best, best_score = None, 0
    for delim in DELIMITERS:
        if delim and not any(delim in ln for ln in candidates):
            continue
        score = sum(_row(ln, delim) is not None for ln in candidates)
        if score > best_score:
            best, best_score = delim, score
    if best_score == 0:
        raise ValueError("no rows of two or more numbers (wavenumber, intensity)")
    return best


def _is_skippable(line: str) -> bool:
    return not line.strip() or line.lstrip().startswith("#")


def _data_start(lines: list[str], delim: str | None) -> int:
    """Index of the first row of numbers; every later row must be numbers too."""
    for i, line in enumerate(lines):
        if not _is_skippable(line) and _row(line, delim) is not None:
            return i
    raise ValueError("no rows of two or more numbers (wavenumber, intensity)")


def _headers(lines: list[str]) -> dict[str, str]:
    """``key=value``, ``key;value``, ``key<tab>value`` and ``key: value`` header lines."""
    headers: dict[str, str] = {}
    for line in lines:
        m = re.match(r"^\s*#*\s*([^=;:\t]+?)\s*(?:=\s*\t?|;|\t|:\s)\s*(.*?)\s*;?$", line)
        if m:
            headers.setdefault(m.group(1), m.group(2))
    return headers


def _pick(names: list[str], patterns: tuple[str, ...], skip: int | None = None) -> int | None:
    for pattern in patterns:
        for i, name in enumerate(names):
            if i != skip and re.search(pattern, name, re.IGNORECASE):
                return i
    return None


def _columns(header: list[str], ncols: int) -> tuple[int, int, str]:
    """(x column, y column, x unit) chosen by the column names, or 0 and 1 for two columns."""
    names = header if len(header) == ncols else []
    x = _pick(names, _X_NAMES)
    if x is None:
        if ncols == 2:
            return 0, 1, _unit_of(names[0] if names else "")
        raise ValueError(f"{ncols} numeric columns and no column named Raman shift, "
                         "wavenumber or wavelength; export two columns (shift, intensity)")
    y = _pick(names, _Y_NAMES, skip=x)
    if y is None:
        others = [i for i in range(ncols) if i != x]
        if len(others) != 1:
            raise ValueError(f"{ncols} numeric columns and no column named intensity, "
                             "counts or signal")
        y = others[0]
    return x, y, _unit_of(names[x])


_MICRONS = re.compile(r"\b(?:um|µm|μm|microns?|micromet(?:er|re)s?)\b")


def _unit_of(name: str) -> str:
    """``nm`` or ``um`` for a wavelength column (``Wavelength (um)``), else cm-1 if named."""
    low = name.lower()
    if re.search(_X_NAMES[2] + r"|" + _MICRONS.pattern, low) \
            and not re.search(_X_NAMES[0] + "|" + _X_NAMES[1], low):
        return "um" if _MICRONS.search(low) else "nm"
    return "cm-1" if name else ""


def _laser(headers: dict[str, str]) -> float | None:
    for key, value in headers.items():
        if re.search(r"laser|excitation", key, re.IGNORECASE):
            laser = laser_from_text(value)
            if laser is not None:
                return laser
    return None


def _check_comma_ambiguity(rows: list[list[float]], lines: list[str], delim: str | None,
                           header: list[str]) -> None:
    if delim != "," or any(ch in ln for ln in lines for ch in ".eE"):
        return
    ncols = len(rows[0])
    if ncols > 2 and ncols % 2 == 0 and len(header) != ncols:
        raise ValueError(f"commas are both the delimiter and perhaps decimal marks "
                         f"({lines[0].strip()!r} could be {ncols // 2} decimal numbers); "
                         "re-export with ';' or tab between columns, or '.' decimals")


#: More columns than this, with a monotonic first row, means one spectrum per row.
MIN_ROW_POINTS = 16


def row_layout(table: np.ndarray) -> int | None:
    """How many coordinate columns lead each row when spectra are stored one per row (LabSpec
    map and "spectra in rows" exports: the first row is the axis), else None."""
    if table.shape[1] <= MIN_ROW_POINTS or table.shape[0] < 2 \
            or table.shape[0] > table.shape[1]:
        return None
    first = table[0]
    lead = int(np.argmax(np.isfinite(first)))
    axis = first[lead:]
    steps = np.diff(axis)
    if lead > 2 or not np.isfinite(axis).all() or not ((steps > 0).all() or (steps < 0).all()):
        return None
    if lead and not np.isfinite(table[1:, :lead]).all():
        return None
    return lead


def _row_spectra(table: np.ndarray, lead: int, source: str, meta: dict) -> list[Spectrum]:
    shift = to_raman_shift(table[0, lead:], meta["x_units"], meta["laser_nm"], source)
    rows = table[1:]
    out = []
    for i, row in enumerate(rows, 1):
        name = source if len(rows) == 1 else f"{source}#{i}"
        coords = {"coordinates": row[:lead].tolist()} if lead else {}
        out.append(Spectrum(shift, row[lead:], {**meta, "source": name, **coords,
                                                 "layout": "spectra in rows"}))
    return out


def read_delimited(text: str, source: str, laser_nm: float | None = None) -> list[Spectrum]:
    """Spectra of delimited text (one, or one per row for map exports); ValueError naming
    ``source`` and the line otherwise."""
    lines = text.lstrip("\ufeff").splitlines()
    try:
        delim = _choose_delimiter(lines)
        start = _data_start(lines, delim)
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None
    rows: list[list[float]] = []
    data_lines: list[str] = []
    for lineno, line in enumerate(lines[start:], start + 1):
        if _is_skippable(line):
            continue
        row = _row(line, delim)
        if row is None or (rows and len(row) != len(rows[0])):
            raise ValueError(f"{source}: line {lineno}: expected {len(rows[0])} numbers "
                             f"like the rows above, got {line.strip()[:60]!r}")
        rows.append(row)
        data_lines.append(line)
    previous = [ln for ln in lines[:start] if ln.strip()]
    header = _split(previous[-1].lstrip("#"), delim) if previous else []
    table = np.asarray(rows, dtype=np.float64)
    laser = _laser(_headers(lines[:start])) or laser_nm
    meta = {"source": source, "format": "delimited text", "laser_nm": laser,
            "x_units": "", "delimiter": delim or "whitespace"}
    lead = row_layout(table)
    if lead is not None:
        return _row_spectra(table, lead, source, meta)
    try:
        _check_comma_ambiguity(rows, data_lines, delim, header)
        x_col, y_col, unit = _columns(header, len(rows[0]))
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None
    shift = to_raman_shift(table[:, x_col], unit, laser, source)
    named = [header[x_col], header[y_col]] if len(header) == len(rows[0]) else []
    return [Spectrum(shift, table[:, y_col], {**meta, "x_units": unit or "cm-1 (assumed)",
                                              "columns": named})]
