"""Resample one spectrum onto the global grid: cubic spline inside its own range, zero outside.

Reference implementation of paper A.4 for a single spectrum (``resample_spectrum``) and its
vectorised forms for many spectra, on one core (``fit_groups``): ``resample_many`` (the
matrix builder: float32 rows, min-max on the float32 values) and ``resample_rows``
(prediction: float64 rows, each bit for bit as ``resample_spectrum`` gives it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


#: Spectra per spline fit: a fit holds four coefficients per interval per spectrum (a map's
#: 10,000 points at once ~300 MB). The values do not depend on it: each column is fitted
#: alone, bit for bit as by itself (tests).
FIT_COLUMNS = 1024


@dataclass
class GroupFit:
    """Spline values of spectra sharing one cleaned axis: ``members`` (input positions),
    ``inside`` (grid points within the axis' range), ``values`` (inside points, members)
    and, per member, None or the reason it could not be fitted (its column is then unused)."""

    members: list[int]
    inside: np.ndarray
    values: np.ndarray
    reasons: list[str | None]


def _spline(x: np.ndarray, Y: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Values at ``at`` (len(at), S) of the cubic splines through the rows of ``Y`` (S, n)
    on ``x``, a multi-column fit per ``FIT_COLUMNS`` rows; ValueError when one fails."""
    with np.errstate(all="ignore"):
        return np.concatenate([
            CubicSpline(x, Y[lo:lo + FIT_COLUMNS].T, axis=0, extrapolate=False)(at)
            for lo in range(0, len(Y), FIT_COLUMNS)], axis=1)


def _fit_group(x: np.ndarray, Y: np.ndarray, at: np.ndarray) -> tuple[np.ndarray,
                                                                      list[str | None]]:
    """``_spline``, or when that fails (values so large that the spline overflows) a fit
    per spectrum so only the bad ones fail, each with the reason."""
    try:
        return _spline(x, Y, at), [None] * len(Y)
    except ValueError:
        pass
    values, reasons = np.zeros((len(at), len(Y))), []
    for j, y in enumerate(Y):
        try:
            values[:, j] = _spline(x, y[None], at)[:, 0]
            reasons.append(None)
        except ValueError as exc:
            reasons.append(str(exc) or "the cubic spline cannot be fitted")
    return values, reasons


def fit_groups(cleaned: list[tuple[np.ndarray, np.ndarray]], grid: np.ndarray
               ) -> list[GroupFit]:
    """The spline values of cleaned spectra (``clean_axis`` output) on ``grid``, by the
    rules of ``resample_spectrum``, spectra sharing an axis fitted together (the same
    instrument set-up, a map's points): what both ``resample_many`` and ``resample_rows``
    put on the grid."""
    groups: dict[bytes, list[int]] = {}
    for i, (x, _) in enumerate(cleaned):
        groups.setdefault(x.tobytes(), []).append(i)
    out = []
    for members in groups.values():
        x = cleaned[members[0]][0]
        inside = (grid >= x[0]) & (grid <= x[-1]) if len(x) else np.zeros(len(grid), bool)
        if len(x) < 4:
            reason = f"only {len(x)} distinct finite points; need at least 4"
        elif not inside.any():
            reason = (f"range {x[0]:.1f}-{x[-1]:.1f} cm-1 does not overlap the grid "
                      f"{grid[0]:.1f}-{grid[-1]:.1f} cm-1")
        else:
            Y = np.stack([cleaned[i][1] for i in members])
            out.append(GroupFit(members, inside, *_fit_group(x, Y, grid[inside])))
            continue
        out.append(GroupFit(members, inside, np.zeros((0, len(members))),
                            [reason] * len(members)))
    return out


def resample_many(
    spectra: list[tuple[np.ndarray, np.ndarray]], grid: np.ndarray, minmax: bool = True
) -> tuple[np.ndarray, list[str | None]]:
    """Resample cleaned spectra (``clean_axis`` output) by the rules of ``resample_spectrum``
    (``fit_groups``), min-max normalised on the float32 matrix at once: the matrix builder's
    form. Returns the float32 matrix (rows of failed spectra are zero) and, per spectrum,
    None or the reason it failed."""
    out = np.zeros((len(spectra), len(grid)), dtype=np.float32)
    inside = np.zeros((len(spectra), len(grid)), dtype=bool)
    errors: list[str | None] = [None] * len(spectra)
    for fit in fit_groups(spectra, grid):
        for j, i in enumerate(fit.members):
            if fit.reasons[j] is not None:
                errors[i] = fit.reasons[j] if not fit.values.size \
                    else "the cubic spline cannot be fitted (values overflow)"
                continue
            out[i, fit.inside] = fit.values[:, j]
            inside[i] = fit.inside
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


def clean_rows(spectra: list[tuple[np.ndarray, np.ndarray]]
               ) -> list[tuple[np.ndarray, np.ndarray]]:
    """``clean_axis`` of each pair; spectra given on one shared axis (views of the same memory)
    that is finite and strictly monotonic, with finite values, are only sorted, once for all:
    what ``clean_axis`` would do to each."""
    out: list[tuple[np.ndarray, np.ndarray]] = []
    shared: dict[tuple[int, tuple[int, ...], tuple[int, ...], str], Any] = {}
    for x, y in spectra:
        x = np.asarray(x)  # views of one array share its memory: the key
        key = (x.__array_interface__["data"][0], x.shape, x.strides, x.dtype.str)
        if key not in shared:
            shared[key] = _plain_order(x)
        plain = shared[key]
        y = np.asarray(y, dtype=np.float64)
        if plain is not None and np.isfinite(y).all():
            out.append((plain[0], y[plain[1]]))
        else:
            out.append(clean_axis(x, y))
    return out


def _plain_order(x: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The sorted axis and its order when ``x`` is finite and strictly monotonic, else None."""
    x = np.asarray(x, dtype=np.float64)
    step = np.diff(x)
    if len(x) < 2 or not np.isfinite(x).all() or not ((step > 0).all() or (step < 0).all()):
        return None
    order = np.argsort(x, kind="stable")
    return x[order], order


def resample_rows(spectra: list[tuple[np.ndarray, np.ndarray]], grid: np.ndarray,
                  minmax: bool = True) -> list[np.ndarray | str]:
    """``resample_spectrum`` of each (wavenumber, intensity) pair, bit for bit, or the reason it
    fails: what prediction puts on a model's grid (float64, min-max per row).

    Why: the points of a map (and the files of one instrument set-up) share one axis, and one
    multi-column spline of them is far cheaper than a spline per spectrum (``fit_groups``).
    """
    out: list[np.ndarray | str] = [""] * len(spectra)
    for fit in fit_groups(clean_rows(spectra), grid):
        ok = [j for j, r in enumerate(fit.reasons) if r is None]
        for j, reason in enumerate(fit.reasons):
            if reason is not None:
                out[fit.members[j]] = reason
        if not ok:
            continue
        rows = np.zeros((len(ok), len(grid)))
        vals = fit.values[:, ok].T
        if minmax:
            lo, hi = vals.min(axis=1, keepdims=True), vals.max(axis=1, keepdims=True)
            vals = np.where(hi > lo, (vals - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0)
        rows[:, fit.inside] = vals
        for j, row in zip(ok, rows, strict=True):
            out[fit.members[j]] = row
    return out
