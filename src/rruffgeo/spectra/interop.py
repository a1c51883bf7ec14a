"""Spectra from the objects people already hold: arrays, pandas DataFrames, RamanSPy and
ramanchada2 spectra. The optional libraries are recognised by duck typing, never imported."""

from __future__ import annotations

from typing import Any

import numpy as np

from rruffgeo.spectra.spectrum import Spectrum

_X_COLUMNS = ("wavenumber_cm1", "raman_shift", "wavenumber", "shift", "x")
_Y_COLUMNS = ("intensity", "counts", "y")


def _from_dataframe(df: Any, source: str) -> Spectrum:
    cols = {str(c).lower(): c for c in df.columns}
    x = next((cols[c] for c in _X_COLUMNS if c in cols), None)
    y = next((cols[c] for c in _Y_COLUMNS if c in cols), None)
    if x is None or y is None:
        if len(df.columns) != 2:
            raise ValueError(f"{source}: DataFrame needs a wavenumber and an intensity "
                             f"column, got {list(df.columns)}")
        x, y = df.columns
    return Spectrum(df[x].to_numpy(float), df[y].to_numpy(float), {"source": source,
                                                                     "format": "DataFrame"})


def as_spectrum(obj: Any, source: str = "spectrum") -> Spectrum:
    """A ``Spectrum`` from a Spectrum, a (wavenumber, intensity) pair, a 2-column array, a
    pandas DataFrame, a RamanSPy ``Spectrum`` or a ramanchada2 ``Spectrum``."""
    if isinstance(obj, Spectrum):
        return obj
    if hasattr(obj, "spectral_axis") and hasattr(obj, "spectral_data"):  # RamanSPy
        data = np.asarray(obj.spectral_data, float)
        if data.ndim != 1:
            raise ValueError(f"{source}: RamanSPy object holds {data.shape} spectra; "
                             "pass one spectrum")
        return Spectrum(obj.spectral_axis, data, {"source": source, "format": "ramanspy"})
    if hasattr(obj, "x") and hasattr(obj, "y") and hasattr(obj, "meta"):  # ramanchada2
        return Spectrum(obj.x, obj.y, {"source": source, "format": "ramanchada2"})
    if hasattr(obj, "columns") and hasattr(obj, "to_numpy"):
        return _from_dataframe(obj, source)
    if isinstance(obj, tuple | list) and len(obj) == 2:
        return Spectrum(obj[0], obj[1], {"source": source, "format": "arrays"})
    arr = np.asarray(obj, dtype=float)
    if arr.ndim == 2 and 2 in arr.shape:
        arr = arr if arr.shape[0] == 2 else arr.T
        return Spectrum(arr[0], arr[1], {"source": source, "format": "array"})
    raise ValueError(f"{source}: cannot read a spectrum from {type(obj).__name__}; pass "
                     "(wavenumber, intensity) arrays, a DataFrame, or a RamanSPy/ramanchada2 "
                     "spectrum")
