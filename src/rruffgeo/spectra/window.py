"""The global grid's wavenumber window, and the spectra left out of it (paper 4.1, A.4).

One function, :func:`global_window`, decides the window for both the model's matrix
(``spectra/matrix.py``) and figure 5, so the figure shows the grid the network is trained on.

Rule. The paper's window covers every spectrum: from the smallest start to the largest end.
Taken literally, one spectrum in the wrong units (a file whose axis reads 10,000-99,950 cm-1)
stretches the grid for everyone: on the shared RRUFF data (2,048 points) the median number
of grid points inside a spectrum's own range falls from 572 to 24. So the window covers every
spectrum whose range is a plausible Raman shift; the others are flagged with the reason and
left out.

Plausible is a physical bound, not a quantile of the data:

* upper, ``RAMAN_SHIFT_MAX_CM1`` = 5,000 cm-1: the highest fundamental vibrations in minerals
  are O-H stretches (up to ~3,750 cm-1; the H2 vibron in fluid inclusions is at 4,155); above
  5,000 a Raman spectrum holds only weak overtones and fluorescence;
* lower, ``RAMAN_SHIFT_MIN_CM1`` = -2,000 cm-1: anti-Stokes bands scale with the Boltzmann
  factor exp(-hc|shift|/kT), about 7e-5 at -2,000 cm-1 and room temperature, so nothing is
  measured below it.

A quantile window would crop real bands instead: most spectra end far below the highest
shifts, yet diamond and hydrous minerals legitimately run above 4,000 cm-1, and their O-H bands
would be cut away (docs/guide.md, "Why the defaults"). The physical bound leaves the window of
clean data unchanged and catches what no instrument measures as Raman shift. A spectrum is
flagged when less than half of its measured range lies inside the bound; a spectrum that only
overhangs it is kept and the window is clipped to the bound (the overhang is cropped, as any
part outside the window is). A window given in the settings is used as given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Largest plausible Raman shift (cm-1): above every fundamental mineral vibration (module doc).
RAMAN_SHIFT_MAX_CM1 = 5000.0
#: Smallest plausible (anti-Stokes) Raman shift (cm-1): Boltzmann factor ~7e-5 there.
RAMAN_SHIFT_MIN_CM1 = -2000.0
#: Share of a spectrum's range that must lie inside the bound for it to count.
MIN_INSIDE_SHARE = 0.5


@dataclass(frozen=True)
class GridWindow:
    """The window (cm-1) and, per input spectrum, None or why it was left out of it."""

    start_cm1: float
    stop_cm1: float
    outliers: list[str | None]

    @property
    def bounds(self) -> tuple[float, float]:
        return self.start_cm1, self.stop_cm1

    def outlier_rows(self) -> list[int]:
        """Positions (in the input order) of the spectra left out."""
        return [i for i, r in enumerate(self.outliers) if r is not None]


def outlier_reason(start: float, stop: float, lo: float = RAMAN_SHIFT_MIN_CM1,
                   hi: float = RAMAN_SHIFT_MAX_CM1) -> str | None:
    """Why the range ``start``-``stop`` (cm-1) is not a plausible Raman shift, or None."""
    if not (np.isfinite(start) and np.isfinite(stop)):
        return f"range {start}-{stop} cm-1 is not finite"
    width = stop - start
    inside = max(0.0, min(stop, hi) - max(start, lo))
    share = inside / width if width > 0 else float(lo <= start <= hi)
    if share >= MIN_INSIDE_SHARE:
        return None
    return (f"range {start:.1f}-{stop:.1f} cm-1 lies mostly outside the plausible Raman shift "
            f"({lo:.0f} to {hi:.0f} cm-1; wrong units?): left out of the global grid")


def global_window(starts: Sequence[float] | np.ndarray, stops: Sequence[float] | np.ndarray,
                  configured: Sequence[float] | None = None) -> GridWindow:
    """Window of the global grid over spectra measured from ``starts[i]`` to ``stops[i]``.

    ``configured`` (the settings' ``window_cm1``) wins when given; outliers are flagged either
    way. Raises ValueError when no spectrum has a plausible range and no window is configured.
    """
    starts = np.asarray(starts, dtype=np.float64)
    stops = np.asarray(stops, dtype=np.float64)
    if starts.shape != stops.shape:
        raise ValueError(f"{starts.size} starts but {stops.size} stops")
    reasons = [outlier_reason(float(a), float(b)) for a, b in zip(starts, stops, strict=True)]
    if configured is not None:
        lo, hi = (float(v) for v in configured)
        return GridWindow(lo, hi, reasons)
    keep = np.array([r is None for r in reasons], dtype=bool)
    if not keep.any():
        raise ValueError(f"none of {len(reasons)} spectra has a plausible Raman-shift range "
                         f"({RAMAN_SHIFT_MIN_CM1:.0f} to {RAMAN_SHIFT_MAX_CM1:.0f} cm-1)")
    lo = max(float(starts[keep].min()), RAMAN_SHIFT_MIN_CM1)
    hi = min(float(stops[keep].max()), RAMAN_SHIFT_MAX_CM1)
    return GridWindow(lo, hi, reasons)


__all__ = ["MIN_INSIDE_SHARE", "RAMAN_SHIFT_MAX_CM1", "RAMAN_SHIFT_MIN_CM1", "GridWindow",
           "global_window", "outlier_reason"]
