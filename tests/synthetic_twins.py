"""A tiny work folder with raw/processed twins on both RRUFF instruments, its matrix built.

Three species with their own bands, four specimens each (countries USA, USA, BRA, ITA: USA is
the majority), each measured on the ``Raman`` instrument and as a ``Broad_Scan``; each broad
scan also has a raw file. ``raw_like_twin`` makes the raw file's values those of its processed
twin (a hand-checkable case: after any rule the two are the same spectrum); otherwise the raw
file carries a sloping background and a laser line below 150 cm-1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rruffgeo.config import SpectraSettings
from rruffgeo.spectra import build_matrix
from rruffgeo.workdir import WorkDir

SPECIES = {"Quartz": (465.0, 205.0), "Calcite": (1086.0, 712.0), "Gypsum": (1008.0, 414.0)}
COUNTRIES = ("USA", "USA", "BRA", "ITA")


def _bands(x: np.ndarray, centres: tuple[float, ...], rng: np.random.Generator) -> np.ndarray:
    y = sum(np.exp(-0.5 * ((x - c) / 8.0) ** 2) for c in centres) * 100
    return y + rng.normal(0, 0.5, len(x)) + 5


def _row(species: str, sid: str, technique: str, kind: str, x: np.ndarray,
         y: np.ndarray) -> dict:
    folder = "LR-Raman" if technique == "Broad_Scan" else "Raman"
    label = "Raman_Data_Processed" if kind == "processed" else "Raman_Data_Raw"
    return {"spectrum_id": f"{folder}/{species}__{sid}__{technique}__532__0__unoriented__"
            f"{label}__1.txt", "specimen_id": sid, "sample_id": sid, "mineral": species,
            "kind": kind, "technique": technique, "laser_line_nm": 532.0,
            "orientation": "unoriented", "wavenumber_min_cm1": float(x[0]),
            "wavenumber_max_cm1": float(x[-1]), "wavenumber_cm1": x.tolist(),
            "intensity": y.tolist()}


def make_twin_workdir(root: Path, raw_like_twin: bool = True, grid: int = 256,
                      seed: int = 0) -> WorkDir:
    """Write catalog.parquet, geocoded.parquet and the spectra matrix; returns the WorkDir."""
    rng = np.random.default_rng(seed)
    cat, geo = [], []
    for s, (species, centres) in enumerate(SPECIES.items()):
        for n, iso in enumerate(COUNTRIES):
            sid = f"R{s}{n:04d}"
            geo.append({"specimen_id": sid, "country_iso3": iso, "synthetic": False})
            x = np.linspace(150.0, 1300.0, 600)
            cat.append(_row(species, sid, "Raman", "processed", x, _bands(x, centres, rng)))
            x = np.linspace(120.0, 3000.0, 900)
            y = _bands(x, centres, rng)
            cat.append(_row(species, sid, "Broad_Scan", "processed", x, y))
            xr = x if raw_like_twin else np.linspace(60.0, 3000.0, 950)
            yr = y if raw_like_twin else (_bands(xr, centres, rng) + 0.05 * xr
                                          + 400 * np.exp(-0.5 * ((xr - 70) / 5) ** 2))
            cat.append(_row(species, sid, "Broad_Scan", "raw", xr, yr))
    wd = WorkDir(root)
    wd.root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(cat).to_parquet(wd.catalog, index=False)
    pd.DataFrame(geo).to_parquet(wd.geocoded, index=False)
    build_matrix(wd, SpectraSettings(grid_points=grid))
    return wd
