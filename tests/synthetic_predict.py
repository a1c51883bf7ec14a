"""Tiny model folders of both kinds, for the predict tests and the fault sweep."""

from __future__ import annotations

from pathlib import Path

from rruffgeo.workdir import WorkDir
from synthetic_learn import make_workdir, tiny_settings

#: The final models fitted without a provenance CV (the CV chooses them in a real run).
TINY_FINAL_MODELS = {"spectrum": "knn_spectra", "spectrum+mineral": "species_freq+mineral"}


def tiny_workdir(root: Path) -> WorkDir:
    return make_workdir(root, n_countries=3, specimens=8, per_specimen=2)


def tiny_final(workdir: WorkDir) -> Path:
    """``models/final`` of a tiny work folder (a second or so)."""
    from rruffgeo.provenance.final import fit_final

    return fit_final(workdir, tiny_settings(), dict(TINY_FINAL_MODELS), "tiny test model")


def tiny_network(workdir: WorkDir) -> Path:
    """``models/holdout_specimen`` of a tiny work folder (one epoch; a few seconds)."""
    from rruffgeo.network import run_train

    run_train(workdir, tiny_settings(epochs=1), split="specimen", progress=False)
    return workdir.root / "models" / "holdout_specimen"


#: Where the specimens of each synthetic country were found (lat, lon), for maps.
PLACES = {"USA": (39.0, -98.0), "BRA": (-10.0, -52.0), "ITA": (42.5, 12.5), "NAM": (-22.0, 17.0)}


def located_final(root: Path) -> Path:
    """``models/final`` of a tiny work folder whose specimens have coordinates (spread a
    little around their country), so the nearest specimens can be drawn on a map."""
    import numpy as np
    import pandas as pd

    wd = tiny_workdir(root)
    geo = pd.read_parquet(wd.geocoded)
    jitter = np.random.default_rng(0).normal(0, 1.5, (len(geo), 2))
    coords = geo["country_iso3"].map(PLACES)
    geo["lat"] = [c[0] + j[0] if isinstance(c, tuple) else np.nan
                  for c, j in zip(coords, jitter, strict=True)]
    geo["lon"] = [c[1] + j[1] if isinstance(c, tuple) else np.nan
                  for c, j in zip(coords, jitter, strict=True)]
    geo.to_parquet(wd.geocoded, index=False)
    return tiny_final(wd)
