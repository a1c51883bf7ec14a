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
