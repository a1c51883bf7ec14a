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
import select
import shutil
import struct
import threading
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rruffgeo.data.lasers import laser_line_nm
from rruffgeo.data.naming import FileNameInfo, base_rruff_id, kind_of, parse_file_name
from rruffgeo.data.rruff_file import RruffRecord, parse_rruff_batch
from rruffgeo.data.sources import (
    MAX_MEMBER_BYTES,
    ZIP_READ_ERRORS,
    ZipMember,
    member_label,
    zip_read_reason,
)

try:  # ISA-L's inflate is 2-3x faster than zlib's; same results, checked by CRC below
    from isal import isal_zlib as _inflate_lib
except ImportError:  # pragma: no cover - isal is a dependency, but zlib does the same job
    _inflate_lib = zlib  # type: ignore[assignment]

#: Scalar catalog columns in order (the spectra columns follow them).
SCALAR_COLUMNS: tuple[str, ...] = (
    "spectrum_id", "specimen_id", "sample_id", "mineral", "locality", "kind", "laser_nm",
    "laser_line_nm", "orientation", "orientation_angle_deg", "orientation_rotation",
    "polarization", "category", "source",
    "member", "n_points", "wavenumber_min_cm1", "wavenumber_max_cm1",
    "wavenumber_step_median_cm1", "headers_json", "defects", "encoding_repair",
    "file_name_id", "file_id",
)
FLOAT_COLUMNS = frozenset({"laser_nm", "laser_line_nm", "orientation_angle_deg",
                           "wavenumber_min_cm1", "wavenumber_max_cm1",
                           "wavenumber_step_median_cm1"})
INT_COLUMNS = frozenset({"n_points"})

_NUMBER = re.compile(r"[-+]?\d+(?:\.\d*)?")

#: Peak memory of parsing, per byte of file text: the bytes, the decoded text, the bulk
#: reader's copy and buffers, the arrays. Measured 6.2x on 20 MB members (peak RSS); rounded up.
MEMORY_PER_TEXT_BYTE = 8


def text_budget(worker_memory_mb: int) -> int:
    """Bytes of file text a worker holds at once (and the largest file it reads) so that its
    memory stays within ``worker_memory_mb``."""
    return max(1, worker_memory_mb * 1024 * 1024 // MEMORY_PER_TEXT_BYTE)


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
                 info: FileNameInfo) -> tuple[str, float, str, str]:
    """Orientation class, angle, rotation and polarisation: the zip's category first, then
    name and headers."""
    if category.endswith("_unoriented") or info.orientation == "unoriented":
        return "unoriented", math.nan, "", ""
    if category.endswith("_oriented") or info.orientation == "oriented" or "ORIENTATION" in headers:
        return ("oriented", info.orientation_angle_deg, info.orientation_rotation,
                info.polarization)
    return "", math.nan, "", ""


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
    orientation, angle, rotation, polarization = _orientation(category, h, info)
    laser = _laser(h, info)
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
        "laser_nm": laser,
        "laser_line_nm": laser_line_nm(laser),
        "orientation": orientation,
        "orientation_angle_deg": angle,
        "orientation_rotation": rotation,
        "polarization": polarization,
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


def _inflate_member(raw: io.BufferedReader, info: zipfile.ZipInfo,
                    max_bytes: int = MAX_MEMBER_BYTES) -> bytes | None:
    """A deflated member read and inflated in one call (no streaming), or None where the
    member is anything else or does not check out (``zipfile`` then reads it, and names the
    problem). The output is bounded by the size the directory states, and its CRC checked."""
    if (info.compress_type != zipfile.ZIP_DEFLATED or info.flag_bits & 0x1
            or info.file_size > max_bytes):
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


class _TooLarge(Exception):
    """A file holds more text than a worker may read at once."""


def _read_member(zf: zipfile.ZipFile, raw: io.BufferedReader, info: zipfile.ZipInfo,
                 max_bytes: int = MAX_MEMBER_BYTES) -> bytes:
    """One member's bytes (never more than ``max_bytes + 1`` of them read)."""
    data = _inflate_member(raw, info, max_bytes)
    if data is None:
        with zf.open(info) as fh:
            data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _TooLarge(f"member too large (over {max_bytes} bytes uncompressed)")
    return data


class _Batches:
    """Files read for parsing, parsed in batches of at most ``max_bytes`` of text: memory
    stays bounded whatever a chunk holds."""

    def __init__(self, out: ChunkResult, source: str, prefix: str, max_bytes: int) -> None:
        self.out, self.source, self.prefix, self.max_bytes = out, source, prefix, max_bytes
        self.read: list[tuple[bytes, str, str]] = []
        self.categories: list[str] = []
        self.n_bytes = 0

    def make_room(self, size: int) -> None:
        """Parse what is held when ``size`` more bytes would go over the budget."""
        if self.read and self.n_bytes + size > self.max_bytes:
            self.flush()

    def add(self, data: bytes, name: str, where: str, category: str) -> None:
        self.make_room(len(data))
        self.read.append((data, name, where))
        self.categories.append(category)
        self.n_bytes += len(data)

    def flush(self) -> None:
        _parse_read(self.out, self.read, self.source, self.prefix, self.categories)
        self.read, self.categories, self.n_bytes = [], [], 0


def _parse_read(out: ChunkResult, read: list[tuple[bytes, str, str]], source: str,
                prefix: str, categories: list[str]) -> None:
    """Parse files read as ``(bytes, name, reject label)`` in one batch; rows or rejects."""
    results = parse_rruff_batch([(data, name) for data, name, _ in read])
    for (_, name, where), category, res in zip(read, categories, results, strict=True):
        if isinstance(res, RruffRecord):
            add_record(out, res, name, category, source, prefix)
        else:
            out.rejects.append((where, _reason(res, name)))


def _zip_info(zf: zipfile.ZipFile, member: ZipMember) -> zipfile.ZipInfo:
    """The directory entry of a listed member: by its place, since two may share a name."""
    infos = zf.infolist()
    if member.index < len(infos) and infos[member.index].filename == member.name:
        return infos[member.index]
    raise zipfile.BadZipFile(f"member {member.name!r} not found where it was listed")


def parse_zip_chunk(zip_path: str, members: list[ZipMember], category: str,
                    max_bytes: int = MAX_MEMBER_BYTES) -> ChunkResult:
    """Parse some members of one zip, holding at most ``max_bytes`` of text at once."""
    out = ChunkResult()
    zf, raw = _zip(zip_path)
    batches = _Batches(out, zip_path, Path(zip_path).stem, max_bytes)
    for member in members:
        out.n_files += 1
        where = member_label(zip_path, member.name)
        try:
            info = _zip_info(zf, ZipMember(*member))
            batches.make_room(info.file_size)
            data = _read_member(zf, raw, info, max_bytes)
        except _TooLarge as exc:
            out.rejects.append((where, str(exc)))
            continue
        except (*ZIP_READ_ERRORS, OSError, ValueError) as exc:
            out.rejects.append((where, zip_read_reason(exc)))
            continue
        batches.add(data, member.name, where, category)
    batches.flush()
    return out


def _read_file(path: str, max_bytes: int) -> bytes:
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _TooLarge(f"file too large (over {max_bytes} bytes)")
    return data


def parse_files_chunk(root: str, rel_paths: list[str], categories: list[str],
                      max_bytes: int = MAX_MEMBER_BYTES) -> ChunkResult:
    """Parse some loose text files under one folder, holding at most ``max_bytes`` of text at
    once."""
    out = ChunkResult()
    batches = _Batches(out, root, Path(root).name, max_bytes)
    for rel, category in zip(rel_paths, categories, strict=True):
        out.n_files += 1
        path = os.path.join(root, rel)
        try:
            data = _read_file(path, max_bytes)
        except _TooLarge as exc:
            out.rejects.append((path, str(exc)))
            continue
        except OSError as exc:
            out.rejects.append((path, f"cannot read file: {exc.strerror or exc}"))
            continue
        batches.add(data, rel, path, category)
    batches.flush()
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


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (one of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


def _wait_for_exit(pid: int) -> None:
    """Return once process ``pid`` has ended: a pidfd where Linux has one (no polling, and no
    confusion with a later process given the same id), else a check every second."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except (AttributeError, OSError):
        while process_alive(pid):
            time.sleep(1.0)
        return
    try:
        select.select([fd], [], [])  # readable once the process has ended
    finally:
        os.close(fd)


def _exit_with(pid: int, spool_dir: str | None) -> None:
    _wait_for_exit(pid)
    if spool_dir:
        shutil.rmtree(spool_dir, ignore_errors=True)
    os._exit(1)


def watch_parent(parent_pid: int, spool_dir: str | None = None) -> None:
    """Initializer of worker processes: when the ingesting process dies (kill -9 included),
    remove the spool and exit, instead of waiting for tasks forever (which also keeps the
    forkserver, whose life the workers hold, running)."""
    threading.Thread(target=_exit_with, args=(parent_pid, spool_dir), daemon=True,
                     name="rruffgeo-parent-watch").start()


def run_task(task: tuple, spool_dir: str | None = None) -> ChunkResult:
    """Entry point of worker processes: ``(kind, path, names, category_or_categories
    [, max_bytes])``; with ``spool_dir`` the rows are written there (see ``_spool``)."""
    kind, path, names, cats, *rest = task
    max_bytes = rest[0] if rest else MAX_MEMBER_BYTES
    t0 = time.process_time()
    if kind == "zip":
        out = parse_zip_chunk(path, names, cats, max_bytes)
    else:
        out = parse_files_chunk(path, names, cats, max_bytes)
    out.flat()  # concatenate here, in the worker: fewer, larger arrays to send back
    if spool_dir is not None:
        _spool(out, spool_dir)
    out.cpu_s = time.process_time() - t0
    return out
