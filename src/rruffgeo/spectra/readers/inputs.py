"""What to read: files, folders (recursively) and zip archives, each member checked."""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rruffgeo.data.sources import (
    ZIP_READ_ERRORS,
    member_reject,
    zip_read_reason,
)
from rruffgeo.spectra.readers.dispatch import SUFFIXES, is_supported_name, read_bytes
from rruffgeo.spectra.spectrum import Spectrum

#: Largest spectrum file read (bytes, uncompressed): a Raman map export can be tens of MB.
MAX_FILE_BYTES = 256 * 1024 * 1024
_WRONG_TYPE = (f"not a supported spectrum file type (supported: {', '.join(SUFFIXES)}, "
               "OPUS .0, .1, ...)")


@dataclass(frozen=True)
class InputFile:
    """One file to read: its name in messages and how to get its bytes; or why it is refused."""

    name: str
    load: Callable[[], bytes] | None = None
    refused: str | None = None


_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def special_file_reason(mode: int) -> str | None:
    """Why a file of this ``st_mode`` is not read: reading a pipe or device could wait forever
    or never end. None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    return f"{kind}, not a regular file: skipped"


def _read_file(path: Path) -> Callable[[], bytes]:
    """Loader of a file's bytes that never blocks on a pipe (checked again when opened)."""
    def load() -> bytes:
        # O_NONBLOCK: opening a FIFO with no writer must not wait; fstat then refuses it.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            reason = special_file_reason(info.st_mode)
            if reason:
                raise ValueError(f"{path}: {reason}")
            if info.st_size > MAX_FILE_BYTES:
                raise ValueError(f"{path}: {info.st_size} bytes is larger than "
                                 f"{MAX_FILE_BYTES}")
            return fh.read(MAX_FILE_BYTES + 1)
    return load


def _local_file(path: Path) -> InputFile:
    """A file found on disk: to be read, or refused when it is a pipe, socket or device."""
    try:
        reason = special_file_reason(path.stat().st_mode)
    except OSError as exc:
        return InputFile(str(path), refused=f"{path}: cannot read ({exc.strerror or exc})")
    if reason:
        return InputFile(str(path), refused=f"{path}: {reason}")
    return InputFile(str(path), load=_read_file(path))


def _zip_members(path: Path) -> Iterator[InputFile]:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        yield InputFile(str(path), refused=f"{path}: not a readable zip ({exc})")
        return
    for info in sorted(infos, key=lambda i: i.filename):
        name = f"{path}/{info.filename}"
        base = info.filename.rsplit("/", 1)[-1]
        if info.is_dir() or info.filename.startswith("__MACOSX/") or base.startswith("."):
            continue
        reason = member_reject(info, is_supported_name, _WRONG_TYPE, MAX_FILE_BYTES)
        if reason:
            yield InputFile(name, refused=f"{name}: {reason}")
        else:
            yield InputFile(name, load=_member_loader(path, info.filename))


def _member_loader(path: Path, member: str) -> Callable[[], bytes]:
    """Loader of one member's bytes; a member that cannot be read is a ValueError naming it."""
    def load() -> bytes:
        try:
            with zipfile.ZipFile(path) as zf, zf.open(member) as fh:
                data = fh.read(MAX_FILE_BYTES + 1)  # the header's size may lie
        except ZIP_READ_ERRORS as exc:  # bad CRC, broken deflate stream, ...: this member only
            raise ValueError(f"{path}/{member}: {zip_read_reason(exc)}") from None
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"{path}/{member}: more than {MAX_FILE_BYTES} bytes uncompressed")
        return data
    return load


def _folder(root: Path) -> Iterator[InputFile]:
    errors: list[OSError] = []
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, onerror=errors.append):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(folder) / f for f in files if not f.startswith("."))
    for err in errors:
        yield InputFile(str(err.filename), refused=f"{err.filename}: cannot read folder "
                        f"({err.strerror})")
    for path in sorted(found):
        local = _local_file(path)
        if local.refused:  # a pipe, socket or device (or gone): never opened
            yield local
        elif path.suffix.lower() == ".zip":
            yield from _zip_members(path)
        elif is_supported_name(path.name):
            yield local
        else:
            yield InputFile(str(path), refused=f"{path}: not a supported spectrum file type")


def iter_inputs(paths: Sequence[str | os.PathLike[str]]) -> Iterator[InputFile]:
    """Every file to read under ``paths``: files as given, folders recursively, zips by member.

    Members and files that cannot be used come back with ``refused`` set (the reason names
    them); nothing is skipped silently except hidden files and macOS resource forks.
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from _folder(path)
        elif path.suffix.lower() == ".zip" and path.is_file():
            yield from _zip_members(path)
        elif not path.exists():
            yield InputFile(str(path), refused=f"{path}: no such file or folder")
        else:
            yield _local_file(path)


def read_input(item: InputFile, laser_nm: float | None = None) -> list[Spectrum]:
    """Spectra of one input; ValueError naming it when it cannot be read."""
    if item.refused or item.load is None:
        raise ValueError(item.refused or f"{item.name}: refused")
    try:
        data = item.load()
    except OSError as exc:
        raise ValueError(f"{item.name}: cannot read ({exc.strerror or exc})") from None
    return read_bytes(data, item.name, laser_nm)


def read_spectra(path: str | os.PathLike[str], laser_nm: float | None = None
                 ) -> list[Spectrum]:
    """Every spectrum of one file (a map or multi-block file gives several)."""
    return read_input(InputFile(str(path), load=_read_file(Path(path))), laser_nm)
