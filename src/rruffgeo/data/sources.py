"""Where the RRUFF files come from: a ``.txt`` file, a folder, a ``.zip``, a mirror folder, a URL.

A source is split into *units* that are parsed (and cached) as a whole: each zip is one unit,
and all loose ``.txt`` files under one folder are one unit. A unit's ``key`` changes whenever
its files change (name, size, modification time), which is what makes re-ingesting incremental.

Zip members are read in memory, never extracted; names that would escape the archive's folder
(``../``, absolute paths, drive letters) are refused anyway, so a hostile zip cannot even name a
file outside it in the catalog.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from rruffgeo.config import RRUFF_CATEGORIES
from rruffgeo.workdir import file_key, files_digest

#: Largest member read from a zip (RRUFF files are < 1 MB; this stops zip bombs).
MAX_MEMBER_BYTES = 64 * 1024 * 1024


@dataclass
class Unit:
    """A zip, or the loose text files of one folder, parsed and cached together."""

    kind: str  # "zip" | "files"
    path: Path  # the zip, or the root folder of the loose files
    key: str  # changes when any of its files change
    #: For "files": paths relative to ``path`` (posix) and their categories.
    files: list[str] = field(default_factory=list)
    file_categories: list[str] = field(default_factory=list)

    @property
    def category(self) -> str:
        """Quality category of a zip unit: the zip's name without ``.zip``."""
        return self.path.stem if self.kind == "zip" else ""

    @property
    def label(self) -> str:
        return str(self.path)


def is_url(source: str | os.PathLike[str]) -> bool:
    return str(source).lower().startswith(("http://", "https://"))


def unsafe_member_reason(name: str) -> str | None:
    """Why a zip member name is refused, or None when it stays inside the archive's folder."""
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        return f"unsafe member path {name!r}: absolute path escapes the archive folder"
    parts = PurePosixPath(norm).parts
    if ".." in parts:
        return f"unsafe member path {name!r}: '..' escapes the archive folder"
    return None


def _is_ignored_member(name: str) -> bool:
    """macOS resource forks and hidden files that zip tools add; not spectra, not errors."""
    norm = name.replace("\\", "/")
    base = norm.rsplit("/", 1)[-1]
    return norm.startswith("__MACOSX/") or base.startswith("._") or base in (".DS_Store", "")


def zip_members(zip_path: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """Member names to parse (sorted) and rejects ``(file, reason)`` of one zip.

    A zip that cannot be opened is one reject naming the zip.
    """
    rejects: list[tuple[str, str]] = []
    try:
        with zipfile.ZipFile(zip_path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return [], [(str(zip_path), f"corrupt zip: {exc}")]
    names: list[str] = []
    for info in infos:
        if info.is_dir() or _is_ignored_member(info.filename):
            continue
        where = member_label(zip_path, info.filename)
        reason = unsafe_member_reason(info.filename)
        if reason:
            rejects.append((where, reason))
        elif not info.filename.lower().endswith(".txt"):
            rejects.append((where, "not a .txt spectrum file (skipped)"))
        elif info.file_size > MAX_MEMBER_BYTES:
            rejects.append((where, f"member too large ({info.file_size} bytes uncompressed)"))
        else:
            names.append(info.filename)
    return sorted(names), rejects


def member_label(zip_path: Path | str, member: str) -> str:
    """How a zip member is named in rejects and messages: ``archive.zip/member``."""
    return f"{zip_path}/{member}"


def zip_unit(path: Path) -> Unit:
    return Unit("zip", path, files_digest([file_key(path)]))


def _category_of(rel_parent: PurePosixPath, root: Path) -> str:
    """Nearest enclosing folder (up to the root itself) named like an RRUFF category, else ""."""
    for part in reversed((root.name, *rel_parent.parts)):
        if part in RRUFF_CATEGORIES:
            return part
    return ""


def files_unit(root: Path, rel_paths: list[str]) -> Unit:
    rel_paths = sorted(rel_paths)
    stats = []
    cats = []
    base = str(root)
    by_parent: dict[str, str] = {}  # thousands of files share a few folders
    for rel in rel_paths:
        stats.append(file_key(os.path.join(base, rel), rel))
        parent = rel.rpartition("/")[0]
        cat = by_parent.get(parent)
        if cat is None:
            cat = by_parent[parent] = _category_of(PurePosixPath(parent), root)
        cats.append(cat)
    return Unit("files", root, files_digest(stats), files=rel_paths, file_categories=cats)


def _walk(root: Path) -> tuple[list[Path], list[str]]:
    """Zips and loose .txt files under ``root`` (hidden entries skipped), sorted."""
    zips: list[Path] = []
    txts: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "__MACOSX")))
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        for fn in sorted(filenames):
            if fn.startswith("."):
                continue
            low = fn.lower()
            if low.endswith(".zip"):
                zips.append(Path(dirpath) / fn)
            elif low.endswith(".txt"):
                txts.append(prefix + fn)
    return zips, txts


def local_units(source: Path, categories: Iterable[str] = RRUFF_CATEGORIES) -> list[Unit]:
    """Units of a local source: a ``.txt`` (or any text) file, a ``.zip`` or a folder.

    In a folder, zips named like an RRUFF category that is not in ``categories`` are skipped;
    other zips and every ``.txt`` file are read.
    """
    if not source.exists():
        raise FileNotFoundError(f"RRUFF data not found: {source}")
    if source.is_file():
        if source.suffix.lower() == ".zip" or zipfile.is_zipfile(source):
            return [zip_unit(source)]
        return [files_unit(source.parent, [source.name])]
    wanted = set(categories)
    zips, txts = _walk(source)
    units = [zip_unit(z) for z in zips if z.stem not in RRUFF_CATEGORIES or z.stem in wanted]
    if txts:
        units.append(files_unit(source, txts))
    if not units:
        raise FileNotFoundError(f"no RRUFF .txt or .zip files found in {source}")
    return units


__all__ = [
    "MAX_MEMBER_BYTES",
    "Unit",
    "is_url",
    "local_units",
    "member_label",
    "unsafe_member_reason",
    "zip_members",
]
