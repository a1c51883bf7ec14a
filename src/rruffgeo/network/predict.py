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

from rruffgeo.network.modelio import load_model
from rruffgeo.network.runtime import inference_network, predict_proba, select_device
from rruffgeo.spectra.interop import as_spectrum
from rruffgeo.spectra.preprocess import Step, apply_steps, parse_steps
from rruffgeo.spectra.readers import iter_inputs
from rruffgeo.spectra.readers.inputs import read_input
from rruffgeo.spectra.readers.units import check_laser
from rruffgeo.spectra.resample import clean_axis, resample_spectrum
from rruffgeo.spectra.spectrum import Spectrum

#: Fewest distinct points accepted: fewer cannot describe Raman bands on a ~2 cm-1 grid.
MIN_POINTS = 16
#: Share of the model's window a spectrum must cover. RRUFF training spectra cover 23-35%
#: of the default ~0-4,250 cm-1 window (1st-90th percentile, 8,361 spectra), so below 20%
#: a prediction is warned about and below 8% (~340 cm-1 of that window) it is refused.
WARN_COVERAGE = 0.20
MIN_COVERAGE = 0.08
PREDICTION_COLUMNS = ["file", "rank", "country_iso3", "country_name", "probability"]


def window_coverage(wavenumber: np.ndarray, grid: np.ndarray) -> float:
    """Share of the grid points that lie inside the spectrum's measured range."""
    x = np.asarray(wavenumber, float)
    x = x[np.isfinite(x)]
    if not len(x):
        return 0.0
    return float(((grid >= x.min()) & (grid <= x.max())).mean())


class Predictor:
    """A model folder loaded once, for predicting many spectra or files."""

    def __init__(self, model_dir: str | Path, device: str = "cpu",
                 precision: str = "fp32") -> None:
        self.device = select_device(device)
        self.bundle = load_model(Path(model_dir), self.device)
        self.precision = precision
        self.network = inference_network(self.bundle.model, precision, self.device)
        self.classes = self.bundle.classes
        self.class_names = self.bundle.class_names
        self.grid_cm1 = self.bundle.grid_cm1

    def prepare(self, wavenumber: np.ndarray, intensity: np.ndarray, source: str = "spectrum"
                ) -> np.ndarray:
        """Resample one spectrum onto the model's grid; ValueError saying why it is refused."""
        x, _ = clean_axis(wavenumber, intensity)
        if len(x) < MIN_POINTS:
            raise ValueError(f"{source}: only {len(x)} distinct finite points; "
                             f"need at least {MIN_POINTS}")
        try:
            row = resample_spectrum(wavenumber, intensity, self.grid_cm1,
                                    minmax=self.bundle.spectra.minmax)
        except ValueError as exc:
            raise ValueError(f"{source}: {exc} (the model's training window)") from None
        coverage = window_coverage(x, self.grid_cm1)
        window = f"{self.grid_cm1[0]:.0f}-{self.grid_cm1[-1]:.0f} cm-1"
        if coverage < MIN_COVERAGE:
            raise ValueError(f"{source}: covers {coverage:.0%} of the model's window {window} "
                             f"(at least {MIN_COVERAGE:.0%} needed)")
        if coverage < WARN_COVERAGE:
            warnings.warn(f"{source}: covers only {coverage:.0%} of the model's window "
                          f"{window}; the prediction is less reliable", stacklevel=2)
        return row

    def predict_proba(self, spectra: np.ndarray) -> np.ndarray:
        """Probabilities (n, n_classes) for spectra already on ``grid_cm1``."""
        with torch.inference_mode():
            return predict_proba(self.network, np.asarray(spectra, np.float32), self.device)

    def _predict(self, spectra: Iterable[Spectrum | tuple[str, str]], steps: Sequence[Step]
                 ) -> tuple[list[str], np.ndarray, list[tuple[str, str]]]:
        names: list[str] = []
        rows: list[np.ndarray] = []
        refused: list[tuple[str, str]] = []
        for item in spectra:
            if isinstance(item, tuple):  # (source, reason) of an input that could not be read
                refused.append(item)
                continue
            try:
                ready = apply_steps(item, steps)
                rows.append(self.prepare(ready.wavenumber_cm1, ready.intensity, item.source))
                names.append(item.source)
            except ValueError as exc:
                refused.append((item.source, str(exc)))
        proba = (self.predict_proba(np.stack(rows)) if rows
                 else np.zeros((0, len(self.classes)), np.float32))
        return names, proba, refused

    def predict_paths(self, files: Sequence[str | Path], laser_nm: float | None = None,
                      preprocess: str | None = None
                      ) -> tuple[list[str], np.ndarray, list[tuple[str, str]]]:
        """Probabilities of every usable spectrum in files, folders and zips, and (file,
        reason) for each refused one. ``preprocess``: ``auto``, ``none`` or steps."""
        steps = parse_steps(preprocess)
        laser_nm = check_laser(laser_nm, "--laser-nm")  # once, before any file is read

        def spectra() -> Iterable[Spectrum | tuple[str, str]]:
            for item in iter_inputs(files):
                try:
                    yield from read_input(item, laser_nm)
                except ValueError as exc:  # RruffFormatError is a ValueError
                    yield (item.name, str(exc))
        return self._predict(spectra(), steps)

    def predict_spectra(self, spectra: Sequence[Any], preprocess: str | None = None
                        ) -> tuple[list[str], np.ndarray, list[tuple[str, str]]]:
        """Like ``predict_paths`` for in-memory spectra: ``Spectrum``, (wavenumber, intensity)
        pairs, DataFrames, RamanSPy or ramanchada2 spectra (named ``spectrum 1``, ...)."""
        items: list[Spectrum | tuple[str, str]] = []
        for i, obj in enumerate(spectra, 1):
            try:
                items.append(as_spectrum(obj, f"spectrum {i}"))
            except ValueError as exc:
                items.append((f"spectrum {i}", str(exc)))
        return self._predict(items, parse_steps(preprocess))

    def top_k(self, names: Sequence[str], proba: np.ndarray, top_k: int = 3) -> pd.DataFrame:
        """Long table of the ``top_k`` countries per file (PREDICTION_COLUMNS)."""
        if top_k < 1:
            raise ValueError(f"--top-k {top_k}: must be at least 1")
        k = min(top_k, proba.shape[1])
        records = []
        for name, p in zip(names, proba, strict=True):
            for rank, c in enumerate(np.argsort(-p, kind="stable")[:k], 1):
                records.append((name, rank, self.classes[c], self.class_names[c], float(p[c])))
        return pd.DataFrame(records, columns=PREDICTION_COLUMNS)

    def predict_files(self, files: Sequence[str | Path], top_k: int = 3
                      ) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
        names, proba, refused = self.predict_paths(files)
        return self.top_k(names, proba, top_k), refused


def predict_files(model_dir: str | Path, files: Sequence[str | Path], top_k: int = 3,
                  precision: str = "fp32") -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Top-k countries per file (file, rank, country_iso3, country_name, probability) and the
    refused files with reasons."""
    return Predictor(model_dir, precision=precision).predict_files(files, top_k)
