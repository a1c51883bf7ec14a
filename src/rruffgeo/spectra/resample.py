"""Resample one spectrum onto the global grid: cubic spline inside its own range, zero outside.

Reference implementation of paper A.4 for a single spectrum; the matrix builder resamples the
whole catalog with the same rules.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline


def make_grid(start_cm1: float, stop_cm1: float, points: int) -> np.ndarray:
    """Evenly spaced wavenumber grid (cm-1), both ends included."""
    if points < 2 or not stop_cm1 > start_cm1:
        raise ValueError(f"bad grid: {points} points over [{start_cm1}, {stop_cm1}] cm-1")
    return np.linspace(start_cm1, stop_cm1, points)


def clean_axis(wavenumber: np.ndarray, intensity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Finite points only, sorted by wavenumber, duplicate wavenumbers averaged."""
    x = np.asarray(wavenumber, dtype=np.float64)
    y = np.asarray(intensity, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    ux, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    if len(ux) != len(x):
        y = np.bincount(inverse, weights=y) / counts
    return ux, y


def resample_spectrum(
    wavenumber: np.ndarray, intensity: np.ndarray, grid: np.ndarray, minmax: bool = True
) -> np.ndarray:
    """Spectrum on ``grid``: cubic spline within its measured range, 0 outside, then min-max.

    Min-max uses the resampled values inside the measured range, so padding stays exactly 0 and
    the spectrum spans [0, 1]. Raises ValueError when fewer than 4 distinct points remain or the
    spectrum does not overlap the grid.
    """
    x, y = clean_axis(wavenumber, intensity)
    if len(x) < 4:
        raise ValueError(f"only {len(x)} distinct finite points; need at least 4")
    inside = (grid >= x[0]) & (grid <= x[-1])
    if not inside.any():
        raise ValueError(
            f"range {x[0]:.1f}-{x[-1]:.1f} cm-1 does not overlap the grid "
            f"{grid[0]:.1f}-{grid[-1]:.1f} cm-1"
        )
    out = np.zeros(len(grid), dtype=np.float64)
    out[inside] = CubicSpline(x, y, extrapolate=False)(grid[inside])
    if minmax:
        vals = out[inside]
        lo, hi = vals.min(), vals.max()
        out[inside] = (vals - lo) / (hi - lo) if hi > lo else 0.0
    return out
