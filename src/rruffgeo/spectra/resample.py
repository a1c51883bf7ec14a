"""Resample one spectrum onto the global grid: cubic spline inside its own range, zero outside.

Reference implementation of paper A.4 for a single spectrum (``resample_spectrum``) and its
vectorised form for many spectra (``resample_many``), used by the matrix builder.
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


def _fit_group(x: np.ndarray, ys: list[np.ndarray], at: np.ndarray) -> list[np.ndarray | str]:
    """Spline values at ``at`` of spectra sharing the axis ``x``: one multi-column fit, or, when
    that fails (values so large that the spline overflows), one fit per spectrum so only the
    bad ones fail. A failure is given as its reason."""
    try:
        with np.errstate(all="ignore"):
            values = CubicSpline(x, np.stack(ys, axis=1), axis=0, extrapolate=False)(at)
        return list(values.T)
    except ValueError:
        if len(ys) == 1:
            return ["the cubic spline cannot be fitted (values overflow)"]
    return [_fit_group(x, [y], at)[0] for y in ys]


def resample_many(
    spectra: list[tuple[np.ndarray, np.ndarray]], grid: np.ndarray, minmax: bool = True
) -> tuple[np.ndarray, list[str | None]]:
    """Resample cleaned spectra (``clean_axis`` output) by the rules of ``resample_spectrum``.

    Vectorised where the data allow it: spectra sharing one wavenumber axis (the same
    instrument set-up) are fitted by a single multi-column ``CubicSpline`` and evaluated once;
    min-max normalisation runs on the whole matrix at once. Returns the float32 matrix
    (rows of failed spectra are zero) and, per spectrum, None or the reason it failed.
    """
    out = np.zeros((len(spectra), len(grid)), dtype=np.float32)
    inside = np.zeros((len(spectra), len(grid)), dtype=bool)
    errors: list[str | None] = [None] * len(spectra)
    groups: dict[bytes, list[int]] = {}
    for i, (x, _) in enumerate(spectra):
        groups.setdefault(x.tobytes(), []).append(i)
    for members in groups.values():
        x = spectra[members[0]][0]
        if len(x) < 4:
            for i in members:
                errors[i] = f"only {len(x)} distinct finite points; need at least 4"
            continue
        mask = (grid >= x[0]) & (grid <= x[-1])
        if not mask.any():
            for i in members:
                errors[i] = (f"range {x[0]:.1f}-{x[-1]:.1f} cm-1 does not overlap the grid "
                             f"{grid[0]:.1f}-{grid[-1]:.1f} cm-1")
            continue
        fitted = _fit_group(x, [spectra[i][1] for i in members], grid[mask])
        for i, values in zip(members, fitted, strict=True):
            if isinstance(values, str):
                errors[i] = values
                continue
            out[i, mask] = values
            inside[i] = mask
    if minmax:
        lo = np.where(inside, out, np.inf).min(axis=1, keepdims=True)
        hi = np.where(inside, out, -np.inf).max(axis=1, keepdims=True)
        span = hi - lo
        scaled = np.divide(out - lo, span, out=np.zeros_like(out), where=span > 0)
        out = np.where(inside, scaled, 0.0).astype(np.float32)
    bad = ~np.isfinite(out).all(axis=1)
    for i in np.flatnonzero(bad):
        errors[i] = "resampled values are not finite"
        out[i] = 0.0
    return out, errors


def resample_rows(spectra: list[tuple[np.ndarray, np.ndarray]], grid: np.ndarray,
                  minmax: bool = True) -> list[np.ndarray | str]:
    """``resample_spectrum`` of each (wavenumber, intensity) pair, bit for bit, or the reason it
    fails: what prediction puts on a model's grid.

    Why: the points of a map (and the files of one instrument set-up) share one axis, and one
    multi-column spline of them is far cheaper than a spline per spectrum. Groups whose joint
    fit fails are done one by one, so each spectrum gets its own answer or reason.
    """
    cleaned = [clean_axis(x, y) for x, y in spectra]
    groups: dict[bytes, list[int]] = {}
    for i, (x, _) in enumerate(cleaned):
        groups.setdefault(x.tobytes(), []).append(i)
    out: list[np.ndarray | str] = [""] * len(spectra)
    for members in groups.values():
        x = cleaned[members[0]][0]
        inside = (grid >= x[0]) & (grid <= x[-1]) if len(x) >= 4 else None
        if len(members) > 1 and inside is not None and inside.any():
            try:
                ys = np.stack([cleaned[i][1] for i in members], axis=1)
                vals = CubicSpline(x, ys, axis=0, extrapolate=False)(grid[inside])
            except ValueError:
                vals = None
            if vals is not None:
                for col, i in enumerate(members):
                    out[i] = _on_grid(vals[:, col], inside, minmax)
                continue
        for i in members:
            try:
                out[i] = resample_spectrum(*cleaned[i], grid, minmax)
            except ValueError as exc:
                out[i] = str(exc)
    return out


def _on_grid(vals: np.ndarray, inside: np.ndarray, minmax: bool) -> np.ndarray:
    """One spectrum's spline values placed on the grid as ``resample_spectrum`` places them."""
    out = np.zeros(len(inside), dtype=np.float64)
    out[inside] = vals
    if minmax:
        vals = out[inside]
        lo, hi = vals.min(), vals.max()
        out[inside] = (vals - lo) / (hi - lo) if hi > lo else 0.0
    return out
