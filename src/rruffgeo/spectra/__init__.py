"""Spectral preprocessing: the global grid, resampling, normalisation (paper 4.1, A.4)."""

from rruffgeo.spectra.matrix import MatrixRows, SpectraMatrix, build_matrix, load_matrix
from rruffgeo.spectra.resample import clean_axis, make_grid, resample_many, resample_spectrum

__all__ = [
    "MatrixRows",
    "SpectraMatrix",
    "build_matrix",
    "clean_axis",
    "load_matrix",
    "make_grid",
    "resample_many",
    "resample_spectrum",
]
