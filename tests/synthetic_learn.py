"""Tiny synthetic work folders for the learning-stage tests: a catalog and a geocoded table.

Each country has its own band positions, so a small network can learn it; each specimen has a
few spectra (different ranges and noise), as RRUFF specimens do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rruffgeo.config import (
    ModelSettings,
    ProvenanceSettings,
    Settings,
    SpectraSettings,
    TrainSettings,
)
from rruffgeo.recipes import AUGMENTATION
from rruffgeo.workdir import WorkDir

COUNTRIES = [("USA", "United States of America"), ("BRA", "Brazil"), ("ITA", "Italy"),
             ("NAM", "Namibia")]


def spectrum(country: int, rng: np.random.Generator, lo: float = 100.0, hi: float = 1300.0,
             points: int = 300) -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(lo, hi, points)
    centres = [300 + 200 * country, 900 - 100 * country]
    y = sum(np.exp(-0.5 * ((x - c) / 15) ** 2) for c in centres) * 100
    return x, y + rng.normal(0, 2, points) + 10


def make_workdir(root: Path, n_countries: int = 3, specimens: int = 6, per_specimen: int = 2,
                 seed: int = 0, extra_rows: list[dict] | None = None) -> WorkDir:
    """Write catalog.parquet and geocoded.parquet; returns the WorkDir."""
    rng = np.random.default_rng(seed)
    cat, geo = [], []
    for c in range(n_countries):
        iso, name = COUNTRIES[c]
        for s in range(specimens):
            sid = f"R{c}{s:04d}"
            geo.append({"specimen_id": sid, "mineral": "Quartz", "locality": f"Mine, {name}",
                        "synthetic": False, "excluded_reason": "", "country_iso3": iso,
                        "country_name": name})
            for k in range(per_specimen):
                lo = 100.0 + 20 * k
                x, y = spectrum(c, rng, lo=lo, hi=1300.0 - 30 * k)
                cat.append({"spectrum_id": f"set/{sid}_{k}.txt", "specimen_id": sid,
                            "mineral": "Quartz", "kind": "processed", "laser_nm": 532.0,
                            "wavenumber_cm1": x.tolist(), "intensity": y.tolist()})
    # A synthetic specimen and a specimen without country: both must be left out.
    for sid, synthetic, reason, iso in (("RSYN01", True, "synthetic", ""),
                                        ("RNOC01", False, "", "")):
        geo.append({"specimen_id": sid, "mineral": "Quartz", "locality": "?",
                    "synthetic": synthetic, "excluded_reason": reason, "country_iso3": iso,
                    "country_name": ""})
        x, y = spectrum(0, rng)
        cat.append({"spectrum_id": f"set/{sid}.txt", "specimen_id": sid, "mineral": "Quartz",
                    "kind": "processed", "laser_nm": 532.0, "wavenumber_cm1": x.tolist(),
                    "intensity": y.tolist()})
    cat.extend(extra_rows or [])
    wd = WorkDir(root)
    pd.DataFrame(cat).to_parquet(wd.catalog, index=False)
    pd.DataFrame(geo).to_parquet(wd.geocoded, index=False)
    return wd


def tiny_settings(epochs: int = 2, grid: int = 64, seed: int = 0, folds: int = 3,
                  augment: bool = True) -> Settings:
    """A tiny network with the default recipe (augmentation on unless ``augment`` is False),
    trained in fp32 (the same numbers on every kind of CPU) in this process (``jobs`` 1: the
    side-by-side tests ask for more)."""
    aug = {} if augment else {name: 0.0 for name in AUGMENTATION}
    return Settings(
        spectra=SpectraSettings(grid_points=grid),
        model=ModelSettings(depths=(1, 1), dims=(8, 16)),
        train=TrainSettings(epochs=epochs, batch_size=8, warmup_steps=2, seed=seed,
                            n_folds=folds, device="cpu", precision="fp32", jobs=1, **aug),
        provenance=ProvenanceSettings(n_folds=folds, seed=seed),
    )
