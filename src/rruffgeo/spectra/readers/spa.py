"""Thermo OMNIC ``.spa`` spectra: our own reader of the well-known fixed-offset layout.

No maintained MIT/BSD package reads SPA (SpectroChemPy does, within a large framework). The
layout, as documented by SpectroChemPy's reader and others: ``Spectral Data File`` at 0, the
spectrum's title at 30 (256 bytes), and from 304 a directory of 16-byte entries: a key byte,
then at +2 the offset and at +6 the size (uint32) of its block. Key 2 is the spectrum header
(at +4 the number of points, +8 the x unit code, +12 the y unit code, +16 and +20 the first
and last x as float32); key 3 is the intensities (float32).
"""

from __future__ import annotations

import struct
import warnings

import numpy as np

from rruffgeo.spectra.readers.units import to_raman_shift
from rruffgeo.spectra.spectrum import Spectrum

SPA_MAGIC = b"Spectral Data File"
#: x unit codes: what ``to_raman_shift`` makes of them (2 = data points, never a spectrum).
SPA_X_UNITS = {1: "1/cm", 3: "nm", 4: "um", 32: "raman shift"}
#: y unit codes that are never a Raman intensity.
SPA_Y_REFUSED = {11: "reflectance", 12: "log(1/R)", 15: "single beam", 16: "transmittance",
                 20: "Kubelka-Munk", 21: "reflectance", 22: "an interferogram (volts)",
                 26: "photoacoustic"}
ABSORBANCE, RAMAN_SHIFT = 17, 32
_DIRECTORY, _ENTRY, _MAX_ENTRIES = 304, 16, 1024


def _directory(data: bytes) -> dict[int, tuple[int, int]]:
    """Key -> (offset, size) of the first block of each key."""
    found: dict[int, tuple[int, int]] = {}
    for pos in range(_DIRECTORY, min(len(data) - _ENTRY, _DIRECTORY + _ENTRY * _MAX_ENTRIES),
                     _ENTRY):
        key = data[pos]
        if key in (0, 1):
            break
        found.setdefault(key, struct.unpack_from("<II", data, pos + 2))
    return found


def spa_rule(xcode: int, ycode: int, source: str) -> str | None:
    """Like ``spc_rule``: ValueError when the x or y unit cannot be Raman, a warning for
    absorbance on a plain wavenumber axis (every FT-IR file), else None."""
    if xcode not in SPA_X_UNITS:
        raise ValueError(f"{source}: SPA x unit code {xcode} "
                         f"({'data points' if xcode == 2 else 'unknown'}) cannot be a Raman "
                         "shift")
    if ycode in SPA_Y_REFUSED and not (ycode == 15 and xcode == RAMAN_SHIFT):
        raise ValueError(f"{source}: SPA y unit is {SPA_Y_REFUSED[ycode]}, not a Raman "
                         "intensity")
    if ycode == ABSORBANCE and xcode in (3, 4):
        raise ValueError(f"{source}: SPA absorbance on a wavelength axis is a UV-VIS/NIR "
                         "spectrum, not Raman")
    if ycode == ABSORBANCE and xcode == 1:
        return (f"{source}: SPA y unit is absorbance on a plain wavenumber axis, as FT-IR "
                "files are; read as a Raman spectrum, check it is one")
    return None


def _header(data: bytes, directory: dict[int, tuple[int, int]], source: str
            ) -> tuple[int, int, int, float, float]:
    """Points, x unit code, y unit code, first and last x, each offset checked first."""
    if 2 not in directory or 3 not in directory:
        raise ValueError(f"{source}: SPA file without a spectrum header or intensities")
    offset = directory[2][0]
    if offset + 24 > len(data):
        raise ValueError(f"{source}: SPA header beyond the end of the file")
    npoints, = struct.unpack_from("<I", data, offset + 4)
    first, last = struct.unpack_from("<ff", data, offset + 16)
    return npoints, data[offset + 8], data[offset + 12], first, last


def read_spa(data: bytes, source: str, laser_nm: float | None = None) -> list[Spectrum]:
    """The spectrum of an OMNIC ``.spa`` file; ValueError naming it when it is not Raman."""
    if not data.startswith(SPA_MAGIC):
        raise ValueError(f"{source}: not an OMNIC SPA file (no 'Spectral Data File' mark)")
    directory = _directory(data)
    npoints, xcode, ycode, first, last = _header(data, directory, source)
    note = spa_rule(xcode, ycode, source)
    offset, size = directory[3]
    if not 1 < npoints <= size // 4 or offset + 4 * npoints > len(data):
        raise ValueError(f"{source}: SPA header declares {npoints} points, the intensity "
                         f"block holds {min(size, max(len(data) - offset, 0)) // 4}")
    y = np.frombuffer(data, dtype="<f4", count=npoints, offset=offset).astype(np.float64)
    x = np.linspace(first, last, npoints)
    shift = to_raman_shift(x, SPA_X_UNITS[xcode], laser_nm, source)
    title = data[30:286].split(b"\x00", 1)[0].decode("latin-1", "replace")
    if note:
        warnings.warn(note, stacklevel=2)
    return [Spectrum(shift, y, {"source": source, "format": "spa", "laser_nm": laser_nm,
                                "x_units": SPA_X_UNITS[xcode], "title": title})]
