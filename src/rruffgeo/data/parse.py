"""Turn files into catalog rows; the part of ingestion that runs in worker processes.

Kept free of pandas / pyarrow imports so that worker processes start quickly. A chunk of files
becomes one ``ChunkResult``: column lists of scalars plus the spectra concatenated into two flat
arrays (cheap to send between processes), and the rejects.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import struct
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rruffgeo.data.naming import FileNameInfo, base_rruff_id, kind_of, parse_file_name
from rruffgeo.data.rruff_file import RruffRecord, parse_rruff_batch
from rruffgeo.data.sources import MAX_MEMBER_BYTES, member_label

try:  # ISA-L's inflate is 2-3x faster than zlib's; same results, checked by CRC below
    from isal import isal_zlib as _inflate_lib
except ImportError:  # pragma: no cover - isal is a dependency, but zlib does the same job
    _inflate_lib = zlib  # type: ignore[assignment]

#: Scalar catalog columns in order (the spectra columns follow them).
SCALAR_COLUMNS: tuple[str, ...] = (
    "spectrum_id", "specimen_id", "sample_id", "mineral", "locality", "kind", "laser_nm",
    "orientation", "orientation_angle_deg", "orientation_rotation", "category", "source",
    "member", "n_points", "wavenumber_min_cm1", "wavenumber_max_cm1",
    "wavenumber_step_median_cm1", "headers_json", "defects", "encoding_repair",
    "file_name_id", "file_id",
)
FLOAT_COLUMNS = frozenset({"laser_nm", "orientation_angle_deg", "wavenumber_min_cm1",
                           "wavenumber_max_cm1", "wavenumber_step_median_cm1"})
INT_COLUMNS = frozenset({"n_points"})

_NUMBER = re.compile(r"[-+]?\d+(?:\.\d*)?")


@dataclass
class ChunkResult:
    """Rows of one chunk of files; spectra flattened (``lengths`` splits them)."""

    columns: dict[str, list] = field(default_factory=lambda: {c: [] for c in SCALAR_COLUMNS})
    wavenumber: list[np.ndarray] = field(default_factory=list)
    intensity: list[np.ndarray] = field(default_factory=list)
    rejects: list[tuple[str, str]] = field(default_factory=list)
    n_files: int = 0
    #: CPU seconds the chunk took (where it ran), for the benchmark's accounting.
    cpu_s: float = 0.0
    #: Where a worker wrote the rows (Arrow IPC) instead of sending them back; "" when not.
    spool_path: str = ""
    _flat: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def flat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Lengths and the concatenated wavenumbers and intensities (computed once)."""
        if self._flat is None:
            lengths = np.array([a.size for a in self.wavenumber], dtype=np.int64)
            w = np.concatenate(self.wavenumber) if self.wavenumber else np.empty(0)
            y = np.concatenate(self.intensity) if self.intensity else np.empty(0)
            self._flat = (lengths, w, y)
            self.wavenumber, self.intensity = [], []
        return self._flat


def _laser(headers: dict[str, str], info: FileNameInfo) -> float:
    m = _NUMBER.search(headers.get("RAMAN WAVELENGTH", ""))
    return float(m.group(0)) if m else info.laser_nm


def _orientation(category: str, headers: dict[str, str],
                 info: FileNameInfo) -> tuple[str, float, str]:
    """Orientation class, angle and rotation: the zip's category first, then name and headers."""
    if category.endswith("_unoriented") or info.orientation == "unoriented":
        return "unoriented", math.nan, ""
    if category.endswith("_oriented") or info.orientation == "oriented" or "ORIENTATION" in headers:
        return "oriented", info.orientation_angle_deg, info.orientation_rotation
    return "", math.nan, ""


def _ids(headers: dict[str, str], info: FileNameInfo, defects: list[str]) -> tuple[str, str]:
    """specimen_id, sample_id: ``##RRUFFID`` is the authority over the file name."""
    hid = headers.get("RRUFFID", "").strip()
    name_id = info.rruff_id
    if hid:
        specimen = base_rruff_id(hid)
        if name_id and base_rruff_id(name_id) == specimen and name_id.startswith(hid):
            return specimen, name_id
        if name_id and base_rruff_id(name_id) != specimen:
            defects.append(f"file name ID {name_id} differs from ##RRUFFID={hid} (header used)")
        return specimen, hid
    if name_id:
        defects.append("no ##RRUFFID header (ID taken from the file name)")
        return base_rruff_id(name_id), name_id
    defects.append("no RRUFF ID (no ##RRUFFID header, file name not in RRUFF naming)")
    return "", ""


def add_record(out: ChunkResult, rec: RruffRecord, member: str, category: str, source: str,
               prefix: str) -> None:
    """Append the catalog row of one parsed file."""
    info = parse_file_name(member)
    h = rec.headers
    defects = list(rec.defects)
    specimen, sample = _ids(h, info, defects)
    mineral = h.get("NAMES", "").strip() or info.mineral
    kind = kind_of(h.get("FILETYPE", "")) or info.kind or "unknown"
    orientation, angle, rotation = _orientation(category, h, info)
    w = rec.wavenumber_cm1
    n = int(w.size)
    finite = w if "non-finite wavenumbers" not in " ".join(defects) else w[np.isfinite(w)]
    row = {
        "spectrum_id": f"{category or prefix}/{member}",
        "specimen_id": specimen,
        "sample_id": sample,
        "mineral": mineral,
        "locality": h.get("LOCALITY", "").strip(),
        "kind": kind,
        "laser_nm": _laser(h, info),
        "orientation": orientation,
        "orientation_angle_deg": angle,
        "orientation_rotation": rotation,
        "category": category,
        "source": source,
        "member": member,
        "n_points": n,
        # ``w`` is sorted: the ends are the range.
        "wavenumber_min_cm1": float(finite[0]) if finite.size else math.nan,
        "wavenumber_max_cm1": float(finite[-1]) if finite.size else math.nan,
        "wavenumber_step_median_cm1": _median_step(finite),
        "headers_json": json.dumps(h, ensure_ascii=False),
        "defects": "; ".join(defects),
        "encoding_repair": rec.encoding_repair,
        "file_name_id": info.rruff_id,
        "file_id": info.file_id,
    }
    for c in SCALAR_COLUMNS:
        out.columns[c].append(row[c])
    out.wavenumber.append(w)
    out.intensity.append(rec.intensity)


def _median_step(w: np.ndarray) -> float:
    """Median spacing of a sorted axis (np.median without its per-call overhead)."""
    if w.size < 2:
        return math.nan
    d = np.diff(w)
    k = d.size // 2
    if d.size % 2:
        return float(np.partition(d, k)[k])
    part = np.partition(d, (k - 1, k))
    return float((part[k - 1] + part[k]) / 2)


_OPEN_ZIPS: dict[str, tuple[zipfile.ZipFile, io.BufferedReader]] = {}


def _zip(path: str) -> tuple[zipfile.ZipFile, io.BufferedReader]:
    """One open handle per zip and process (reading the central directory once), and a raw
    handle to read compressed members with.

    Keyed by size and modification time too, so a zip replaced since it was opened is re-read.
    """
    st = os.stat(path)
    key = f"{path}\0{st.st_size}\0{st.st_mtime_ns}"
    handles = _OPEN_ZIPS.get(key)
    if handles is None:
        for old in [k for k in _OPEN_ZIPS if k.startswith(path + "\0")]:
            for h in _OPEN_ZIPS.pop(old):
                h.close()
        handles = _OPEN_ZIPS[key] = (zipfile.ZipFile(path), open(path, "rb"))  # noqa: SIM115
    return handles


_LOCAL_HEADER = struct.Struct("<4s22xHH")


def _inflate_member(raw: io.BufferedReader, info: zipfile.ZipInfo) -> bytes | None:
    """A deflated member read and inflated in one call (no streaming), or None where the
    member is anything else or does not check out (``zipfile`` then reads it, and names the
    problem). The output is bounded by the size the directory states, and its CRC checked."""
    if (info.compress_type != zipfile.ZIP_DEFLATED or info.flag_bits & 0x1
            or info.file_size > MAX_MEMBER_BYTES):
        return None
    raw.seek(info.header_offset)
    head = raw.read(_LOCAL_HEADER.size)
    if len(head) != _LOCAL_HEADER.size:
        return None
    sig, n_name, n_extra = _LOCAL_HEADER.unpack(head)
    if sig != b"PK\x03\x04":
        return None
    raw.seek(n_name + n_extra, os.SEEK_CUR)
    comp = raw.read(info.compress_size)
    try:
        d = _inflate_lib.decompressobj(-15)
        data = d.decompress(comp, info.file_size + 1)
    except Exception:  # noqa: BLE001 - any failure: let zipfile read it and name the problem
        return None
    if (len(data) != info.file_size or not d.eof or d.unconsumed_tail
            or _inflate_lib.crc32(data) != info.CRC):
        return None
    return data


def _read_member(zf: zipfile.ZipFile, raw: io.BufferedReader, member: str) -> bytes:
    info = zf.getinfo(member)
    data = _inflate_member(raw, info)
    if data is None:
        with zf.open(info) as fh:
            data = fh.read(MAX_MEMBER_BYTES + 1)
    return data


def _parse_read(out: ChunkResult, read: list[tuple[bytes, str, str]], source: str,
                prefix: str, categories: list[str]) -> None:
    """Parse files read as ``(bytes, name, reject label)`` in one batch; rows or rejects."""
    results = parse_rruff_batch([(data, name) for data, name, _ in read])
    for (_, name, where), category, res in zip(read, categories, results, strict=True):
        if isinstance(res, RruffRecord):
            add_record(out, res, name, category, source, prefix)
        else:
            out.rejects.append((where, _reason(res, name)))


def parse_zip_chunk(zip_path: str, members: list[str], category: str) -> ChunkResult:
    """Parse some members of one zip."""
    out = ChunkResult()
    zf, raw = _zip(zip_path)
    read: list[tuple[bytes, str, str]] = []
    for member in members:
        out.n_files += 1
        where = member_label(zip_path, member)
        try:
            data = _read_member(zf, raw, member)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError,
                NotImplementedError) as exc:
            out.rejects.append((where, f"corrupt zip member: {exc}"))
            continue
        read.append((data, member, where))
    _parse_read(out, read, zip_path, Path(zip_path).stem, [category] * len(read))
    return out


def parse_files_chunk(root: str, rel_paths: list[str], categories: list[str]) -> ChunkResult:
    """Parse some loose text files under one folder."""
    out = ChunkResult()
    read: list[tuple[bytes, str, str]] = []
    cats: list[str] = []
    for rel, category in zip(rel_paths, categories, strict=True):
        out.n_files += 1
        path = os.path.join(root, rel)
        try:
            with open(path, "rb") as fh:
                data = fh.read(MAX_MEMBER_BYTES + 1)
        except OSError as exc:
            out.rejects.append((path, f"cannot read file: {exc.strerror or exc}"))
            continue
        if len(data) > MAX_MEMBER_BYTES:
            out.rejects.append((path, f"file too large (> {MAX_MEMBER_BYTES} bytes)"))
            continue
        read.append((data, rel, path))
        cats.append(category)
    _parse_read(out, read, root, Path(root).name, cats)
    return out


def catalog_schema():  # -> pa.Schema (pyarrow is imported lazily: see the module docstring)
    """The catalog's columns: the scalar columns, then the two spectra list columns."""
    import pyarrow as pa

    cols = []
    for c in SCALAR_COLUMNS:
        t = pa.float64() if c in FLOAT_COLUMNS else pa.int64() if c in INT_COLUMNS else pa.string()
        cols.append(pa.field(c, t))
    cols += [pa.field("wavenumber_cm1", pa.list_(pa.float64())),
             pa.field("intensity", pa.list_(pa.float64()))]
    return pa.schema(cols)


def record_batch(result: ChunkResult, schema=None):  # -> pa.RecordBatch
    """One chunk's rows as an Arrow batch; the spectra arrays are wrapped, not copied."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    schema = schema if schema is not None else catalog_schema()
    if result.spool_path:
        with pa.memory_map(result.spool_path) as source:
            return ipc.open_file(source).get_batch(0)
    arrays = [pa.array(result.columns[c], type=schema.field(c).type) for c in SCALAR_COLUMNS]
    lengths, w, y = result.flat()
    offsets = np.zeros(lengths.size + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    for flat in (w, y):
        arrays.append(pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, pa.float64())))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _spool(out: ChunkResult, spool_dir: str) -> None:
    """Write the chunk's rows to an Arrow IPC file and drop them from ``out``.

    A worker that sends megabytes of arrays back through a pipe waits for the main process to
    read them, chunk by chunk; on a loaded machine each of those hand-overs waits for the
    scheduler. A file (in the page cache) needs no hand-over; the main process maps it.
    """
    import pyarrow as pa
    import pyarrow.ipc as ipc

    batch = record_batch(out)
    path = os.path.join(spool_dir, f"{os.getpid()}-{time.monotonic_ns()}.arrow")
    try:
        with pa.OSFile(path, "wb") as sink, ipc.new_file(sink, batch.schema) as writer:
            writer.write_batch(batch)
    except (OSError, pa.ArrowException):  # no room: send the rows back instead
        if os.path.exists(path):
            os.unlink(path)
        return
    out.spool_path = path
    out.columns = {c: [] for c in SCALAR_COLUMNS}
    out._flat = None


def _reason(exc: Exception, name: str) -> str:
    """The error message without the leading file name (rejects have a file column)."""
    msg = str(exc)
    return msg[len(name) + 2:] if msg.startswith(f"{name}: ") else msg


def run_task(task: tuple, spool_dir: str | None = None) -> ChunkResult:
    """Entry point of worker processes: ``(kind, path, names, category_or_categories)``;
    with ``spool_dir`` the rows are written there (see ``_spool``)."""
    kind, path, names, cats = task
    t0 = time.process_time()
    out = parse_zip_chunk(path, names, cats) if kind == "zip" else parse_files_chunk(
        path, names, cats)
    out.flat()  # concatenate here, in the worker: fewer, larger arrays to send back
    if spool_dir is not None:
        _spool(out, spool_dir)
    out.cpu_s = time.process_time() - t0
    return out
