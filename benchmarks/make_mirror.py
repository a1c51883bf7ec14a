"""Write a full-size RRUFF mirror from the shared files, N times over, for the scale benchmark.

    python benchmarks/make_mirror.py N OUT [--data ../shared/rruff] [--seed 0]

OUT gets one zip per zip of the source folder (same names, so it is laid out like the official
download folder), each holding N copies of every RRUFF ``.txt`` member. Copy 0 is the original
file byte for byte; copy k >= 1 is a new specimen: every RRUFF ID gets the copy number in front
of its digits (``R060791`` -> ``R03060791`` for k = 3) in the file name, ``##RRUFFID`` and
``##URL``; its wavenumbers are shifted by up to +-1.5 cm-1 and its intensities scaled by
0.8-1.2 with Gaussian noise of 0.5% of the maximum (so that rows differ after min-max
normalisation). The locality and every other header are kept, so geocoding sees the real
localities. A member whose data rows do not parse as pairs of numbers keeps its rows as they
are (only its IDs change); their number is printed.

Deterministic: the same N, source and seed give byte-identical zips. Needs no download.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
from tqdm import tqdm

_ID_RE = re.compile(rb"^([A-Za-z]{1,3})(\d{3,})")
_MAX_MEMBER_BYTES = 64 << 20
_CSV_READ = pv.ReadOptions(column_names=["x", "y"])
_CSV_CONVERT = pv.ConvertOptions(column_types={"x": pa.float64(), "y": pa.float64()})


def new_id(rruff_id: bytes, copy: int) -> bytes:
    """``R060791`` -> ``R03060791`` for copy 3; IDs of another shape get ``_c3`` appended."""
    if copy == 0:
        return rruff_id
    m = _ID_RE.match(rruff_id)
    if m is None:
        return rruff_id + b"_c%d" % copy
    return m.group(1) + b"%02d" % copy + rruff_id[len(m.group(1)):]


def new_name(name: str, copy: int) -> str:
    """The member name with its RRUFF ID field (the second ``__`` field) renamed."""
    fields = name.split("__")
    if copy and len(fields) > 1:
        fields[1] = new_id(fields[1].encode(), copy).decode()
    return "__".join(fields)


def split_file(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """Header lines (with their ends), data rows, and everything from ``##END`` on."""
    start = 0
    while raw.startswith(b"##", start):
        nl = raw.find(b"\n", start)
        start = len(raw) if nl < 0 else nl + 1
    end = raw.find(b"\n##", start)
    end = len(raw) if end < 0 else end + 1
    return raw[:start], raw[start:end], raw[end:]


def parse_rows(data: bytes) -> np.ndarray | None:
    """(n, 2) float64 of the ``wavenumber, intensity`` rows, or None when they are not that."""
    try:
        table = pv.read_csv(pa.py_buffer(data), read_options=_CSV_READ,
                            convert_options=_CSV_CONVERT)
    except pa.ArrowInvalid:
        return None
    if table.num_rows < 2 or any(table.column(c).null_count for c in ("x", "y")):
        return None
    xy = np.column_stack([table.column("x").to_numpy(), table.column("y").to_numpy()])
    return xy if np.isfinite(xy).all() else None


def format_rows(xy: np.ndarray, newline: bytes) -> bytes:
    """Rows ``x, y`` joined by ``newline`` (formatted by Arrow in C++, not per row in Python)."""
    wn = pc.cast(pa.array(np.round(xy[:, 0], 4)), pa.string())
    it = pc.cast(pa.array(np.round(xy[:, 1], 4)), pa.string())
    joined = pc.binary_join_element_wise(wn, ", ", it, newline.decode(), "")
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32)[: len(joined) + 1]
    return joined.buffers()[2].to_pybytes()[offsets[0]:offsets[-1]]


def variant(raw: bytes, name: str, copy: int, seed: int) -> tuple[bytes, bool]:
    """Copy ``copy`` of one file; the flag says whether its spectrum could be altered."""
    if copy == 0:
        return raw, True
    header, data, tail = split_file(raw)
    out_header = []
    for line in header.splitlines(keepends=True):
        if line.startswith(b"##RRUFFID="):
            body = line[len(b"##RRUFFID="):].rstrip(b"\r\n")
            line = b"##RRUFFID=" + new_id(body.strip(), copy) + line[len(line.rstrip(b"\r\n")):]
        elif line.startswith(b"##URL="):
            line = re.sub(rb"([A-Za-z]{1,3}\d{3,})", lambda m: new_id(m.group(1), copy), line)
        out_header.append(line)
    xy = parse_rows(data)
    if xy is None:
        return b"".join(out_header) + data + tail, False
    rng = np.random.default_rng([seed, copy, zlib.crc32(name.encode())])
    shift = rng.uniform(-1.5, 1.5)
    scale = rng.uniform(0.8, 1.2)
    top = float(np.abs(xy[:, 1]).max()) or 1.0
    noisy = xy[:, 1] * scale + rng.normal(0.0, 0.005 * top * scale, len(xy))
    new = np.column_stack([xy[:, 0] + shift, noisy])
    newline = b"\r\n" if b"\r\n" in data else b"\n"
    return b"".join(out_header) + format_rows(new, newline) + tail, True


def mirror_zip(src: Path, dst: Path, copies: int, seed: int, bar: tqdm) -> tuple[int, int]:
    """Write ``dst`` with ``copies`` copies of each member of ``src``; (members, unaltered)."""
    written = unaltered = 0
    tmp = dst.with_name(dst.name + ".part")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(
            tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zout:
        for info in zin.infolist():
            if info.is_dir() or not info.filename.lower().endswith(".txt"):
                continue
            if info.file_size > _MAX_MEMBER_BYTES:
                print(f"{src.name}: {info.filename}: {info.file_size} bytes, skipped",
                      file=sys.stderr)
                continue
            name = Path(info.filename).name  # no folders, no '..' in what we write
            raw = zin.read(info)
            for k in range(copies):
                body, altered = variant(raw, name, k, seed)
                unaltered += not altered
                zout.writestr(new_name(name, k), body)
                written += 1
            bar.update(copies)
    tmp.replace(dst)
    return written, unaltered


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("copies", type=int, help="N: copies of every file (1 = the source as is)")
    ap.add_argument("out", type=Path, help="folder to write the zips into")
    ap.add_argument("--data", type=Path,
                    default=Path(__file__).resolve().parents[2] / "shared" / "rruff",
                    help="folder of RRUFF zips (default ../shared/rruff)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.copies < 1:
        print(f"N: {args.copies} copies; need at least 1", file=sys.stderr)
        return 2
    zips = sorted(args.data.glob("*.zip"))
    if not zips:
        print(f"--data {args.data}: no .zip files there", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    total = 0
    for z in zips:
        with zipfile.ZipFile(z) as zf:
            total += sum(1 for i in zf.infolist() if i.filename.lower().endswith(".txt"))
    t0 = time.perf_counter()
    written = unaltered = 0
    with tqdm(total=total * args.copies, desc="mirror", unit="file") as bar:
        for z in zips:
            w, u = mirror_zip(z, args.out / z.name, args.copies, args.seed, bar)
            written, unaltered = written + w, unaltered + u
    size = sum(p.stat().st_size for p in args.out.glob("*.zip"))
    print(f"{written} files in {len(zips)} zips ({size / 1e6:.0f} MB) in {args.out} "
          f"in {time.perf_counter() - t0:.1f} s; {unaltered} copies kept their rows unaltered")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
