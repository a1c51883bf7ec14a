"""What an RRUFF file name says: mineral, RRUFF ID, laser, orientation, raw or processed.

Two namings are in use (fields separated by ``__``)::

    old: Abelsonite__R070007__Raman__532__0__unoriented__Raman_Data_Processed__27040.txt
    new: Actinolite__R040063-4__Raman__514__0-000____Raman_Data_Processed__c801aaca84d8.txt
         Aegirine__R050074-6__Raman__514__45-000__ccw__Raman_Data_RAW__631bf683464b.txt
    2019 oriented: Baryte__R050342-5__Raman__514__0__depolarized__Raman_Data_Processed__15402.txt

The name is only a fallback: the ``##`` headers are the authority where they say the same thing.
Names that follow neither pattern give empty fields rather than an error, because a user's own
``.txt`` file may be named anything.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_ID_RE = re.compile(r"^[A-Za-z]{1,3}\d{3,}")
#: RRUFF IDs of reference compounds (pharmaceuticals, excipients): ``XD120008`` in
#: ``##RRUFFID``; their file names drop the ``X`` (``D120008``). Other ``X`` IDs (``X050012``)
#: are minerals, natural or synthetic, like ``R`` IDs.
_REFERENCE_COMPOUND_ID_RE = re.compile(r"^X?D\d{6}")
#: The technique field of RRUFF file names: ``Raman`` (the main instruments) or
#: ``Broad_Scan`` (the low-resolution instrument of the ``LR-Raman`` set).
TECHNIQUES = ("Raman", "Broad_Scan")
_ANGLE_RE = re.compile(r"^(\d+)(?:-(\d+))?$")
#: The laser field's number ("532", "514.5", "532_nm"; "" says nothing).
_LASER_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)")
#: Flags of the 2019 naming that mark an oriented measurement besides "ccw" / "cw".
_POLARIZATION_FLAGS = ("depolarized", "polarized")


@dataclass(frozen=True)
class FileNameInfo:
    """Fields parsed from one RRUFF file name (empty / NaN where the name does not say)."""

    mineral: str = ""
    rruff_id: str = ""
    technique: str = ""
    laser_nm: float = math.nan
    #: "unoriented", "oriented" or "" (unknown).
    orientation: str = ""
    orientation_angle_deg: float = math.nan
    #: Rotation sense of the orientation angle ("ccw", "cw") or "".
    orientation_rotation: str = ""
    #: Polarisation marker of an oriented measurement ("depolarized", "polarized") or "".
    polarization: str = ""
    #: "raw", "processed" or "".
    kind: str = ""
    file_id: str = ""


def base_rruff_id(rruff_id: str) -> str:
    """The specimen part of an RRUFF ID: ``R040063-4`` -> ``R040063``, ``R050016_b`` -> ``R050016``.

    IDs that do not look like RRUFF IDs (letters then digits) are returned stripped, unchanged.
    """
    rruff_id = rruff_id.strip()
    m = _ID_RE.match(rruff_id)
    return m.group(0) if m else rruff_id


def is_reference_compound_id(rruff_id: str) -> bool:
    """Whether an RRUFF ID names a reference compound (``XD120008``, or ``D120008`` as file
    names write it) rather than a mineral.

    Decided by the ID because it is the one field RRUFF assigns by rule: the localities of
    these compounds ("Synthetic; pill is from ...", "from Sigma") only sometimes say so.
    """
    return bool(_REFERENCE_COMPOUND_ID_RE.match(rruff_id.strip()))


def header_form_of(name_id: str) -> str:
    """A file name's RRUFF ID as ``##RRUFFID`` writes it: reference compounds' names drop the
    ``X`` (``D120008`` -> ``XD120008``); other IDs are the same both ways.

    So that a compound's files make one specimen whether or not they carry the header, and
    the naming convention is not taken for a disagreement between name and header.
    """
    name_id = name_id.strip()
    if name_id.startswith("D") and is_reference_compound_id(name_id):
        return "X" + name_id
    return name_id


def technique_of(field: str) -> str:
    """The technique field as RRUFF spells it (``"broad_scan"`` -> ``"Broad_Scan"``); other
    values as written, so that a new technique shows up rather than vanishing."""
    field = field.strip()
    return next((t for t in TECHNIQUES if t.lower() == field.lower()), field)


def kind_of(text: str) -> str:
    """``"raw"`` / ``"processed"`` from a file-name token or a ``##FILETYPE`` value, else ``""``."""
    low = text.lower()
    if "raw" in low.replace("_", " ").split() or low.endswith("_raw") or low == "raw":
        return "raw"
    if "processed" in low:
        return "processed"
    return ""


def _laser_of(text: str) -> float:
    """The laser wavelength a name's field gives: ``"514.5"`` -> 514.5, ``"532_nm"`` -> 532."""
    m = _LASER_RE.match(text)
    return float(m.group(1)) if m else math.nan


def _kind_field(rest: list[str]) -> tuple[str, int]:
    """The kind ("raw" / "processed") and the index of its ``Raman_Data_...`` field, or -1."""
    for i, tok in enumerate(rest):
        k = kind_of(tok)
        if k and "data" in tok.lower():
            return k, i
    return "", -1


def _orientation_fields(middle: list[str]) -> tuple[str, float, str, str]:
    """Orientation, angle, rotation and polarisation from the fields between laser and kind."""
    angle_text = middle[0] if middle else ""
    flags = [t.lower() for t in middle[1:]]
    m = _ANGLE_RE.match(angle_text)
    rotation = next((f for f in flags if f in ("ccw", "cw")), "")
    polarization = next((f for f in flags if f in _POLARIZATION_FLAGS), "")
    if "unoriented" in flags:
        return "unoriented", math.nan, "", ""
    if m and (m.group(2) is not None or rotation or polarization):
        # New naming ("45-000"), or the 2019 one with "ccw" / "depolarized": at that angle.
        angle = float(m.group(1)) + (float("0." + m.group(2)) if m.group(2) else 0.0)
        return "oriented", angle, rotation, polarization
    if "oriented" in flags:
        return "oriented", float(m.group(1)) if m else math.nan, rotation, polarization
    return "", math.nan, "", ""


def parse_file_name(name: str) -> FileNameInfo:
    """Parse an RRUFF file name (a path or bare name, with or without ``.txt``)."""
    stem = name.replace("\\", "/").rsplit("/", 1)[-1]
    if stem.lower().endswith(".txt"):
        stem = stem[:-4]
    parts = stem.split("__")
    if len(parts) < 4:
        return FileNameInfo()
    mineral, rruff_id, technique = parts[0].strip(), parts[1].strip(), parts[2].strip()
    rest = parts[3:]
    kind, kind_idx = _kind_field(rest)
    # Between the laser and the kind field: angle, then "unoriented" / "" / "ccw" / "cw" /
    # "depolarized".
    middle = rest[1:kind_idx] if kind_idx > 0 else rest[1:]
    orientation, angle, rotation, polarization = _orientation_fields(middle)
    return FileNameInfo(
        mineral=mineral,
        rruff_id=rruff_id,
        technique=technique,
        laser_nm=_laser_of(rest[0]),
        orientation=orientation,
        orientation_angle_deg=angle,
        orientation_rotation=rotation,
        polarization=polarization,
        kind=kind,
        file_id=rest[kind_idx + 1] if 0 <= kind_idx < len(rest) - 1 else "",
    )
