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
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from rruffgeo.config import RRUFF_CATEGORIES
from rruffgeo.workdir import file_key, files_digest

#: Largest file read by default (RRUFF files are < 1 MB; this stops zip bombs). The limit in
#: use follows ``IngestSettings.worker_memory_mb`` (see ``parse.text_budget``).
MAX_MEMBER_BYTES = 64 * 1024 * 1024


class SourceError(ValueError):
    """A source that cannot be read at all; the message names it and says why."""


class ZipMember(NamedTuple):
    """One member of a zip: its name, its place in the zip's directory (two members may share
    a name) and its uncompressed size as the directory states it."""

    name: str
    index: int
    size: int


@dataclass
class Unit:
    """A zip, or the loose text files of one folder, parsed and cached together."""

    kind: str  # "zip" | "files"
    path: Path  # the zip, or the root folder of the loose files
    key: str  # changes when any of its files change
    #: For "files": paths relative to ``path`` (posix) and their categories.
    files: list[str] = field(default_factory=list)
    file_categories: list[str] = field(default_factory=list)
    file_sizes: list[int] = field(default_factory=list)
    #: Files or folders of the unit that could not be listed, as ``(path, reason)``.
    rejects: list[tuple[str, str]] = field(default_factory=list)

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


#: Compression methods ``zipfile`` reads; others (Deflate64, made by Windows Explorer for big
#: files, Implode, PPMd, ...) fail on reading, so members using them are refused by name.
READABLE_COMPRESSION = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                        zipfile.ZIP_LZMA} | ({zipfile.ZIP_ZSTANDARD}
                                           if hasattr(zipfile, "ZIP_ZSTANDARD") else set())
_COMPRESSION_NAMES = {1: "Shrink", 6: "Implode", 9: "Deflate64", 10: "PKWARE Implode",
                      18: "IBM TERSE", 19: "IBM LZ77", 95: "XZ", 96: "JPEG", 97: "WavPack",
                      98: "PPMd", 99: "WinZip AES"}
#: What reading one member may raise: a bad CRC or header (BadZipFile), a broken deflate
#: stream (zlib.error), a truncated member (EOFError), an unsupported method
#: (NotImplementedError), a password needed (RuntimeError).
ZIP_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError)


def unreadable_member_reason(info: zipfile.ZipInfo) -> str | None:
    """Why a member cannot be read whatever its content (encrypted, or a compression method
    ``zipfile`` lacks), found from the zip's directory before reading; else None."""
    if info.flag_bits & 0x1:
        return "encrypted member (password-protected): cannot be read; unzip it first"
    if info.compress_type not in READABLE_COMPRESSION:
        method = _COMPRESSION_NAMES.get(info.compress_type, "unknown")
        return (f"compression method {info.compress_type} ({method}) is not supported; "
                "re-zip with ordinary Deflate")
    return None


def zip_read_reason(exc: BaseException) -> str:
    """One line for a member whose bytes could not be read (one of ``ZIP_READ_ERRORS``)."""
    if isinstance(exc, RuntimeError) and "encrypted" in str(exc):
        return "encrypted member (password-protected): cannot be read; unzip it first"
    if isinstance(exc, NotImplementedError):
        return f"compression method not supported ({exc}); re-zip with ordinary Deflate"
    return f"corrupt zip member: {exc or type(exc).__name__}"


def _is_ignored_member(name: str) -> bool:
    """macOS resource forks and hidden files that zip tools add; not spectra, not errors."""
    norm = name.replace("\\", "/")
    base = norm.rsplit("/", 1)[-1]
    return norm.startswith("__MACOSX/") or base.startswith("._") or base in (".DS_Store", "")


def member_reject(info: zipfile.ZipInfo, accepts: Callable[[str], bool], wrong_type: str,
                  max_bytes: int, limit_note: str = "") -> str | None:
    """Why a listed zip member is not read, or None; every reader of zips checks in this order.

    A name that escapes the archive comes first (it is never looked at further), then a file
    type the reader does not take (``accepts`` sees the member's name, ``wrong_type`` is the
    reason), then what no content could mend (encrypted, an unknown compression), then more
    than ``max_bytes`` uncompressed (``limit_note`` says what set the limit).
    """
    reason = unsafe_member_reason(info.filename)
    if reason:
        return reason
    if not accepts(info.filename):
        return wrong_type
    reason = unreadable_member_reason(info)
    if reason:
        return reason
    if info.file_size > max_bytes:
        return f"member too large ({info.file_size} bytes uncompressed{limit_note})"
    return None


def _is_rruff_text(name: str) -> bool:
    return name.lower().endswith(".txt")


def zip_members(zip_path: Path, max_bytes: int = MAX_MEMBER_BYTES,
                ) -> tuple[list[ZipMember], list[tuple[str, str]]]:
    """Members to parse (sorted by name, then place) and rejects ``(file, reason)`` of one zip.

    A zip that cannot be opened is one reject naming the zip and why (unreadable or corrupt).
    """
    try:
        with zipfile.ZipFile(zip_path) as zf:
            infos = zf.infolist()
    except OSError as exc:
        return [], [(str(zip_path), f"cannot read zip: {exc.strerror or exc}")]
    except (zipfile.BadZipFile, ValueError) as exc:
        return [], [(str(zip_path), f"corrupt zip: {exc}")]
    rejects: list[tuple[str, str]] = []
    members: list[ZipMember] = []
    for index, info in enumerate(infos):
        if info.is_dir() or _is_ignored_member(info.filename):
            continue
        reason = member_reject(info, _is_rruff_text, "not a .txt spectrum file (skipped)",
                               max_bytes, f"; the limit is {max_bytes} bytes, set by the "
                               "worker memory limit")
        if reason:
            rejects.append((member_label(zip_path, info.filename), reason))
        else:
            members.append(ZipMember(info.filename, index, info.file_size))
    return sorted(members), rejects


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


def files_unit(root: Path, rel_paths: list[str],
               rejects: list[tuple[str, str]] | None = None) -> Unit:
    """The unit of loose files under ``root``; a file that cannot be looked at is a reject."""
    stats, cats, kept, sizes = [], [], [], []
    rejects = list(rejects or [])
    base = str(root)
    by_parent: dict[str, str] = {}  # thousands of files share a few folders
    for rel in sorted(rel_paths):
        path = os.path.join(base, rel)
        try:
            key = file_key(path, rel)
        except OSError as exc:
            rejects.append((path, f"cannot read file: {exc.strerror or exc}"))
            continue
        stats.append(key)
        parent = rel.rpartition("/")[0]
        cat = by_parent.get(parent)
        if cat is None:
            cat = by_parent[parent] = _category_of(PurePosixPath(parent), root)
        kept.append(rel)
        cats.append(cat)
        sizes.append(key["size"])
    stats += [{"name": f"\0{path}\0{reason}", "size": 0, "mtime_ns": 0}
              for path, reason in rejects]
    return Unit("files", root, files_digest(stats), files=kept, file_categories=cats,
                file_sizes=sizes, rejects=rejects)


def _walk(root: Path) -> tuple[list[Path], list[str], list[tuple[str, str]]]:
    """Zips and loose .txt files under ``root`` (hidden entries skipped), sorted, and the
    folders that could not be read ``(folder, reason)``."""
    zips: list[Path] = []
    txts: list[str] = []
    unreadable: list[tuple[str, str]] = []

    def note(exc: OSError) -> None:
        unreadable.append((str(exc.filename), f"cannot read folder: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=note):
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
    return zips, txts, unreadable


def local_units(source: Path, categories: Iterable[str] = RRUFF_CATEGORIES) -> list[Unit]:
    """Units of a local source: a ``.txt`` (or any text) file, a ``.zip`` or a folder.

    In a folder, zips named like an RRUFF category that is not in ``categories`` are skipped;
    other zips and every ``.txt`` file are read. Subfolders that cannot be read are rejects of
    the folder's unit (listed in ``rejects.csv``); a folder that cannot be read at all is a
    ``SourceError``.
    """
    if not source.exists():
        raise FileNotFoundError(f"RRUFF data not found: {source}")
    if source.is_file():
        if source.suffix.lower() == ".zip" or zipfile.is_zipfile(source):
            return [zip_unit(source)]
        return [files_unit(source.parent, [source.name])]
    wanted = set(categories)
    zips, txts, unreadable = _walk(source)
    if unreadable and unreadable[0][0] == str(source):
        raise SourceError(f"cannot read data folder {source}: "
                          f"{unreadable[0][1].removeprefix('cannot read folder: ')}")
    units = [zip_unit(z) for z in zips if z.stem not in RRUFF_CATEGORIES or z.stem in wanted]
    if txts or unreadable:
        units.append(files_unit(source, txts, unreadable))
    if not units:
        raise FileNotFoundError(f"no RRUFF .txt or .zip files found in {source}")
    return units


__all__ = [
    "MAX_MEMBER_BYTES",
    "SourceError",
    "Unit",
    "ZipMember",
    "is_url",
    "local_units",
    "member_label",
    "member_reject",
    "READABLE_COMPRESSION",
    "ZIP_READ_ERRORS",
    "unreadable_member_reason",
    "unsafe_member_reason",
    "zip_members",
    "zip_read_reason",
]
