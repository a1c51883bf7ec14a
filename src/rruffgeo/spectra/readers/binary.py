"""Binary instrument files through their maintained readers: Galactic/Thermo SPC (``spc-io``)
and Renishaw WDF (``renishaw-wdf``). Both are optional: a missing package is one clear line."""

from __future__ import annotations

import io
import logging
import warnings
from typing import Any

import numpy as np

from rruffgeo.spectra.readers.units import to_raman_shift
from rruffgeo.spectra.spectrum import Spectrum

#: SPC x-axis types (spc-io names) that can be a Raman axis, and the unit each means for
#: ``to_raman_shift``; every other x type (arbitrary, seconds, m/z, pixels, ...) is refused.
SPC_X_UNITS = {"XRAMANS": "raman shift", "XWAVEN": "1/cm", "XNMETR": "nm", "XUMETR": "um"}
#: SPC y types that are never Raman intensities.
SPC_Y_REFUSED = {"YTRANS": "transmittance", "YREFLEC": "reflectance", "YLOGDR": "log(1/R)",
                 "YKMONK": "Kubelka-Munk", "YIGRAM": "an interferogram"}
#: SPC experiment types (``fexper``) of techniques that never give a Raman spectrum.
SPC_EXPERIMENTS_REFUSED = {
    "SPCGC": "gas chromatogram", "SPCCGM": "chromatogram", "SPCHPLC": "HPLC chromatogram",
    "SPCNIR": "NIR spectrum", "SPCUV": "UV-VIS spectrum", "SPCXRY": "X-ray diffraction",
    "SPCMS": "mass spectrum", "SPCNMR": "NMR spectrum", "SPCFLR": "fluorescence spectrum",
    "SPCATM": "atomic spectrum", "SPCDAD": "diode-array chromatogram"}


def _numbered(source: str, i: int, n: int) -> str:
    return source if n == 1 else f"{source}#{i + 1}"


def spc_rule(xtype: str, ytype: str, experiment: str, source: str) -> str | None:
    """Whether an SPC file can hold Raman spectra, from its x, y and experiment types.

    ValueError (naming ``source``) when it cannot; a warning to give when it is read but
    looks like something else (absorbance on a plain wavenumber axis: every FT-IR file);
    None when it is plainly Raman. The rule is in docs/formats.md.
    """
    if experiment in SPC_EXPERIMENTS_REFUSED:
        raise ValueError(f"{source}: SPC experiment type {experiment} "
                         f"({SPC_EXPERIMENTS_REFUSED[experiment]}) is not a Raman spectrum")
    if xtype not in SPC_X_UNITS:
        raise ValueError(f"{source}: SPC x axis {xtype} cannot be a Raman shift (expected "
                         "XRAMANS, XWAVEN, or XNMETR/XUMETR with the laser wavelength)")
    if ytype in SPC_Y_REFUSED:
        raise ValueError(f"{source}: SPC y axis {ytype} ({SPC_Y_REFUSED[ytype]}) is not a "
                         "Raman intensity")
    if ytype == "YABSRB" and xtype in ("XNMETR", "XUMETR"):
        raise ValueError(f"{source}: SPC absorbance (YABSRB) on a wavelength axis ({xtype}) "
                         "is a UV-VIS/NIR spectrum, not Raman")
    if ytype == "YABSRB" and xtype == "XWAVEN" and experiment != "SPCRMN":
        return (f"{source}: SPC y axis is absorbance (YABSRB) on a plain wavenumber axis "
                "(XWAVEN), as FT-IR files are; read as a Raman spectrum, check it is one")
    return None


def _subfile_spectra(subs: list[tuple[np.ndarray, np.ndarray]], xtype: str, source: str,
                     laser_nm: float | None) -> tuple[list[Spectrum], list[str]]:
    """Spectra of the subfiles that hold data, and why each other subfile was passed over."""
    out: list[Spectrum] = []
    skipped: list[str] = []
    for i, (x, y) in enumerate(subs):
        name = _numbered(source, i, len(subs))
        if not len(y) or not np.isfinite(y).any() or not np.isfinite(x).any():
            skipped.append(f"subfile {i + 1}: no finite points")
            continue
        shift = to_raman_shift(x, SPC_X_UNITS[xtype], laser_nm, name)
        out.append(Spectrum(shift, y, {"source": name, "format": "spc", "x_units": xtype,
                                       "laser_nm": laser_nm}))
    return out, skipped


def _parse_spc(data: bytes, source: str) -> tuple[str, str, str, list]:
    """x type, y type, experiment type and (x, y) of each subfile, through spc-io."""
    try:
        from spc_io import SPC
        from spc_io.low_level.spc_raw import SpcRaw
    except ImportError:
        raise ValueError(f"{source}: reading SPC files needs the spc-io package "
                         "(pip install spc-io)") from None
    logging.getLogger("spc_io").setLevel(logging.CRITICAL)  # it logs unparsable dates
    try:
        raw = SpcRaw.from_bytes_io(io.BytesIO(data))
        spc = SPC.from_spc_raw(raw)
        names = [str(getattr(t, "name", t)) for t in (spc.xtype, spc.ytype,
                                                      raw.main_header.fexper)]
        subs = [(np.asarray(s.xarray, float), np.asarray(s.yarray, float)) for s in spc]
    except Exception as exc:  # noqa: BLE001 - any parse failure of untrusted bytes
        raise ValueError(f"{source}: not a readable SPC file ({type(exc).__name__}: "
                         f"{exc})") from None
    return names[0], names[1], names[2], subs


def read_spc(data: bytes, source: str, laser_nm: float | None = None) -> list[Spectrum]:
    """Every subfile of a Galactic/Thermo SPC file (``file#2`` etc. after the first) that
    ``spc_rule`` accepts; subfiles with no data are passed over with a warning, and a file
    whose subfiles all are is refused."""
    xtype, ytype, experiment, subs = _parse_spc(data, source)
    note = spc_rule(xtype, ytype, experiment, source)
    if subs:  # a wavelength axis with no laser refuses the file, not each subfile
        to_raman_shift(subs[0][0][:1], SPC_X_UNITS[xtype], laser_nm, source)
    out, skipped = _subfile_spectra(subs, xtype, source, laser_nm)
    if not out:
        raise ValueError(f"{source}: none of its {len(subs)} SPC subfiles holds a spectrum"
                         + (f" ({'; '.join(skipped[:3])}{'; ...' if len(skipped) > 3 else ''})"
                            if skipped else ""))
    if skipped:
        warnings.warn(f"{source}: read {len(out)} of {len(subs)} SPC subfiles; skipped "
                      f"{len(skipped)} with no finite points", stacklevel=2)
    if note:
        warnings.warn(note, stacklevel=2)
    return out


def read_wdf(data: bytes, source: str, laser_nm: float | None = None) -> list[Spectrum]:
    """Every spectrum of a Renishaw WDF file (a map gives one per point: ``file#N``), all on
    one shared axis array."""
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
            ys = _wdf_rows(wdf, data, n)
    except Exception as exc:  # noqa: BLE001 - any parse failure of untrusted bytes
        raise ValueError(f"{source}: not a readable WDF file ({type(exc).__name__}: "
                         f"{exc})") from None
    laser = 1e7 / laser_cm1 if laser_cm1 > 0 else laser_nm
    units = {"RamanShift": "raman shift", "Nanometre": "nm", "Micron": "um"}.get(unit, unit)
    if not n:
        return []
    shift = to_raman_shift(x, units, laser, _numbered(source, 0, n))
    return [Spectrum(shift, y, {"source": _numbered(source, i, n), "format": "wdf",
                                "x_units": unit, "laser_nm": laser})
            for i, y in enumerate(ys)]


def _wdf_rows(wdf: Any, data: bytes, n: int) -> np.ndarray:
    """The first ``n`` spectra of an open WDF file as rows (float64): its DATA block read as
    one array, not a Python tuple per spectrum. A file the block cannot hold them in goes
    through the reader's own per-spectrum calls, which say what is wrong."""
    from wdf.wdf import WdfBlock, WdfBlockId

    points = int(wdf.hdr.npoints)
    if n == 0:
        return np.zeros((0, points))
    _, pos = wdf.find_section(WdfBlockId.DATA)
    start = pos + WdfBlock._SIZE
    if n <= int(wdf.hdr.nspectra) and start + n * points * 4 <= len(data):
        rows = np.frombuffer(data, dtype="<f4", count=n * points, offset=start)
        return rows.reshape(n, points).astype(np.float64)
    return np.array([np.asarray(wdf.spectrum(i), dtype=np.float64) for i in range(n)])
