"""Read one RRUFF Raman ``.txt`` file: ``##KEY=value`` headers, then ``wavenumber, intensity`` rows.

The numeric block is parsed in one call to NumPy's C reader (``np.loadtxt``), not line by line
in Python, which is what makes ingesting tens of thousands of files take seconds. The reader is
strict where strictness protects the data (every row must hold exactly two numbers, or the file
is refused with the row named) and lenient where files in the wild differ harmlessly (CRLF or CR
line ends, comma / semicolon / tab / space separators, a column-title line, text that is not
UTF-8, headers after the data).

Nothing is thrown away silently: every header is kept (unknown keys too), the arrays are kept as
read (only sorted by wavenumber), and what was odd about the file goes into ``defects``.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Bumped whenever parsing changes what ends up in the catalog (invalidates ingest caches).
PARSER_VERSION = "3"

_NUMBER_START = re.compile(r"^[\s]*[-+]?(?:\d|\.\d|nan|inf)", re.IGNORECASE)


class RruffFormatError(ValueError):
    """A file that cannot be read as a spectrum; the message names the file and the problem."""


@dataclass
class RruffRecord:
    """One spectrum as read from a file.

    Attributes
    ----------
    headers : every ``##KEY=value`` header in file order (``KEY (2)`` for a repeated key).
    wavenumber_cm1, intensity : float64 arrays as read, sorted by wavenumber (stable).
    defects : what was odd about the file (descending or non-monotonic axis, duplicates,
        non-finite values, ...); empty when nothing was.
    encoding_repair : how the text was decoded / repaired when it was not clean UTF-8, else "".
    name : the file (or archive member) the record was read from.
    """

    headers: dict[str, str]
    wavenumber_cm1: np.ndarray
    intensity: np.ndarray
    defects: list[str] = field(default_factory=list)
    encoding_repair: str = ""
    name: str = ""


def decode_text(data: bytes, name: str = "") -> tuple[str, str]:
    """Bytes -> text, and a note of any repair ("" when the bytes were clean UTF-8).

    Tries UTF-8 (with or without BOM), UTF-16 when a BOM says so, else cp1252 (falling back to
    Latin-1, which decodes any byte). Files with NUL bytes and no UTF-16 BOM are binary.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "decoded as UTF-16 (byte-order mark)"
        except UnicodeDecodeError as exc:
            raise RruffFormatError(f"{name}: invalid UTF-16 text ({exc.reason})") from None
    if b"\x00" in data:
        raise RruffFormatError(f"{name}: binary file (contains NUL bytes), not a text spectrum")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), ""
    except UnicodeDecodeError as exc:
        where = f"byte 0x{data[exc.start]:02x} at offset {exc.start}"
        for encoding in ("cp1252", "latin-1"):
            try:
                return data.decode(encoding), f"not valid UTF-8 ({where}); decoded as {encoding}"
            except UnicodeDecodeError:
                continue
    raise AssertionError("latin-1 decodes any byte")  # pragma: no cover


def _fix_mojibake(headers: dict[str, str]) -> list[str]:
    """Repair UTF-8-read-as-cp1252 text in header values in place ("MazarrÃ³n" -> "Mazarrón").

    Uses ftfy's ``fix_encoding`` (only the encoding step, no quote or width changes); returns a
    note per repaired header.
    """
    notes: list[str] = []
    todo = [k for k, v in headers.items() if not v.isascii()]
    if not todo:
        return notes
    import ftfy  # imported lazily: most files are ASCII

    for key in todo:
        fixed = ftfy.fix_encoding(headers[key])
        if fixed != headers[key]:
            notes.append(f"mojibake fixed in ##{key}: {headers[key]!r} -> {fixed!r}")
            headers[key] = fixed
    return notes


def _add_header(headers: dict[str, str], line: str) -> tuple[str, str]:
    """Store one ``#``/``##`` line; returns its key and the key it is stored under
    (``KEY (2)`` for a repeated key)."""
    if line.startswith("##"):
        key, _, value = line[2:].partition("=")
        key, value = key.strip(), value.strip()
    else:
        key, value = "COMMENT", line.lstrip("#").strip()
    base, n = key, 2
    while key in headers:
        key = f"{base} ({n})"
        n += 1
    headers[key] = value
    return base, key


def _next_hash_line(text: str, pos: int) -> int:
    """Start of the first line from ``pos`` on that begins with '#' (or the text's length).

    Looks for '#' alone (a fast single-character scan; it is rare in data rows), then checks
    that a line end precedes it.
    """
    while True:
        i = text.find("#", pos)
        if i < 0:
            return len(text)
        if i > 0 and text[i - 1] == "\n":
            return i
        pos = i + 1


_FIELD_SEP = re.compile(r"[,;\s]+")
_REPEAT_SUFFIX = re.compile(r" \(\d+\)$")


def _is_numeric_row(line: str) -> bool:
    """Whether a line's first field is a number (a data row, not text)."""
    first = _FIELD_SEP.split(line.strip(), maxsplit=1)[0]
    try:
        float(first)
    except ValueError:
        return False
    return True


def _next_line_is_numeric(text: str, end: int) -> bool:
    """Whether the first non-blank line after the line ending at ``end`` is a data row."""
    pos = end + 1
    while pos < len(text):
        stop = text.find("\n", pos)
        stop = len(text) if stop < 0 else stop
        line = text[pos:stop]
        if line.strip():
            return not line.lstrip().startswith("#") and _is_numeric_row(line)
        pos = stop + 1
    return False


def _continues_header(line: str, text: str, end: int, last_key: str | None) -> bool:
    """Whether a text line in the header block carries on the previous header's value.

    Newer RRUFF files wrap long values (``##ORIENTATION=...`` then `` Fiducial mark ...``).
    A text line continues the header above it when it is indented or more header lines or text
    follow it; one not indented and directly followed by the numbers is a column-title line.
    """
    if last_key is None or _is_numeric_row(line):
        return False
    return line[:1] in (" ", "\t") or not _next_line_is_numeric(text, end)


def _drop_repeated_headers(headers: dict[str, str]) -> int:
    """Remove headers repeated with a value already seen for their key (a header block written
    twice); returns how many went. Repeats with another value stay, as ``KEY (2)``."""
    if not any(k.endswith(")") for k in headers):
        return 0
    seen: dict[str, set[str]] = {}
    dropped = 0
    for key in list(headers):
        base = _REPEAT_SUFFIX.sub("", key)
        values = seen.setdefault(base, set())
        if key != base and headers[key] in values:
            del headers[key]
            dropped += 1
        else:
            values.add(headers[key])
    return dropped


@dataclass
class _Layout:
    """What splitting a file into headers and numbers found."""

    headers: dict[str, str] = field(default_factory=dict)
    blocks: list[str] = field(default_factory=list)
    first_line: int = 0
    seen_end: bool = False
    ignored_after_end: int = 0
    last_key: str | None = None


def _header_line(lay: _Layout, text: str, pos: int, end: int) -> bool:
    """Take one line of the header block into ``lay``; False when it is where data start."""
    line = text[pos:end]
    stripped = line.strip()
    if stripped.startswith("#"):
        base, lay.last_key = _add_header(lay.headers, stripped)
        lay.seen_end = lay.seen_end or base.upper() == "END"
    elif not stripped:
        pass
    elif lay.seen_end:
        lay.ignored_after_end += 1
    elif _continues_header(line, text, end, lay.last_key):
        value = lay.headers[lay.last_key]  # type: ignore[index]
        lay.headers[lay.last_key] = f"{value} {stripped}" if value else stripped  # type: ignore[index]
    else:
        return False
    return True


def _layout_defects(lay: _Layout, text: str) -> list[str]:
    defects: list[str] = []
    if lay.ignored_after_end:
        defects.append(f"{lay.ignored_after_end} non-header lines after ##END= ignored")
    dropped = _drop_repeated_headers(lay.headers)
    if dropped:
        defects.append(f"{dropped} header line(s) repeated with the same value (kept once)")
    if lay.headers and not lay.seen_end:
        if not text.rstrip(" \t").endswith("\n"):
            raise RruffFormatError("truncated file: no ##END= line and the last line is cut off "
                                   "(no line end)")
        defects.append("no ##END= line (the file may be truncated)")
    return defects


def _split(text: str) -> tuple[dict[str, str], str, int, list[str]]:
    """Headers, the numeric block, the block's first line number and defects of the layout.

    Header lines (with their continuation lines) and runs of data rows may alternate; the data
    start at the first numeric row, and each run goes on up to the next line starting with '#'.
    """
    lay = _Layout()
    n = len(text)
    pos, line_no = 0, 1
    while pos < n:
        end = text.find("\n", pos)
        end = n if end < 0 else end
        if _header_line(lay, text, pos, end):
            pos, line_no = end + 1, line_no + 1
            continue
        stop = _next_hash_line(text, pos)
        lay.first_line = lay.first_line or line_no
        lay.blocks.append(text[pos:stop])
        pos = stop
    return lay.headers, "".join(lay.blocks), lay.first_line, _layout_defects(lay, text)


def _delimiter(first: str) -> str | None:
    if "," in first:
        return ","
    if ";" in first:
        return ";"
    return None  # any whitespace


_CONVERT_RE = re.compile(r"could not convert string (.*) to float64 at row (\d+), column (\d+)")
_COLUMNS_RE = re.compile(r"number of columns changed from (\d+) to (\d+) at row (\d+)")


def _describe_loadtxt_error(msg: str, first_line: int) -> str:
    """NumPy's loadtxt message -> one naming the file line (loadtxt counts data rows)."""
    m = _CONVERT_RE.search(msg)
    if m:
        line = first_line + int(m.group(2))
        return f"malformed number {m.group(1).strip()} in column {m.group(3)} at line {line}"
    m = _COLUMNS_RE.search(msg)
    if m:
        line = first_line + int(m.group(3)) - 1
        return (f"truncated or malformed row at line {line}: {m.group(2)} value(s) where the rows "
                f"before have {m.group(1)}")
    return f"malformed data ({msg.rstrip('.')}; data starts at line {first_line})"


def _block_start(block: str, name: str, first_line: int) -> tuple[str, int, list[str], str | None]:
    """The numeric block without a column-title line, its first line number, defects, delimiter."""
    defects: list[str] = []
    stripped = block.lstrip()
    if not stripped:
        raise RruffFormatError(f"{name}: no data rows (headers only)")
    nl = stripped.find("\n")
    first = stripped if nl < 0 else stripped[:nl]
    if not _NUMBER_START.match(first):
        # A column-title line ("Wavenumber, Intensity") before the numbers.
        if nl < 0 or not stripped[nl + 1 :].strip():
            raise RruffFormatError(f"{name}: no numeric data rows (first line {first.strip()!r})")
        defects.append(f"column-title line {first.strip()!r} skipped")
        stripped = stripped[nl + 1 :].lstrip()
        nl = stripped.find("\n")
        first = stripped if nl < 0 else stripped[:nl]
        first_line += 1
    return stripped, first_line, defects, _delimiter(first)


def _load_block(stripped: str, delim: str | None, name: str, first_line: int) -> np.ndarray:
    """The strict per-file reader: ``np.loadtxt``, every row exactly two numbers."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = np.loadtxt(io.StringIO(stripped), delimiter=delim, comments="#",
                             dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise RruffFormatError(f"{name}: {_describe_loadtxt_error(str(exc), first_line)}") from None
    if arr.shape[0] == 0:
        raise RruffFormatError(f"{name}: no data rows")
    if arr.shape[1] != 2:
        raise RruffFormatError(
            f"{name}: expected 2 columns (wavenumber, intensity), found {arr.shape[1]}"
        )
    return arr


def _parse_block(block: str, name: str, first_line: int) -> tuple[np.ndarray, list[str]]:
    stripped, first_line, defects, delim = _block_start(block, name, first_line)
    return _load_block(stripped, delim, name, first_line), defects


def _axis_defects(w: np.ndarray, y: np.ndarray) -> list[str]:
    defects: list[str] = []
    bad_w = int(np.count_nonzero(~np.isfinite(w)))
    bad_y = int(np.count_nonzero(~np.isfinite(y)))
    if bad_w:
        defects.append(f"{bad_w} non-finite wavenumbers (NaN/inf)")
    if bad_y:
        defects.append(f"{bad_y} non-finite intensities (NaN/inf)")
    neg = int(np.count_nonzero(w < 0))
    if neg:
        defects.append(f"{neg} negative wavenumbers")
    if w.size == 1:
        defects.append("only 1 data point")
    return defects


@dataclass
class _Prepared:
    """A file split into headers and its numeric block, before the numbers are parsed."""

    text: str
    headers: dict[str, str]
    block: str
    first_line: int
    defects: list[str]
    delim: str | None
    encoding_repair: str


def _prepare(text: str, name: str, encoding_repair: str) -> _Prepared:
    # NumPy's reader takes CRLF as it is; lone CRs (old Mac files, or mixed line ends, which
    # the reader reports as an embedded newline) are converted, which costs a copy.
    if "\r" in text and "\n" not in text:
        text = text.replace("\r", "\n")
    try:
        headers, block, first_line, defects = _split(text)
    except RruffFormatError as exc:
        raise RruffFormatError(f"{name}: {exc}") from None
    stripped, first_line, block_defects, delim = _block_start(block, name, first_line)
    return _Prepared(text, headers, stripped, first_line, defects + block_defects, delim,
                     encoding_repair)


def _finish(prep: _Prepared, w: np.ndarray, y: np.ndarray, name: str,
            checked: bool = False) -> RruffRecord:
    """The record of prepared headers and parsed columns.

    ``checked``: the columns are known to be finite, non-negative, strictly increasing and
    longer than one point (``parse_rruff_batch`` checks that for a whole batch at once), so
    there are no axis defects to look for.
    """
    defects = list(prep.defects)
    if not checked:
        defects += _axis_defects(w, y)
        if w.size > 1:
            d = np.diff(w)
            if not np.all(d > 0):
                dec = int(np.count_nonzero(d < 0))
                if dec == d.size:
                    defects.append("wavenumbers in descending order (sorted)")
                elif dec:
                    defects.append(f"non-monotonic wavenumbers ({dec} decreases; sorted)")
                order = np.argsort(w, kind="stable")
                w, y = w[order], y[order]
                dup = int(np.count_nonzero(np.diff(w) == 0))
                if dup:
                    defects.append(f"{dup} duplicate wavenumbers")
    headers = prep.headers
    repairs = [prep.encoding_repair] if prep.encoding_repair else []
    if not prep.text.isascii():  # O(1) for a str; ASCII text holds no mojibake
        repairs += _fix_mojibake(headers)
    return RruffRecord(headers=headers, wavenumber_cm1=w, intensity=y, defects=defects,
                       encoding_repair="; ".join(repairs), name=name)


def _record_from_prepared(prep: _Prepared, name: str) -> RruffRecord:
    """The strict per-file path: ``np.loadtxt`` on the block."""
    try:
        arr = _load_block(prep.block, prep.delim, name, prep.first_line)
    except RruffFormatError as exc:
        if "embedded newline" in str(exc) and "\r" in prep.text:
            return record_from_text(prep.text.replace("\r\n", "\n").replace("\r", "\n"), name,
                                    prep.encoding_repair)
        raise
    return _finish(prep, np.ascontiguousarray(arr[:, 0]), np.ascontiguousarray(arr[:, 1]), name)


def record_from_text(text: str, name: str, encoding_repair: str = "") -> RruffRecord:
    """Parse decoded text (see ``parse_rruff_bytes``)."""
    return _record_from_prepared(_prepare(text, name, encoding_repair), name)


def parse_rruff_bytes(data: bytes, name: str = "<bytes>") -> RruffRecord:
    """Parse the bytes of one RRUFF file; ``name`` is used in messages.

    Raises
    ------
    RruffFormatError
        Empty or binary file, no data rows, a malformed or truncated row, not two columns.
    """
    if not data.strip():
        raise RruffFormatError(f"{name}: empty file")
    text, repair = decode_text(data, name)
    return record_from_text(text, name, repair)


#: Bytes a block may hold to go through the bulk reader (anything else: the per-file reader).
_BULK_CHARS = b"0123456789.eE+-, \r\n"


def _bulk_block(prep: _Prepared) -> bytes | None:
    """The block as bytes for the bulk reader, or None when it needs the per-file reader.

    Only plain comma-separated numbers qualify. Lone CRs, blank lines and rows of other than two
    fields make the bulk reader fail or find more rows than the blocks' line ends (it checks),
    and the batch then goes through the per-file reader.
    """
    if prep.delim != "," or not prep.block.isascii():
        return None
    b = prep.block.rstrip().encode("ascii")
    if b.translate(None, _BULK_CHARS):
        return None
    return b


def _bulk_parse(blocks: list[bytes]) -> tuple[np.ndarray, np.ndarray] | None:
    """All blocks in one call to Arrow's CSV reader (C++, correctly rounded like ``np.loadtxt``);
    None when anything in them is not two plain numbers per row."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    buf = b"".join(blocks)
    try:
        table = pacsv.read_csv(
            pa.BufferReader(buf),
            read_options=pacsv.ReadOptions(column_names=["w", "y"], use_threads=False,
                                           block_size=max(1 << 20, len(buf) + 1)),
            parse_options=pacsv.ParseOptions(delimiter=",", quote_char=False,
                                             double_quote=False, escape_char=False,
                                             newlines_in_values=False,
                                             ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={"w": pa.float64(), "y": pa.float64()}, null_values=[],
                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowException):
        return None
    if table.num_columns != 2 or table.column("w").null_count or table.column("y").null_count:
        return None
    return (table.column("w").to_numpy().astype(np.float64, copy=False),
            table.column("y").to_numpy().astype(np.float64, copy=False))


def parse_rruff_batch(items: list[tuple[bytes, str]]) -> list[RruffRecord | RruffFormatError]:
    """Parse many files at once: ``(bytes, name)`` -> a record or the error, in order.

    Gives the same records and errors as ``parse_rruff_bytes`` on each file, faster: headers are
    split per file, but the numbers of all plain comma-separated blocks are parsed by one call
    to a C++ reader, and the axis checks run over the concatenated arrays. When the bulk reader
    refuses anything (a malformed row, a row count that does not match the line count), the
    batch's files go through the strict per-file reader, whose errors name the file and line.
    """
    out: list[RruffRecord | RruffFormatError | None] = [None] * len(items)
    bulk: list[tuple[int, _Prepared]] = []
    blocks: list[bytes] = []
    rows: list[int] = []
    slow: list[tuple[int, _Prepared]] = []
    for k, (data, name) in enumerate(items):
        try:
            if not data.strip():
                raise RruffFormatError(f"{name}: empty file")
            text, repair = decode_text(data, name)
            prep = _prepare(text, name, repair)
        except RruffFormatError as exc:
            out[k] = exc
            continue
        b = _bulk_block(prep)
        if b is None:
            slow.append((k, prep))
        else:
            bulk.append((k, prep))
            blocks += (b, b"\n")
            rows.append(b.count(b"\n") + 1)
    parsed = _bulk_parse(blocks) if blocks else None
    if parsed is not None and parsed[0].size != sum(rows):
        parsed = None  # a lone CR somewhere (one more row than line ends)
    if parsed is None:
        slow += bulk
    else:
        w_all, y_all = parsed
        n = np.asarray(rows, dtype=np.int64)
        starts = np.zeros(n.size, dtype=np.int64)
        np.cumsum(n[:-1], out=starts[1:])
        # Files with finite, non-negative, strictly increasing axes of 2+ points have no axis
        # defects to describe; the others go through the per-file checks.
        good = np.isfinite(w_all) & np.isfinite(y_all) & (w_all >= 0)
        good[1:] &= w_all[1:] > w_all[:-1]
        good[starts] = np.isfinite(w_all[starts]) & np.isfinite(y_all[starts]) & (
            w_all[starts] >= 0)
        clean = np.logical_and.reduceat(good, starts) & (n > 1)
        for (k, prep), s0, m, ok in zip(bulk, starts.tolist(), rows, clean.tolist(),
                                        strict=True):
            name = items[k][1]
            out[k] = _finish(prep, w_all[s0:s0 + m], y_all[s0:s0 + m], name, checked=ok)
    for k, prep in slow:
        try:
            out[k] = _record_from_prepared(prep, items[k][1])
        except RruffFormatError as exc:
            out[k] = exc
    return out  # type: ignore[return-value]


def read_rruff_file(path: str | os.PathLike[str]) -> RruffRecord:
    """Read one RRUFF ``.txt`` file (or any two-column Raman text file).

    Raises
    ------
    RruffFormatError
        When the file cannot be read as a spectrum; the message names the file and the problem.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise RruffFormatError(f"{p}: cannot read file ({exc.strerror or exc})") from None
    return parse_rruff_bytes(data, str(p))


__all__ = [
    "PARSER_VERSION",
    "RruffFormatError",
    "RruffRecord",
    "decode_text",
    "parse_rruff_batch",
    "parse_rruff_bytes",
    "read_rruff_file",
    "record_from_text",
]
