"""Where ``predict`` writes, decided before anything is written.

One plan for the table (``--output``), its companion tables and the maps (``--map``): a target
is never one of the inputs, companion names stay within the file-name limit, and every
predicted spectrum gets its own map name (inputs with the same base name, and the spectra of
one multi-spectrum file, included).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rruffgeo.errors import UserError
from rruffgeo.spectra.spectrum import file_of

OUTPUT_SUFFIXES = (".csv", ".json", ".parquet")
#: Longest file name most file systems take (bytes).
NAME_MAX = 255
#: Longest map name stem kept (a map gets .png and .svg).
MAP_STEM_MAX = 120
_UNSAFE = re.compile(r"[^\w.+-]+")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def input_files(sources: Sequence[str]) -> list[Path]:
    """The files behind inputs and spectrum sources (``file#3`` and ``archive.zip/member``
    name their file)."""
    out = []
    for source in sources:
        path = Path(file_of(str(source)))
        while not path.exists() and path != path.parent:  # a zip member: the archive
            path = path.parent
        if path.is_file():
            out.append(path)
    return out


def check_not_inputs(targets: Sequence[Path], sources: Sequence[str]) -> None:
    """`UserError` when a target is one of the inputs: writing it would destroy a spectrum."""
    inputs = input_files(sources)
    for target in targets:
        if any(_same_file(target, p) for p in inputs):
            raise UserError(f"--output {target}: is one of the input files; choose another "
                            "name (the input is left as it is)")


def companion(path: Path, kind: str) -> Path:
    """``<stem>.<kind><suffix>`` beside ``path``, the stem shortened to fit the name limit."""
    room = NAME_MAX - len(f".{kind}{path.suffix}".encode())
    stem = path.stem.encode()[:room].decode("utf-8", "ignore")
    return path.with_name(f"{stem}.{kind}{path.suffix}")


@dataclass(frozen=True)
class OutputPlan:
    """The table files to write (the main one first) and the map stem of each spectrum."""

    tables: list[Path]
    maps: dict[str, Path]


def table_targets(output: Path | None, companions: Sequence[str]) -> list[Path]:
    """The main table and, for CSV and Parquet, its companions; `UserError` for a suffix
    that is no table format."""
    if output is None:
        return []
    suffix = output.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise UserError(f"--output {output}: use a {', '.join(OUTPUT_SUFFIXES)} file name")
    if len(output.name.encode()) > NAME_MAX:
        raise UserError(f"--output {output}: the name is longer than {NAME_MAX} bytes")
    if suffix == ".json":
        return [output]
    return [output, *(companion(output, k) for k in companions)]


def map_names(names: Sequence[str], folder: Path) -> dict[str, Path]:
    """A distinct map stem in ``folder`` per spectrum name: ``file``, ``file_2`` for the
    second spectrum of a multi-spectrum file, ``file-2`` for a second file called alike."""
    taken: set[str] = set()
    out: dict[str, Path] = {}
    for name in names:
        path = file_of(str(name))
        index = str(name)[len(path) + 1:]
        stem = _UNSAFE.sub("_", Path(path).stem)[:MAP_STEM_MAX] or "spectrum"
        stem += f"_{index}" if index else ""
        unique, n = stem, 1
        while unique.lower() in taken:
            n += 1
            unique = f"{stem}-{n}"
        taken.add(unique.lower())
        out[name] = folder / unique
    return out


def plan_outputs(output: Path | None, map_dir: Path | None, names: Sequence[str],
                 sources: Sequence[str], companions: Sequence[str] = ()) -> OutputPlan:
    """The plan for one run; `UserError` when a target would overwrite an input."""
    tables = table_targets(output, companions)
    maps = map_names(names, map_dir) if map_dir is not None else {}
    check_not_inputs([*tables, *(p.with_name(p.name + s) for p in maps.values()
                                 for s in (".png", ".svg"))], sources)
    return OutputPlan(tables, maps)
