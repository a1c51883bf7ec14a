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
import warnings
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
#: Most ordinates one block may hold (80 MB as float64); ##NPOINTS bounds it further.
MAX_POINTS = 10_000_000
_AFFN = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|\?")


@dataclass
class JcampBlock:
    """One data block: its labelled records (normalised labels) and data lines."""

    labels: dict[str, str] = field(default_factory=dict)
    #: Labels an NTUPLES page takes from its NTUPLES header; the page's own labels win.
    inherited: dict[str, str] = field(default_factory=dict)
    data_label: str = ""
    data_form: str = ""
    data_lines: list[tuple[int, str]] = field(default_factory=list)


def normalise_label(label: str) -> str:
    """Labels compare without spaces, dashes, slashes and underscores (JCAMP-DX 4.24, 4.1)."""
    return re.sub(r"[\s\-/_]", "", label).upper()


#: NTUPLES attributes (one value per variable) and the block labels they give X and Y.
_NTUPLE_ATTRS = {"UNITS": ("XUNITS", "YUNITS"), "FIRST": ("FIRSTX", "FIRSTY"),
                 "LAST": ("LASTX", "LASTY"), "FACTOR": ("XFACTOR", "YFACTOR"),
                 "VARDIM": ("NPOINTS", "")}


def _page_labels(header: dict[str, str]) -> dict[str, str]:
    """Labels of one NTUPLES page from its header's per-variable lists (JCAMP-DX 5.01, 6.4):
    the variable with symbol X is the abscissa, the first other one the ordinate."""
    symbols = [v.strip().upper() for v in header.get("SYMBOL", "").split(",")]
    x = symbols.index("X") if "X" in symbols else 0
    y = next((i for i in range(len(symbols)) if i != x), 1)
    labels = {"DATATYPE": header.get("DATATYPE") or header.get("NTUPLES", "")}
    for attr, (xlabel, ylabel) in _NTUPLE_ATTRS.items():
        values = [v.strip() for v in header.get(attr, "").split(",")]
        for index, label in ((x, xlabel), (y, ylabel)):
            if label and index < len(values) and values[index]:
                labels[label] = values[index]
    for label in ("TITLE", "LASER", "RAMANEXCITATION", "$LASERWAVELENGTH"):
        if label in header:
            labels[label] = header[label]
    return labels


class _Splitter:
    """State of ``split_blocks``: the block being read and the NTUPLES header it belongs to."""

    def __init__(self) -> None:
        self.blocks: list[JcampBlock] = []
        self.current = JcampBlock()
        self.ntuples: JcampBlock | None = None

    def close(self) -> None:
        """Keep the block read so far (with its NTUPLES labels) and start a new one."""
        block = self.current
        if block.labels or block.data_lines:
            block.labels = {**block.inherited, **block.labels}
            self.blocks.append(block)
        self.current = JcampBlock()

    def label(self, record: str, value: str) -> None:
        """One ``##LABEL=value`` record: it may start or end a block or an NTUPLES page."""
        if record == "TITLE" and (self.current.labels or self.current.data_lines) \
                and self.ntuples is None:
            self.close()
        if record == "PAGE" and (self.ntuples is not None or "NTUPLES" in self.current.labels):
            if self.ntuples is None:
                self.ntuples = self.current
            else:
                self.close()
            self.current = JcampBlock(inherited=_page_labels(self.ntuples.labels))
            self.current.labels["PAGE"] = value.strip()
        elif record == "ENDNTUPLES" and self.ntuples is not None:
            self.close()
            self.current, self.ntuples = self.ntuples, None
        elif record in ("XYDATA", "XYPOINTS", "PEAKTABLE", "DATATABLE"):
            self.current.data_label, self.current.data_form = record, value.strip().upper()
        elif record == "END" and self.ntuples is None:
            self.close()
        else:
            self.current.labels.setdefault(record, value.strip())


def split_blocks(text: str) -> list[JcampBlock]:
    """Data blocks of a JCAMP-DX file in file order: LINKed blocks and NTUPLES pages too."""
    state = _Splitter()
    record = ""
    for lineno, raw in enumerate(text.replace("\x1a", "").splitlines(), 1):
        line = raw.split("$$", 1)[0].rstrip()
        current = state.current
        if line.lstrip().startswith("##"):
            label, _, value = line.lstrip()[2:].partition("=")
            record = normalise_label(label)
            state.label(record, value)
        elif record and record == current.data_label:
            if line.strip():
                current.data_lines.append((lineno, line))
        elif record in current.labels and line.strip():
            current.labels[record] += " " + line.strip()
    state.close()
    if state.ntuples is not None:
        state.current = state.ntuples
        state.close()
    return [b for b in state.blocks if b.data_label]


def decode_asdf(line: str, limit: int = MAX_POINTS) -> tuple[list[float], bool]:
    """Numbers of one ASDF-compressed line, and whether its last ordinate was in DIF form.

    A DUP count is checked against ``limit`` before it is expanded: ``100S999999999`` on a
    200-byte line would otherwise ask for two billion values.
    """
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
            if not values:
                raise ValueError("a DUP count with no value before it")
            if len(values) + int(digits) - 1 > limit:
                raise ValueError(f"DUP count {int(digits)} asks for more values than "
                                 f"##NPOINTS (at most {MAX_POINTS:,}) allows")
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


def _line_values(line: str, asdf: bool, limit: int = MAX_POINTS) -> tuple[list[float], bool]:
    if not asdf:
        return [float(v) for v in _AFFN.findall(line.replace("?", " nan "))
                if v != "?"], False
    return decode_asdf(line, limit)


def _max_points(block: JcampBlock) -> int:
    """Ordinates a table may hold: ##NPOINTS, and never more than ``MAX_POINTS``."""
    npoints = _number(block, "NPOINTS")
    if npoints is None or not np.isfinite(npoints) or npoints > MAX_POINTS:
        return MAX_POINTS
    return max(int(npoints), 0)


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
    most = _max_points(block)
    for lineno, line in block.data_lines:
        try:  # + 2: the line's abscissa check and a repeated DIF check value
            values, ends_dif = _line_values(line, asdf, most - len(ys) + 2)
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
        if len(ys) > most:
            raise ValueError(f"line {lineno}: more than {most} ordinates (##NPOINTS, or "
                             "the reader's limit)")
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
    form, _, kind = re.sub(r"\s", "", block.data_form).partition(",")
    if block.data_label == "DATATABLE":  # an NTUPLES page: "(X++(Y..Y)), XYDATA"
        if kind.startswith("PEAK"):
            form = ""
    elif block.data_label == "PEAKTABLE":
        form = ""
    if not form:
        raise ValueError(f"##{block.data_label}={block.data_form}: a peak table, not a "
                         "continuous spectrum")
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


def _is_peak_table(block: JcampBlock) -> bool:
    """A peak table (LINK block or NTUPLES ``PEAKS`` page) beside a spectrum: no note."""
    return block.data_label == "PEAKTABLE" or "PEAK" in block.data_form.partition(",")[2]


def read_jcamp(text: str, source: str, laser_nm: float | None = None) -> list[Spectrum]:
    """Every Raman spectrum of a JCAMP-DX file: single, LINKed and NTUPLES blocks alike.

    Blocks that are not a Raman spectrum (infrared, peak tables, ...) or cannot be read are
    passed over with one warning naming them; the file is refused only when no block is a
    readable Raman spectrum. Several spectra are named ``file#N``, N the block's number.
    """
    blocks = split_blocks(text)
    if not blocks:
        raise ValueError(f"{source}: no ##XYDATA, ##XYPOINTS or ##DATA TABLE in this "
                         "JCAMP-DX file")
    if len(blocks) == 1:
        return [block_spectrum(blocks[0], source, laser_nm)]
    spectra: list[Spectrum] = []
    skipped: list[str] = []
    peaks: list[str] = []
    for number, block in enumerate(blocks, 1):
        name = f"{source}#{number}"
        try:
            spectra.append(block_spectrum(block, name, laser_nm))
        except ValueError as exc:
            reason = f"block {number}: {str(exc).removeprefix(name + ': ')}"
            (peaks if _is_peak_table(block) else skipped).append(reason)
    if not spectra:
        raise ValueError(f"{source}: none of its {len(blocks)} blocks is a Raman spectrum "
                         f"({'; '.join(skipped + peaks)})")
    if len(spectra) == 1:
        spectra = [spectra[0].with_values(source=source)]
    if skipped:  # peak tables beside their spectrum are expected and passed over quietly
        warnings.warn(f"{source}: read {len(spectra)} Raman block(s) of {len(blocks)}; "
                      f"skipped {'; '.join(skipped)}", stacklevel=2)
    return spectra
