"""Which reader a file needs, from its extension and its first bytes."""

from __future__ import annotations

from rruffgeo.spectra.readers.binary import read_spc, read_wdf
from rruffgeo.spectra.readers.delimited import read_delimited
from rruffgeo.spectra.readers.jcampdx import read_jcamp
from rruffgeo.spectra.readers.units import check_laser
from rruffgeo.spectra.spectrum import Spectrum

#: Extensions of text exports the delimited/JCAMP/RRUFF readers are tried on.
TEXT_SUFFIXES = (".txt", ".csv", ".tsv", ".dat", ".asc", ".prn", ".xy")
JCAMP_SUFFIXES = (".jdx", ".dx", ".jcamp", ".jcm")
SUFFIXES = TEXT_SUFFIXES + JCAMP_SUFFIXES + (".spc", ".wdf")


def sniff_format(data: bytes, name: str) -> str:
    """One of ``wdf``, ``spc``, ``jcamp``, ``rruff``, ``text``; ValueError when none fits."""
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if data[:4] == b"WDF1" or suffix == ".wdf":
        return "wdf"
    if suffix == ".spc" or (len(data) > 512 and data[1:2] in (b"K", b"L", b"M")
                            and suffix not in TEXT_SUFFIXES + JCAMP_SUFFIXES):
        return "spc"
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if b"\x00" in data[:4096]:
        raise ValueError(f"{name}: binary file of no supported format (supported: "
                         "RRUFF .txt, CSV/TSV/TXT, JCAMP-DX, SPC, WDF)")
    if suffix in JCAMP_SUFFIXES or head.upper().startswith(b"##TITLE") \
            or b"##JCAMP" in head.upper():
        return "jcamp"
    if head.startswith(b"##"):
        return "rruff"
    if suffix in TEXT_SUFFIXES or not suffix:
        return "text"
    raise ValueError(f"{name}: unsupported file type {suffix!r} (supported: "
                     f"{', '.join(SUFFIXES)})")


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _read_rruff(data: bytes, name: str) -> Spectrum:
    from rruffgeo.data.rruff_file import parse_rruff_bytes

    rec = parse_rruff_bytes(data, name)
    laser = rec.headers.get("RAMAN WAVELENGTH") or _laser_from_rruff_name(name)
    return Spectrum(rec.wavenumber_cm1, rec.intensity, {
        "source": name, "format": "rruff", "x_units": "cm-1",
        "laser_nm": laser, "rruff_id": rec.headers.get("RRUFFID", ""),
        "names": rec.headers.get("NAMES", "")})


def _laser_from_rruff_name(name: str) -> float | None:
    parts = name.rsplit("/", 1)[-1].split("__")
    try:
        return float(parts[3]) if len(parts) > 3 else None
    except ValueError:
        return None


def read_bytes(data: bytes, name: str, laser_nm: float | None = None) -> list[Spectrum]:
    """Every spectrum in one file's bytes; ValueError naming ``name`` and the reason."""
    laser_nm = check_laser(laser_nm, "--laser-nm")
    if not data.strip():
        raise ValueError(f"{name}: empty file")
    kind = sniff_format(data, name)
    if kind == "wdf":
        return read_wdf(data, name, laser_nm)
    if kind == "spc":
        return read_spc(data, name, laser_nm)
    if kind == "jcamp":
        return read_jcamp(_decode(data), name, laser_nm)
    if kind == "rruff":
        spectrum = _read_rruff(data, name)
        laser = spectrum.metadata["laser_nm"]
        if laser is not None:
            try:
                laser = float(str(laser).split()[0])
            except ValueError:
                laser = None
        return [spectrum.with_values(laser_nm=laser or laser_nm)]
    return read_delimited(_decode(data), name, laser_nm)
