"""Check that the bulk reader gives bit-identical results to the per-file reader on real data.

For every ``.txt`` member of every zip in ``--data`` (default ``../shared/rruff``), parses the
files in batches of 100 with ``parse_rruff_batch`` (Arrow's CSV reader on the concatenated
blocks) and one by one with ``parse_rruff_bytes`` (``np.loadtxt``), and compares headers,
defects, encoding notes, errors and the float64 arrays bit for bit. Prints the counts; exits 1
on any difference.

    python benchmarks/check_bulk_parse.py [--data ../shared/rruff]
"""

from __future__ import annotations

import argparse
import os
import sys
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from rruffgeo.data import rruff_file  # noqa: E402
from rruffgeo.data.rruff_file import (  # noqa: E402
    RruffFormatError,
    parse_rruff_batch,
    parse_rruff_bytes,
)


def _same(a: object, b: object) -> bool:
    if isinstance(a, Exception) or isinstance(b, Exception):
        return type(a) is type(b) and str(a) == str(b)
    return (a.headers == b.headers and a.defects == b.defects  # type: ignore[attr-defined]
            and a.encoding_repair == b.encoding_repair  # type: ignore[attr-defined]
            and all(x.dtype == y.dtype == np.float64
                    and np.array_equal(x.view(np.uint64), y.view(np.uint64))
                    for x, y in ((a.wavenumber_cm1, b.wavenumber_cm1),  # type: ignore[attr-defined]
                                 (a.intensity, b.intensity))))  # type: ignore[attr-defined]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = os.environ.get("RRUFFGEO_DATA") or str(REPO.parent / "shared" / "rruff")
    ap.add_argument("--data", type=Path, default=Path(default), help="folder of RRUFF zips")
    args = ap.parse_args()
    n = differ = per_file = values = 0
    real = rruff_file._record_from_prepared

    def counted(prep, name):  # files the bulk reader left to the per-file reader
        nonlocal per_file
        per_file += 1
        return real(prep, name)

    for z in sorted(args.data.glob("*.zip")):
        with zipfile.ZipFile(z) as zf:
            names = [m for m in zf.namelist() if m.endswith(".txt")]
            for i in range(0, len(names), 100):
                items = [(zf.read(m), m) for m in names[i:i + 100]]
                rruff_file._record_from_prepared = counted
                try:
                    got = parse_rruff_batch(items)
                finally:
                    rruff_file._record_from_prepared = real
                for (data, name), g in zip(items, got, strict=True):
                    n += 1
                    try:
                        ref: object = parse_rruff_bytes(data, name)
                    except RruffFormatError as exc:
                        ref = exc
                    if not isinstance(g, Exception):
                        values += 2 * g.wavenumber_cm1.size
                    if not _same(g, ref):
                        differ += 1
                        print(f"DIFFERS: {z.name}/{name}")
    print(f"{n} files ({values} float64 values): {differ} differ between the bulk and the "
          f"per-file reader; {per_file} went through the per-file reader")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
