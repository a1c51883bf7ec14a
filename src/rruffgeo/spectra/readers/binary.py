"""Binary instrument files through their maintained readers: Galactic/Thermo SPC (``spc-io``)
and Renishaw WDF (``renishaw-wdf``). Both are optional: a missing package is one clear line."""

from __future__ import annotations

import io
import logging

import numpy as np

from rruffgeo.spectra.readers.units import to_raman_shift
from rruffgeo.spectra.spectrum import Spectrum

#: SPC x-axis types (spc-io names) and the unit each means for ``to_raman_shift``.
SPC_X_UNITS = {"XRAMANS": "raman shift", "XWAVEN": "1/cm", "XNMETR": "nm", "XUMETR": "um"}


def _numbered(source: str, i: int, n: int) -> str:
    return source if n == 1 else f"{source}#{i + 1}"


def read_spc(data: bytes, source: str, laser_nm: float | None = None) -> list[Spectrum]:
    """Every subfile of a Galactic/Thermo SPC file (``file#2`` etc. after the first)."""
    try:
        from spc_io import SPC
    except ImportError:
        raise ValueError(f"{source}: reading SPC files needs the spc-io package "
                         "(pip install spc-io)") from None
    logging.getLogger("spc_io").setLevel(logging.CRITICAL)  # it logs unparsable dates
    try:
        spc = SPC.from_bytes_io(io.BytesIO(data))
        xtype = str(getattr(spc.xtype, "name", spc.xtype))
        subs = [(np.asarray(s.xarray, float), np.asarray(s.yarray, float)) for s in spc]
    except Exception as exc:  # noqa: BLE001 - any parse failure of untrusted bytes
        raise ValueError(f"{source}: not a readable SPC file ({type(exc).__name__}: "
                         f"{exc})") from None
    if xtype not in SPC_X_UNITS:
        raise ValueError(f"{source}: SPC x axis {xtype} cannot be a Raman shift")
    out = []
    for i, (x, y) in enumerate(subs):
        name = _numbered(source, i, len(subs))
        shift = to_raman_shift(x, SPC_X_UNITS[xtype], laser_nm, name)
        out.append(Spectrum(shift, y, {"source": name, "format": "spc", "x_units": xtype,
                                       "laser_nm": laser_nm}))
    return out


def read_wdf(data: bytes, source: str, laser_nm: float | None = None) -> list[Spectrum]:
    """Every spectrum of a Renishaw WDF file (a map gives one per point: ``file#N``)."""
    try:
        from wdf import Wdf
    except ImportError:
        raise ValueError(f"{source}: reading WDF files needs the renishaw-wdf package "
                         "(pip install renishaw-wdf)") from None
    try:
        with Wdf() as wdf:
            wdf.open_fd(io.BytesIO(data))
            xlist = wdf.xlist()
            x = np.asarray(list(xlist), dtype=np.float64)
            unit = str(getattr(xlist.units, "name", xlist.units))
            laser_cm1 = float(wdf.hdr.laser_wavenumber or 0.0)
            n = int(wdf.hdr.ncollected or wdf.hdr.nspectra)
            ys = [np.asarray(wdf.spectrum(i), dtype=np.float64) for i in range(n)]
    except Exception as exc:  # noqa: BLE001 - any parse failure of untrusted bytes
        raise ValueError(f"{source}: not a readable WDF file ({type(exc).__name__}: "
                         f"{exc})") from None
    laser = 1e7 / laser_cm1 if laser_cm1 > 0 else laser_nm
    units = {"RamanShift": "raman shift", "Nanometre": "nm", "Micron": "um"}.get(unit, unit)
    out = []
    for i, y in enumerate(ys):
        name = _numbered(source, i, n)
        out.append(Spectrum(to_raman_shift(x, units, laser, name), y,
                            {"source": name, "format": "wdf", "x_units": unit,
                             "laser_nm": laser}))
    return out
