"""The x axis a file declares, turned into Raman shift (cm-1) or refused with the reason."""

from __future__ import annotations

import re

import numpy as np

#: Lasers used for Raman: anything outside this is a typo (e.g. a power in mW) and is refused.
LASER_RANGE_NM = (200.0, 1100.0)

_SHIFT = re.compile(r"raman\s*shift|^(1/cm|cm-1|cm\^-1|cm⁻¹|cm-¹|rel\.?\s*1/cm|xramans)$")
_WAVENUMBER = re.compile(r"^(1/cm|cm-1|cm\^-1|cm⁻¹|cm-¹|wavenumbers?( \(cm-1\))?|xwaven)$")
_NM = re.compile(r"^(nm|nanomet(er|re)s?|xnmetr)$")
_UM = re.compile(r"^(um|µm|μm|micromet(er|re)s?|microns?|xumetr)$")


def check_laser(laser_nm: float | None, source: str) -> float | None:
    if laser_nm is None:
        return None
    laser = float(laser_nm)
    if not LASER_RANGE_NM[0] <= laser <= LASER_RANGE_NM[1]:
        raise ValueError(f"{source}: laser wavelength {laser:g} nm is outside "
                         f"{LASER_RANGE_NM[0]:g}-{LASER_RANGE_NM[1]:g} nm")
    return laser


def nm_to_raman_shift(wavelength_nm: np.ndarray, laser_nm: float) -> np.ndarray:
    """Raman shift (cm-1) of scattered light at ``wavelength_nm`` for a laser at ``laser_nm``."""
    return 1e7 / laser_nm - 1e7 / np.asarray(wavelength_nm, dtype=np.float64)


def to_raman_shift(x: np.ndarray, units: str | None, laser_nm: float | None,
                   source: str) -> np.ndarray:
    """Raman shift (cm-1) from an axis in ``units``; ValueError naming the file otherwise.

    Raman shift and plain cm-1 pass as they are; absolute wavelength (nm, um) is converted
    with the laser wavelength (from the file or ``--laser-nm``); anything else (Hz, ppm, m/z,
    seconds, pixels, eV, ...) cannot be a Raman shift and is refused.
    """
    unit = (units or "").strip().lower()
    if not unit or _SHIFT.search(unit) or _WAVENUMBER.match(unit):
        return np.asarray(x, dtype=np.float64)
    scale = 1.0 if _NM.match(unit) else 1000.0 if _UM.match(unit) else None
    if scale is None:
        raise ValueError(f"{source}: x axis in {units!r} cannot be a Raman shift (expected "
                         "cm-1, or a wavelength in nm with the laser wavelength)")
    laser = check_laser(laser_nm, source)
    if laser is None:
        raise ValueError(f"{source}: x axis is an absolute wavelength ({units}); give the "
                         "laser wavelength (--laser-nm) to convert it to Raman shift")
    return nm_to_raman_shift(np.asarray(x, dtype=np.float64) * scale, laser)


def laser_from_text(value: str) -> float | None:
    """The first number of a header value such as ``532nm_Edge`` or ``532,02``, else None."""
    m = re.search(r"\d+(?:[.,]\d+)?", value or "")
    if not m:
        return None
    number = float(m.group(0).replace(",", "."))
    return number if LASER_RANGE_NM[0] <= number <= LASER_RANGE_NM[1] else None
