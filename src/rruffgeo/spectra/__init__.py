"""Spectral preprocessing: the global grid, resampling, normalisation (paper 4.1, A.4)."""
