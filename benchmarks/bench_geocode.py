"""Offline geocoding speed: gazetteer + country polygons load time, then all distinct localities.

Usage:
  python benchmarks/bench_geocode.py --workdir WORK      (localities from WORK/catalog.parquet)
  python benchmarks/bench_geocode.py --input FILE        (one locality per line)
  python benchmarks/bench_geocode.py                     (./rruffgeo-work if it has a catalog,
                                                          else the LOCALITY headers of the zips
                                                          in $RRUFFGEO_DATA or ../shared/rruff)

Goals (issue 3): loading under 5 s and all ~1,900 distinct RRUFF localities under 5 s on 2 cores.
Each stage is timed in this one process from a cold start (nothing cached).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import zipfile
from pathlib import Path


def _zip_localities(path: Path) -> list[str]:
    """LOCALITY header of every RRUFF file in a zip (first 4 kB of each member only)."""
    out = []
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.endswith(".txt"):
                with zf.open(name) as fh:
                    head = fh.read(4096).decode("utf-8", errors="replace")
                for line in head.splitlines():
                    if line.startswith("##LOCALITY="):
                        out.append(line.split("=", 1)[1].strip())
                        break
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--input", type=Path, default=None)
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    import pandas as pd

    from rruffgeo.geo.clean import clean_locality, is_missing_locality, is_synthetic
    from rruffgeo.geo.countries import country_index
    from rruffgeo.geo.gazetteer import load_gazetteer
    from rruffgeo.geo.pipeline import Placer

    t_import = time.perf_counter() - t0

    if args.input is not None:
        localities = args.input.read_text(encoding="utf-8", errors="replace").splitlines()
    elif args.workdir is not None or Path("rruffgeo-work/catalog.parquet").exists():
        wd = args.workdir or Path("rruffgeo-work")
        cat = pd.read_parquet(wd / "catalog.parquet", columns=["locality"])
        localities = cat["locality"].fillna("").astype(str).tolist()
    else:
        folder = Path(os.environ.get("RRUFFGEO_DATA") or "../shared/rruff")
        zips = sorted(folder.glob("*.zip")) if folder.is_dir() else []
        if not zips:
            print(f"no catalog (--workdir) and no RRUFF zips in {folder}: nothing to measure")
            return 0
        localities = [loc for z in zips for loc in _zip_localities(z)]
    distinct = list(dict.fromkeys(localities))

    t = time.perf_counter()
    gaz = load_gazetteer()
    t_gaz = time.perf_counter() - t
    t = time.perf_counter()
    country_index()
    t_poly = time.perf_counter() - t
    t = time.perf_counter()
    placer = Placer()
    t_rest = time.perf_counter() - t

    t = time.perf_counter()
    cleaned = [clean_locality(s) for s in distinct]
    todo = list(dict.fromkeys(c for s, c in zip(distinct, cleaned, strict=True)
                              if not is_synthetic(s) and not is_missing_locality(c)))
    placed = [placer.place(c) for c in todo]
    t_geo = time.perf_counter() - t
    n_country = sum(1 for p in placed if p.country_iso3)

    print(f"cpus available: {len(os.sched_getaffinity(0))}, load average: "
          f"{os.getloadavg()[0]:.1f} (shared machine: figures are upper bounds)")
    print(f"imports: {t_import:.2f} s")
    print(f"load gazetteer ({len(gaz):,} places): {t_gaz:.2f} s")
    print(f"load country polygons + STRtree: {t_poly:.2f} s")
    print(f"load total (gazetteer + polygons + geocoder): {t_gaz + t_poly + t_rest:.2f} s "
          f"(goal < 5 s)")
    print(f"geocode {len(distinct):,} distinct localities ({len(todo):,} geocodable, "
          f"{n_country:,} with a country): {t_geo:.2f} s (goal < 5 s), "
          f"{1000 * t_geo / max(len(distinct), 1):.2f} ms each")
    return 0


if __name__ == "__main__":
    sys.exit(main())
