"""Bruker OPUS files (``.0``, ``.1``, ``.0001``, ...) through ``brukeropus`` (MIT).

An OPUS file is a directory of blocks: parameters, and data blocks each paired with a "data
status" block (x range, number of points, y scale). Only Raman data blocks (OPUS type
"Raman", written by FT-Raman and Senterra/MultiRAM instruments) are spectra for this tool;
an FT-IR file (absorbance, transmittance, reflectance, single channels, interferograms) is
refused naming what it holds. ``brukeropus``' own ``OPUSFile`` is not used: it sizes arrays
from the file's point counts unchecked and reads data series eagerly, which a hostile file
turns into a memory bomb. Its block parsers are used on blocks we choose, bounded by the file.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rruffgeo.spectra.readers.units import to_raman_shift
from rruffgeo.spectra.spectrum import Spectrum

OPUS_MAGIC = b"\x0a\x0a\xfe\xfe"
#: OPUS block type code (4th field) of Raman data.
RAMAN_TYPE = 10
#: OPUS x units (DXU) and what they mean for ``to_raman_shift``; PNT, LGW etc. are refused.
OPUS_X_UNITS = {"WN": "cm-1", "MI": "um", "NM": "nm"}
#: Most blocks read from one directory (real files hold tens).
MAX_BLOCKS = 4096


def _blocks(data: bytes, source: str) -> list[Any]:
    """Parsed parameter and 1-D data blocks of the file (data series are never parsed)."""
    try:
        from brukeropus.file.block import FileBlock
        from brukeropus.file.parse import parse_directory, parse_header
    except ImportError:
        raise ValueError(f"{source}: reading Bruker OPUS files needs the brukeropus package "
                         "(pip install 'rruffgeo[opus]' or pip install brukeropus)") from None
    try:
        _, start, max_blocks, _ = parse_header(data)
        entries = parse_directory(data[start:start + 12 * min(max(max_blocks, 0), MAX_BLOCKS)])
    except Exception as exc:  # noqa: BLE001 - any parse failure of untrusted bytes
        raise ValueError(f"{source}: not a readable OPUS file ({type(exc).__name__}: "
                         f"{exc})") from None
    blocks = []
    for block_type, size, offset in entries:
        block = FileBlock(filebytes=data, block_type=block_type, size=max(size, 0),
                          start=offset)
        if block.is_param() or block.is_data():
            block.parse()
            if block.parse_error is None:
                blocks.append(block)
    return blocks


def _label(block: Any) -> str:
    """A block's name for messages (brukeropus' label, e.g. "Sample Spectrum")."""
    try:
        return str(block.get_label()).strip() or f"block type {tuple(block.type)}"
    except Exception:  # noqa: BLE001 - a label is only for the message
        return f"block type {tuple(block.type)}"


def _block_xy(block: Any, status: Any) -> tuple[np.ndarray, np.ndarray, str]:
    """x, y and x unit of one data block from its data status parameters, the point count
    checked against the block's size before any array is made."""
    params = status.data
    y = np.asarray(block.data, dtype=np.float64)
    npt = int(params.get("npt", 0))
    if not 1 < npt <= len(y):
        raise ValueError(f"{_label(block)}: {npt} points declared, {len(y)} stored")
    y = y[-npt:] if block.is_compact_data() else y[:npt]
    x = np.linspace(float(params["fxv"]), float(params["lxv"]), npt)
    return x, y * float(params.get("csf", 1.0)), str(params.get("dxu", "WN"))


def _laser_nm(blocks: list[Any]) -> float | None:
    """The Raman laser from the sample parameters (RLW, cm-1), if any: never LWN, which is
    the HeNe reference laser of every FT instrument."""
    for block in blocks:
        if block.is_param() and isinstance(block.data, dict):
            rlw = block.data.get("rlw")
            if isinstance(rlw, int | float) and 5000 < rlw < 50000:
                return 1e7 / float(rlw)
    return None


def read_opus(data: bytes, source: str, laser_nm: float | None = None) -> list[Spectrum]:
    """The Raman data block(s) of an OPUS file (``file#N`` when several); ValueError naming
    the file and the blocks it holds when there is none."""
    blocks = _blocks(data, source)  # first: it says when brukeropus is missing
    from brukeropus.file.block import pair_data_and_status_blocks

    try:
        pairs = [(d, s) for d, s in pair_data_and_status_blocks(blocks)
                 if d.is_data() and isinstance(s.data, dict)]
    except Exception as exc:  # noqa: BLE001 - e.g. a data status block without NPT
        raise ValueError(f"{source}: not a readable OPUS file (data blocks do not pair with "
                         f"their status blocks: {type(exc).__name__}: {exc})") from None
    raman = [(d, s) for d, s in pairs if d.type[3] == RAMAN_TYPE]
    data_blocks = [b for b in blocks if b.is_data()]
    others = sorted({_label(b) for b in data_blocks if b.type[3] != RAMAN_TYPE})
    if not raman and any(b.type[3] == RAMAN_TYPE for b in data_blocks):
        raise ValueError(f"{source}: its Raman block has no data status block that fits it "
                         "(point count larger than the data, or missing)")
    if not raman:
        held = ", ".join(others) or "no data blocks"
        raise ValueError(f"{source}: no Raman block in this OPUS file (it holds {held}); "
                         "an FT-IR measurement is not a Raman spectrum")
    laser = _laser_nm(blocks) or laser_nm
    out = []
    for i, (block, status) in enumerate(sorted(raman, key=lambda p: p[0].start), 1):
        name = source if len(raman) == 1 else f"{source}#{i}"
        try:
            x, y, dxu = _block_xy(block, status)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{name}: unreadable Raman block ({exc})") from None
        if dxu not in OPUS_X_UNITS:
            raise ValueError(f"{name}: OPUS x unit {dxu!r} cannot be a Raman shift")
        shift = to_raman_shift(x, OPUS_X_UNITS[dxu], laser, name)
        note = f"other blocks passed over: {', '.join(others)}" if others else ""
        out.append(Spectrum(shift, y, {"source": name, "format": "opus", "x_units": dxu,
                                       "laser_nm": laser, "note": note}))
    return out
