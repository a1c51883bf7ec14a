"""Predict the country of new spectra with a trained model folder.

Inputs are whatever ``rruffgeo.spectra.readers`` reads (RRUFF ``.txt``, CSV/TSV/TXT,
JCAMP-DX, SPC, WDF; files, folders and zips) or in-memory spectra (arrays, DataFrames,
RamanSPy / ramanchada2 objects). A spectrum that cannot be used (unreadable, too few points,
too little of the model's wavenumber window) is refused with its reason; the others are still
predicted.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from rruffgeo.errors import UserError
from rruffgeo.network.modelio import load_model
from rruffgeo.network.runtime import inference_network, predict_proba, select_device
from rruffgeo.results import PREDICTION_COLUMNS, top_k_table
from rruffgeo.spectra.checks import MIN_COVERAGE, MIN_POINTS, WARN_COVERAGE, window_coverage
from rruffgeo.spectra.prepare import (
    as_path_list,
    as_spectra,
    prepare_all,
    prepare_row,
    read_paths,
)
from rruffgeo.spectra.preprocess import Step, parse_steps
from rruffgeo.spectra.readers.units import check_laser
from rruffgeo.spectra.spectrum import Spectrum


class Predictor:
    """A model folder loaded once, for predicting many spectra or files."""

    def __init__(self, model_dir: str | Path, device: str = "cpu",
                 precision: str = "fp32") -> None:
        if (Path(model_dir) / "provenance.json").is_file():
            raise UserError(f"{model_dir} is a provenance model folder (models/final); open "
                            "it with rruffgeo.open_model, which reads both kinds")
        self.device = select_device(device)
        self.bundle = load_model(Path(model_dir), self.device)
        self.precision = precision
        self.network = inference_network(self.bundle.model, precision, self.device)
        self.classes = self.bundle.classes
        self.class_names = self.bundle.class_names
        self.grid_cm1 = self.bundle.grid_cm1

    def prepare(self, wavenumber: np.ndarray, intensity: np.ndarray, source: str = "spectrum"
                ) -> np.ndarray:
        """One spectrum checked and resampled onto the model's grid (warning when it covers
        little of the window); ValueError saying why it is refused."""
        spectrum = Spectrum(wavenumber, intensity, {"source": source})
        row, notes = prepare_row(spectrum, self.grid_cm1, self.bundle.spectra.minmax)
        for note in notes:
            warnings.warn(note, UserWarning, stacklevel=2)
        return row

    def predict_proba(self, spectra: np.ndarray) -> np.ndarray:
        """Probabilities (n, n_classes) for spectra already on ``grid_cm1``."""
        with torch.inference_mode():
            return predict_proba(self.network, np.asarray(spectra, np.float32), self.device)

    def _predict(self, items: Iterable[Spectrum | tuple[str, str] | str],
                 steps: Sequence[Step]) -> tuple[list[str], np.ndarray, list[tuple[str, str]]]:
        ready = prepare_all(items, self.grid_cm1, self.bundle.spectra.minmax, steps)
        rows = ready.matrix(len(self.grid_cm1))
        proba = (self.predict_proba(rows) if len(rows)
                 else np.zeros((0, len(self.classes)), np.float32))
        return ready.names, proba, ready.refused

    def predict_paths(self, files: Sequence[str | Path], laser_nm: float | None = None,
                      preprocess: str | None = None
                      ) -> tuple[list[str], np.ndarray, list[tuple[str, str]]]:
        """Probabilities of every usable spectrum in files, folders and zips, and (file,
        reason) for each refused one. ``preprocess``: ``auto``, ``none`` or steps."""
        files = as_path_list(files, "files")
        steps = parse_steps(preprocess)
        laser_nm = check_laser(laser_nm, "--laser-nm")  # once, before any file is read
        return self._predict(read_paths(files, laser_nm), steps)

    def predict_spectra(self, spectra: Sequence[Any], preprocess: str | None = None
                        ) -> tuple[list[str], np.ndarray, list[tuple[str, str]]]:
        """Like ``predict_paths`` for in-memory spectra: ``Spectrum``, (wavenumber, intensity)
        pairs, DataFrames, RamanSPy or ramanchada2 spectra (named ``spectrum 1``, ...)."""
        return self._predict(as_spectra(spectra), parse_steps(preprocess))

    def top_k(self, names: Sequence[str], proba: np.ndarray, top_k: int = 3) -> pd.DataFrame:
        """Long table of the ``top_k`` countries per file (PREDICTION_COLUMNS)."""
        return top_k_table(names, proba, self.classes, self.class_names, top_k)

    def predict_files(self, files: Sequence[str | Path], top_k: int = 3
                      ) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
        """Top-k countries per file and the refused files with reasons."""
        names, proba, refused = self.predict_paths(files)
        return self.top_k(names, proba, top_k), refused


def predict_files(model_dir: str | Path, files: Sequence[str | Path], top_k: int = 3,
                  precision: str = "fp32") -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Top-k countries per file (file, rank, country_iso3, country_name, probability) and the
    refused files with reasons."""
    return Predictor(model_dir, precision=precision).predict_files(files, top_k)


__all__ = ["MIN_COVERAGE", "MIN_POINTS", "PREDICTION_COLUMNS", "WARN_COVERAGE", "Predictor",
           "predict_files", "window_coverage"]
