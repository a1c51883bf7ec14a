"""One name per laser: RRUFF writes some lasers two ways (``514`` and ``514.5`` nm).

The catalog keeps ``laser_nm`` as the header (or file name) writes it and adds
``laser_line_nm``, the emission line of the laser meant, so that grouping by laser groups one
laser once:

- 514 / 514.5 nm: the argon-ion line at 514.5 nm, written truncated in most files;
- 632 / 632.8 / 633 nm: the helium-neon line at 632.8 nm.

780 and 785 nm are kept apart on purpose. They are not one line written with fewer digits
(as 514 is of 514.5) but two common diode-laser wavelengths, and the shared data do not show
them to be one laser: in ``excellent_unoriented.zip`` the 688 files labelled 785 are older
(median file id 19,805) than the 1,446 labelled 780 (median 33,353), their spectra end lower
(median last point 1,244 vs 1,285 cm-1), and 7 of the 8 specimens with both labels hold
different measurements under them. Merging them would assert what the data do not prove;
``laser_nm`` keeps the value for anyone who wants to merge them.
"""

from __future__ import annotations

import math

#: Emission line (nm) -> how files write it (nm values within 0.05 nm of one of these).
LASER_LINES: dict[float, tuple[float, ...]] = {
    514.5: (514.0, 514.5),
    632.8: (632.0, 632.8, 633.0),
}

_WRITTEN_AS = {written: line for line, ways in LASER_LINES.items() for written in ways}


def laser_line_nm(laser_nm: float) -> float:
    """The emission line a written laser wavelength names (the value itself when only one
    way of writing it is known; NaN stays NaN)."""
    if math.isnan(laser_nm):
        return laser_nm
    for written, line in _WRITTEN_AS.items():
        if abs(laser_nm - written) <= 0.05:
            return line
    return laser_nm


__all__ = ["LASER_LINES", "laser_line_nm"]
