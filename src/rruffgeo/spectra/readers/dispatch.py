"""Which reader a file needs, from its extension and its first bytes."""

from __future__ import annotations

import re

from rruffgeo.spectra.readers.binary import read_spc, read_wdf
from rruffgeo.spectra.readers.delimited import read_delimited
from rruffgeo.spectra.readers.jcampdx import read_jcamp
from rruffgeo.spectra.readers.opus import OPUS_MAGIC, read_opus
from rruffgeo.spectra.readers.spa import SPA_MAGIC, read_spa
from rruffgeo.spectra.readers.units import check_laser
from rruffgeo.spectra.spectrum import Spectrum

#: Extensions of text exports the delimited/JCAMP/RRUFF readers are tried on.
TEXT_SUFFIXES = (".txt", ".csv", ".tsv", ".dat", ".asc", ".prn", ".xy")
JCAMP_SUFFIXES = (".jdx", ".dx", ".jcamp", ".jcm")
SUFFIXES = TEXT_SUFFIXES + JCAMP_SUFFIXES + (".spc", ".wdf", ".spa")
#: Bruker OPUS files are numbered: ``sample.0``, ``sample.1``, ``sample.0001``.
OPUS_SUFFIX = re.compile(r"\.\d{1,4}$")
SUPPORTED = "RRUFF .txt, CSV/TSV/TXT, JCAMP-DX, SPC, WDF, OPUS (.0, .1, ...), OMNIC SPA"


def is_supported_name(name: str) -> bool:
    """Whether a file name has the extension of a format read here (folders and zips)."""
    low = name.lower()
    return low.endswith(SUFFIXES) or OPUS_SUFFIX.search(low) is not None


def sniff_format(data: bytes, name: str) -> str:
    """One of ``wdf``, ``spc``, ``opus``, ``spa``, ``jcamp``, ``rruff``, ``text``; ValueError
    when none fits."""
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if data[:4] == b"WDF1" or suffix == ".wdf":
        return "wdf"
    if data[:4] == OPUS_MAGIC or OPUS_SUFFIX.search(suffix):
        return "opus"
    if data.startswith(SPA_MAGIC) or suffix == ".spa":
        return "spa"
    if suffix == ".spc" or (len(data) > 512 and data[1:2] in (b"K", b"L", b"M")
                            and suffix not in TEXT_SUFFIXES + JCAMP_SUFFIXES):
        return "spc"
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if b"\x00" in data[:4096]:
        raise ValueError(f"{name}: binary file of no supported format (supported: "
                         f"{SUPPORTED})")
    if suffix in JCAMP_SUFFIXES or head.upper().startswith(b"##TITLE") \
            or b"##JCAMP" in head.upper():
        return "jcamp"
    if head.startswith(b"##"):
        return "rruff"
    if suffix in TEXT_SUFFIXES or not suffix:
        return "text"
    raise ValueError(f"{name}: unsupported file type {suffix!r} (supported: "
                     f"{SUPPORTED})")


def _utf16_encoding(data: bytes) -> str | None:
    """``utf-16`` (byte-order mark), ``utf-16-le``/``-be`` when nine in ten high bytes of the
    start are zero and no low byte is, else None: no binary format here looks like that."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    head = data[:512 - len(data[:512]) % 2]
    if len(head) < 8:
        return None
    for encoding, high, low in (("utf-16-le", head[1::2], head[0::2]),
                                ("utf-16-be", head[0::2], head[1::2])):
        if high.count(0) >= 0.9 * len(high) and low.count(0) == 0:
            return encoding
    return None


def utf16_as_utf8(data: bytes) -> bytes:
    """UTF-16 text (Windows "Unicode" exports, with or without a byte-order mark) as UTF-8;
    other bytes unchanged."""
    encoding = _utf16_encoding(data)
    if encoding is None:
        return data
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return data
    if not all(ch.isprintable() or ch in "\t\r\n\x1a" for ch in text[:256]):
        return data
    return text.encode("utf-8")


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
    if not name.lower().endswith((".wdf", ".spc", ".spa")) and not OPUS_SUFFIX.search(name):
        data = utf16_as_utf8(data)  # binary formats are never transcoded
    kind = sniff_format(data, name)
    if kind in ("jcamp", "rruff", "text"):
        data = data.split(b"\x1a", 1)[0]  # DOS end-of-file mark: nothing after it is data
    if kind == "wdf":
        return read_wdf(data, name, laser_nm)
    if kind == "spc":
        return read_spc(data, name, laser_nm)
    if kind == "opus":
        if data[:4] != OPUS_MAGIC:
            raise ValueError(f"{name}: not a Bruker OPUS file (numbered extension, but no "
                             "OPUS signature)")
        return read_opus(data, name, laser_nm)
    if kind == "spa":
        return read_spa(data, name, laser_nm)
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
