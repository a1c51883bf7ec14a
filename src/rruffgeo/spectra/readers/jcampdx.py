"""JCAMP-DX (.jdx, .dx) spectra, including the compressed ASDF forms (SQZ, DIF, DUP).

Written here rather than taken from the ``jcamp`` package because that package, on the
JCAMP-DX test files it ships, returns x and y arrays of different lengths after a failed DIF
check (``dupinc2.jdx``), fails on the end-of-file byte ``^Z`` (``fixinc2.jdx``) and reports
problems by printing rather than raising. This reader follows JCAMP-DX 4.24 (McDonald and
Wilks, Appl. Spectrosc. 42, 151, 1988): ``(X++(Y..Y))`` lines hold an abscissa check value
followed by ordinates only (never x,y pairs), a line that ends in DIF form repeats its last
ordinate at the start of the next line as a check, and every abscissa check is verified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from rruffgeo.spectra.readers.units import laser_from_text, to_raman_shift
from rruffgeo.spectra.spectrum import Spectrum

_SQZ = {"@": 0, **{c: i + 1 for i, c in enumerate("ABCDEFGHI")},
        **{c: -(i + 1) for i, c in enumerate("abcdefghi")}}
_DIF = {"%": 0, **{c: i + 1 for i, c in enumerate("JKLMNOPQR")},
        **{c: -(i + 1) for i, c in enumerate("jklmnopqr")}}
_DUP = {**{c: i + 1 for i, c in enumerate("STUVWXYZ")}, "s": 9}
_ASDF_CHARS = set(_SQZ) | set(_DIF) | set(_DUP)
_AFFN = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|\?")


@dataclass
class JcampBlock:
    """One data block: its labelled records (normalised labels) and data lines."""

    labels: dict[str, str] = field(default_factory=dict)
    data_label: str = ""
    data_form: str = ""
    data_lines: list[tuple[int, str]] = field(default_factory=list)


def normalise_label(label: str) -> str:
    """Labels compare without spaces, dashes, slashes and underscores (JCAMP-DX 4.24, 4.1)."""
    return re.sub(r"[\s\-/_]", "", label).upper()


def split_blocks(text: str) -> list[JcampBlock]:
    """Data blocks of a (possibly LINKed, multi-block) JCAMP-DX file, in file order."""
    blocks: list[JcampBlock] = []
    current = JcampBlock()
    record = ""
    for lineno, raw in enumerate(text.replace("\x1a", "").splitlines(), 1):
        line = raw.split("$$", 1)[0].rstrip()
        if line.lstrip().startswith("##"):
            label, _, value = line.lstrip()[2:].partition("=")
            record = normalise_label(label)
            if record == "TITLE" and (current.labels or current.data_lines):
                blocks.append(current)
                current = JcampBlock()
            if record in ("XYDATA", "XYPOINTS", "PEAKTABLE", "DATATABLE"):
                current.data_label, current.data_form = record, value.strip().upper()
            elif record == "END":
                blocks.append(current)
                current, record = JcampBlock(), ""
            else:
                current.labels.setdefault(record, value.strip())
        elif record and record == current.data_label:
            if line.strip():
                current.data_lines.append((lineno, line))
        elif record in current.labels and line.strip():
            current.labels[record] += " " + line.strip()
    if current.labels or current.data_lines:
        blocks.append(current)
    return [b for b in blocks if b.data_label]


def decode_asdf(line: str) -> tuple[list[float], bool]:
    """Numbers of one ASDF-compressed line, and whether its last ordinate was in DIF form."""
    tokens: list[list[str]] = []  # [kind, digits]
    for ch in line:
        if ch in _SQZ:
            tokens.append(["abs", str(_SQZ[ch])])
        elif ch in _DIF:
            tokens.append(["dif", str(_DIF[ch])])
        elif ch in _DUP:
            tokens.append(["dup", str(_DUP[ch])])
        elif ch in "+-":
            tokens.append(["abs", ch])
        elif ch.isdigit() or ch == ".":
            if not tokens or tokens[-1][0] == "end":
                tokens.append(["abs", ""])
            tokens[-1][1] += ch
        elif ch == "?":
            tokens.append(["abs", "nan"])
        elif ch in " \t,;":
            tokens.append(["end", ""])
        else:
            raise ValueError(f"character {ch!r} is not JCAMP-DX ASDF")
    values: list[float] = []
    last_kind, last_step = "", 0.0
    for kind, digits in (t for t in tokens if t[0] != "end"):
        if kind == "dup":
            for _ in range(int(digits) - 1):
                values.append(values[-1] + last_step if last_kind == "dif" else values[-1])
            continue
        number = float(digits)
        if kind == "dif":
            if not values:
                raise ValueError("a DIF value with no value before it")
            values.append(values[-1] + number)
        else:
            values.append(number)
        last_kind, last_step = kind, number
    return values, last_kind == "dif"


def _line_values(line: str, asdf: bool) -> tuple[list[float], bool]:
    if not asdf:
        return [float(v) for v in _AFFN.findall(line.replace("?", " nan "))
                if v != "?"], False
    return decode_asdf(line)


def _number(block: JcampBlock, label: str, default: float | None = None) -> float | None:
    value = block.labels.get(label)
    if value is None or not value.strip():
        return default
    try:
        return float(value.split()[0].replace(",", "."))
    except ValueError:
        raise ValueError(f"##{label}={value!r} is not a number") from None


def _ordinates_per_line(block: JcampBlock) -> tuple[list[float], list[tuple[int, float, int]]]:
    """Ordinates of an ``(X++(Y..Y))`` table (DIF checks removed) and, per line, (line
    number, abscissa check value, index of its first ordinate)."""
    asdf = any(ch in _ASDF_CHARS - set("eE") for _, line in block.data_lines for ch in line)
    ys: list[float] = []
    checks: list[tuple[int, float, int]] = []
    previous_dif = False
    for lineno, line in block.data_lines:
        try:
            values, ends_dif = _line_values(line, asdf)
        except ValueError as exc:
            raise ValueError(f"line {lineno}: {exc}") from None
        if len(values) < 2:
            raise ValueError(f"line {lineno}: expected an abscissa and ordinates, got {line!r}")
        x_check, ordinates = values[0], values[1:]
        first_index = len(ys)
        if previous_dif:  # the first ordinate repeats the last one of the line before
            first_index -= 1
            if not np.isclose(ordinates[0], ys[-1], rtol=1e-9, atol=1e-9, equal_nan=True):
                raise ValueError(f"line {lineno}: DIF check failed (expected {ys[-1]:g}, "
                                 f"found {ordinates[0]:g})")
            ordinates = ordinates[1:]
        checks.append((lineno, x_check, first_index))
        ys.extend(ordinates)
        previous_dif = ends_dif
    return ys, checks


def _equidistant_xy(block: JcampBlock) -> tuple[np.ndarray, np.ndarray]:
    ys, checks = _ordinates_per_line(block)
    npoints = _number(block, "NPOINTS", float(len(ys)))
    if int(npoints) != len(ys):
        raise ValueError(f"##NPOINTS={int(npoints)} but the table holds {len(ys)} ordinates")
    first, last = _number(block, "FIRSTX"), _number(block, "LASTX")
    if first is None or last is None:
        raise ValueError("an (X++(Y..Y)) table needs ##FIRSTX and ##LASTX")
    x = np.linspace(first, last, len(ys)) if len(ys) > 1 else np.array([first])
    xfactor = _number(block, "XFACTOR", 1.0)
    step = abs(x[1] - x[0]) if len(x) > 1 else abs(first) or 1.0
    for lineno, x_check, index in checks:
        # 1.5 points of slack: some writers (NIST's IR files) put each check one point early.
        if index < len(x) and abs(x_check * xfactor - x[index]) > max(1.5 * step, 1e-9):
            raise ValueError(f"line {lineno}: abscissa check {x_check * xfactor:g} does not "
                             f"match x = {x[index]:g} of ordinate {index + 1}")
    y = np.asarray(ys, dtype=np.float64) * _number(block, "YFACTOR", 1.0)
    return x, y


def _xy_pairs(block: JcampBlock) -> tuple[np.ndarray, np.ndarray]:
    values: list[float] = []
    for lineno, line in block.data_lines:
        try:
            values.extend(_line_values(line, asdf=False)[0])
        except ValueError:
            raise ValueError(f"line {lineno}: not x,y numbers: {line!r}") from None
    if len(values) % 2:
        raise ValueError(f"(XY..XY) table holds an odd number of values ({len(values)})")
    xy = np.asarray(values, dtype=np.float64).reshape(-1, 2)
    return (xy[:, 0] * _number(block, "XFACTOR", 1.0),
            xy[:, 1] * _number(block, "YFACTOR", 1.0))


def block_xy(block: JcampBlock) -> tuple[np.ndarray, np.ndarray]:
    """x (in ##XUNITS) and y of one block; ValueError saying why it cannot be read."""
    form = re.sub(r"\s", "", block.data_form)
    if block.data_label in ("PEAKTABLE", "DATATABLE") or not form:
        raise ValueError(f"##{block.data_label}={block.data_form}: a peak table or n-tuple, "
                         "not a continuous spectrum")
    if form.startswith("(X++(Y..Y)"):
        return _equidistant_xy(block)
    if form.startswith(("(XY..XY)", "(XY)")):
        return _xy_pairs(block)
    raise ValueError(f"##{block.data_label}={block.data_form}: unsupported table form "
                     "(expected (X++(Y..Y)) or (XY..XY))")


#: DATA TYPE words of techniques whose x axis is never a Raman shift.
_NOT_RAMAN = ("INFRARED", "NMR", "MASS", "UV", "EPR", "FID", "CHROMATOGRA", "FLUORESCENCE")


def _block_laser(block: JcampBlock) -> float | None:
    for label, value in block.labels.items():
        if "LASER" in label or "EXCITATION" in label:
            laser = laser_from_text(value)
            if laser is not None:
                return laser
    return None


def block_spectrum(block: JcampBlock, source: str, laser_nm: float | None) -> Spectrum:
    """One block as a Raman spectrum; ValueError naming ``source`` when it is not one."""
    datatype = block.labels.get("DATATYPE", "").upper()
    if any(word in datatype for word in _NOT_RAMAN):
        raise ValueError(f"{source}: ##DATA TYPE={datatype} is not a Raman spectrum")
    try:
        x, y = block_xy(block)
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None
    laser = _block_laser(block) or laser_nm
    units = block.labels.get("XUNITS", "")
    shift = to_raman_shift(x, units, laser, source)
    return Spectrum(shift, y, {"source": source, "format": "jcamp-dx", "laser_nm": laser,
                               "x_units": units or "1/CM (assumed)",
                               "title": block.labels.get("TITLE", "")})


def read_jcamp(text: str, source: str, laser_nm: float | None = None) -> list[Spectrum]:
    """Every continuous spectrum of a JCAMP-DX file (``file#2`` etc. for later blocks).

    Peak tables beside a continuous spectrum (LINKed files) are passed over; a file with no
    continuous spectrum is refused with the reason of its first block.
    """
    blocks = split_blocks(text)
    if not blocks:
        raise ValueError(f"{source}: no ##XYDATA or ##XYPOINTS table in this JCAMP-DX file")
    continuous = [b for b in blocks if b.data_label in ("XYDATA", "XYPOINTS")] or blocks[:1]
    names = [source] if len(continuous) == 1 else [f"{source}#{i}" for i in
                                                     range(1, len(continuous) + 1)]
    return [block_spectrum(b, n, laser_nm) for b, n in zip(continuous, names, strict=True)]
