"""Predict the country of new spectra with a trained model folder.

Inputs are RRUFF ``.txt`` files (read by ``rruffgeo.data.rruff_file.read_rruff_file``) or
two-column CSV/text spectra (wavenumber, intensity; an optional header line; comma, semicolon,
tab or space separated). A file that cannot be used (unreadable, non-numeric, too few points,
no overlap with the model's wavenumber window) is refused with its reason; the others are still
predicted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from rruffgeo.model.modelio import load_model
from rruffgeo.model.runtime import inference_network, predict_proba, select_device
from rruffgeo.spectra.resample import clean_axis, resample_spectrum

#: Fewest distinct points accepted: fewer cannot describe Raman bands on a ~2 cm-1 grid.
MIN_POINTS = 16
PREDICTION_COLUMNS = ["file", "rank", "country_iso3", "country_name", "probability"]
_SEP = re.compile(r"[,;\t ]+")


def read_table_spectrum(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Two numeric columns from a CSV/text file; one leading header line is allowed."""
    xs: list[float] = []
    ys: list[float] = []
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    seen_data = False
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p for p in _SEP.split(line) if p]
        try:
            if len(parts) < 2:
                raise ValueError
            x, y = float(parts[0]), float(parts[1])
        except ValueError:
            if not seen_data and not xs:
                seen_data = True  # the one allowed header line
                continue
            raise ValueError(f"{path}: line {lineno}: expected two numbers "
                             f"(wavenumber, intensity), got {line[:60]!r}") from None
        seen_data = True
        xs.append(x)
        ys.append(y)
    if not xs:
        raise ValueError(f"{path}: no numeric wavenumber,intensity rows")
    return np.array(xs), np.array(ys)


def read_spectrum(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Wavenumber and intensity of a RRUFF ``.txt`` or a two-column CSV file."""
    path = Path(path)
    if path.suffix.lower() == ".txt":
        from rruffgeo.data.rruff_file import read_rruff_file

        rec = read_rruff_file(path)
        return np.asarray(rec.wavenumber_cm1, float), np.asarray(rec.intensity, float)
    return read_table_spectrum(path)


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
            return resample_spectrum(wavenumber, intensity, self.grid_cm1,
                                     minmax=self.bundle.spectra.minmax)
        except ValueError as exc:
            raise ValueError(f"{source}: {exc} (the model's training window)") from None

    def predict_proba(self, spectra: np.ndarray) -> np.ndarray:
        """Probabilities (n, n_classes) for spectra already on ``grid_cm1``."""
        with torch.inference_mode():
            return predict_proba(self.network, np.asarray(spectra, np.float32), self.device)

    def predict_paths(self, files: Sequence[str | Path]
                      ) -> tuple[list[str], np.ndarray, list[tuple[str, str]]]:
        """Probabilities of every usable file, and (file, reason) for each refused one."""
        names: list[str] = []
        rows: list[np.ndarray] = []
        refused: list[tuple[str, str]] = []
        for f in files:
            try:
                x, y = read_spectrum(Path(f))
                rows.append(self.prepare(x, y, str(f)))
                names.append(str(f))
            except (OSError, ValueError) as exc:  # RruffFormatError is a ValueError
                refused.append((str(f), str(exc)))
        proba = (self.predict_proba(np.stack(rows)) if rows
                 else np.zeros((0, len(self.classes)), np.float32))
        return names, proba, refused

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
