"""A trained network folder loaded once: its classes, its grid and its probabilities.

Files, folders, zips and in-memory spectra are predicted through ``rruffgeo.open_model``,
one loop for both kinds of model (read -> check -> preprocess -> prepare); its network model
holds a ``Predictor`` for the probabilities of spectra already on the grid.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from rruffgeo.errors import UserError
from rruffgeo.network.modelio import load_model
from rruffgeo.network.runtime import inference_network, predict_proba, select_device
from rruffgeo.results import PREDICTION_COLUMNS
from rruffgeo.spectra.checks import MIN_COVERAGE, MIN_POINTS, WARN_COVERAGE, window_coverage
from rruffgeo.spectra.prepare import prepare_row
from rruffgeo.spectra.spectrum import Spectrum


class Predictor:
    """A network folder loaded once (on ``device``, in ``precision``): the probabilities of
    spectra on its grid ``grid_cm1``."""

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


__all__ = ["MIN_COVERAGE", "MIN_POINTS", "PREDICTION_COLUMNS", "WARN_COVERAGE", "Predictor",
           "window_coverage"]
