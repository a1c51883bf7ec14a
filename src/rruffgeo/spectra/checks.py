"""The one check every spectrum passes before a model predicts it.

A model answers anything it is given with confident-looking numbers, so what it cannot judge
is refused here, with one line naming the spectrum and the problem: too few points, a
fragment, too little of the model's window, an axis that looks like a wavelength in nm read
as cm-1, swapped columns, a flat (constant or all-zero) signal, values that are not finite.
Spectra that are usable but weak (under 20% of the window) pass with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rruffgeo.spectra.spectrum import Spectrum

#: Fewest distinct points accepted: fewer cannot describe Raman bands on a ~2 cm-1 grid.
MIN_POINTS = 16
#: Narrowest range accepted (cm-1): a few Raman bands need at least this much.
MIN_SPAN_CM1 = 100.0
#: Share of the model's window a spectrum must cover. RRUFF training spectra cover 23-35%
#: of the default ~0-4,250 cm-1 window (1st-90th percentile, 8,361 spectra), so below 20%
#: a prediction is warned about and below 8% (~340 cm-1 of that window) it is refused.
WARN_COVERAGE = 0.20
MIN_COVERAGE = 0.08
#: A headerless x axis (units assumed by the reader) inside this range and no wider than
#: NM_MAX_SPAN looks like the wavelength (nm) of light scattered from a visible or near-infrared
#: laser. Arrays given in Python say they are Raman shift and are not second-guessed.
NM_RANGE = (500.0, 1100.0)
NM_MAX_SPAN = 450.0
#: Direction changes of the x axis still taken as stitched windows (each overlap 2 turns).
MAX_TURNS = 8
#: Relative spread below which a signal is flat (constant, all zero, or rounding noise).
FLAT_SPREAD = 1e-9


@dataclass(frozen=True)
class Verdict:
    """What the check found: ``refusal`` (the reason, None when usable) and warnings."""

    refusal: str | None = None
    warnings: tuple[str, ...] = ()


def window_coverage(wavenumber: np.ndarray, grid: np.ndarray) -> float:
    """Share of the grid points that lie inside the spectrum's measured range."""
    x = np.asarray(wavenumber, float)
    x = x[np.isfinite(x)]
    if not len(x):
        return 0.0
    return float(((grid >= x.min()) & (grid <= x.max())).mean())


def _monotonic(v: np.ndarray) -> bool:
    d = np.diff(v)
    return bool((d >= 0).all() or (d <= 0).all())


def _values_problem(x: np.ndarray, y: np.ndarray) -> str | None:
    """Non-finite values and flat signals: nothing a model can read."""
    bad_x, bad_y = int((~np.isfinite(x)).sum()), int((~np.isfinite(y)).sum())
    if bad_x or bad_y:
        return (f"{bad_x + bad_y} of {2 * len(x)} values are not finite (NaN or infinity: "
                f"{bad_x} wavenumbers, {bad_y} intensities)")
    if len(y) and np.ptp(y) <= FLAT_SPREAD * max(1.0, float(np.abs(y).max())):
        what = "all zero" if not np.abs(y).max() else f"constant ({y[0]:g})"
        return f"the intensities are {what}: there is no spectrum to compare"
    return None


def values_ok_rows(Y: np.ndarray) -> np.ndarray:
    """Per row of ``Y`` (spectra on one finite axis of at least one point), whether
    ``_values_problem`` finds nothing (all finite, not flat): its tests, on many spectra at
    once."""
    Y = np.asarray(Y, dtype=np.float64)
    finite = np.isfinite(Y).all(axis=1)
    with np.errstate(invalid="ignore"):
        flat = np.ptp(Y, axis=1) <= FLAT_SPREAD * np.maximum(1.0, np.abs(Y).max(axis=1))
    return finite & ~flat


def _turns(v: np.ndarray) -> int:
    """How often the axis changes direction (0 for a monotonic one)."""
    d = np.sign(np.diff(v))
    d = d[d != 0]
    return int((d[1:] != d[:-1]).sum())


def _axis_problem(x: np.ndarray, y: np.ndarray, units: str) -> str | None:
    """Swapped columns, an axis in no order, and a wavelength axis taken for Raman shift.
    An axis that turns back a few times (windows stitched with an overlap) passes: it is
    sorted and the overlaps averaged."""
    if not _monotonic(x):
        if _monotonic(y):
            return ("the first column is not in order while the second is: the columns look "
                    "swapped (intensity, shift); put the Raman shift first")
        turns = _turns(x)
        if turns > max(MAX_TURNS, 0.01 * len(x)):
            return (f"the Raman shift column changes direction {turns} times: it is no "
                    "axis (a column of intensities first?)")
    lo, hi = float(x.min()), float(x.max())
    if "assumed" in units and NM_RANGE[0] <= lo and hi <= NM_RANGE[1] \
            and hi - lo <= NM_MAX_SPAN:
        return (f"x axis {lo:.0f}-{hi:.0f} with no units looks like a wavelength in nm, not a "
                "Raman shift; name the column 'Wavelength (nm)' and give --laser-nm, or "
                "'Raman shift (cm-1)' if it is one")
    return None


def check_spectrum(spectrum: Spectrum, grid: np.ndarray) -> Verdict:
    """Whether ``spectrum`` can be predicted by a model on ``grid`` (cm-1), and why not."""
    x, y = spectrum.wavenumber_cm1, spectrum.intensity
    units = str(spectrum.metadata.get("x_units", "") or "")
    problem = _values_problem(x, y) or _axis_problem(x, y, units.lower())
    if problem is None:
        problem = _range_problem(x, grid)
    if problem is not None:
        return Verdict(refusal=problem)
    coverage = window_coverage(x, grid)
    if coverage < WARN_COVERAGE:
        return Verdict(warnings=(f"covers only {coverage:.0%} of the model's window "
                                 f"{_window(grid)}; the prediction is less reliable",))
    return Verdict()


def _window(grid: np.ndarray) -> str:
    return f"{grid[0]:.0f}-{grid[-1]:.0f} cm-1"


def _range_problem(x: np.ndarray, grid: np.ndarray) -> str | None:
    """Too few points, a fragment, or too little of the model's window."""
    distinct = len(np.unique(x))
    if distinct < MIN_POINTS:
        return f"only {distinct} distinct finite points; need at least {MIN_POINTS}"
    lo, hi = float(x.min()), float(x.max())
    if hi < grid[0] or lo > grid[-1]:
        return (f"range {lo:.1f}-{hi:.1f} cm-1 does not overlap the model's window "
                f"{_window(grid)}")
    coverage = window_coverage(x, grid)
    if coverage < MIN_COVERAGE:
        return (f"covers {coverage:.0%} of the model's window {_window(grid)} "
                f"(at least {MIN_COVERAGE:.0%} needed)")
    if hi - lo < MIN_SPAN_CM1:  # a narrow model window lets a fragment pass the share
        return (f"spans only {hi - lo:.0f} cm-1 ({lo:.0f}-{hi:.0f}); a fragment this short "
                f"holds too few bands (at least {MIN_SPAN_CM1:.0f} cm-1 needed)")
    return None
