"""Uploaded files to spectra: limits, a private temp folder, names that never become paths.

Each upload is copied into a fresh private folder (mode 0700) under a name the server makes up
(``0003.zip``); the name the browser sent is only ever shown (escaped), never joined into a
path. Zips are listed member by member through the readers' own checks (unsafe ``../``
names, encrypted or unsupported members, sizes, file types), each refused with its reason; the
bytes unpacked per request are counted against a limit, so a zip bomb stops early. The folder
is removed when the request ends.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import BinaryIO

from rruffgeo.spectra.readers.dispatch import read_bytes
from rruffgeo.spectra.readers.inputs import iter_inputs
from rruffgeo.spectra.spectrum import Spectrum

log = logging.getLogger(__name__)
#: Copy uploads in blocks of this many bytes.
BLOCK = 1 << 20


@dataclass(frozen=True)
class Limits:
    """What one request may send: bytes in all, files, and spectra after reading (a map file
    or a zip can hold thousands), and bytes once unzipped (a zip bomb stops there; the readers
    also cap each member)."""

    max_bytes: int = 200 * 1024 * 1024
    max_files: int = 500
    max_spectra: int = 2000
    max_unpacked: int = 512 * 1024 * 1024

    @property
    def size_text(self) -> str:
        """``max_bytes`` as people say it: "200 MB", "400 kB"."""
        mb = self.max_bytes / (1024 * 1024)
        return f"{mb:g} MB" if mb >= 1 else f"{self.max_bytes / 1024:.0f} kB"


class LimitExceeded(ValueError):
    """A request over one of the `Limits`; the message says which and what to do."""


@dataclass
class Batch:
    """The spectra of one request, and a plain-words reason for each file that gave none."""

    spectra: list[Spectrum] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    unpacked: int = 0


def display_name(raw: str | None, index: int) -> str:
    """The browser's file name as text to show: control characters removed, folders kept
    (a picked folder sends ``folder/file.txt``), never used as a path."""
    text = unicodedata.normalize("NFC", str(raw or ""))
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C")
    parts = [p.strip() for p in text.replace("\\", "/").split("/")]
    text = "/".join(p for p in parts if p not in ("", ".", ".."))
    return text[-200:] or f"file {index}"


def safe_suffix(name: str) -> str:
    """The extension the readers go by (``.txt``, ``.zip``, OPUS ``.0``), letters and digits
    only, so the made-up file name keeps its format and nothing else of the client's."""
    base = name.rsplit("/", 1)[-1]
    if "." not in base:
        return ""
    ext = base.rsplit(".", 1)[-1].lower()
    return "." + ext if re.fullmatch(r"[a-z0-9]{1,8}", ext) else ""


@contextmanager
def private_folder() -> Iterator[Path]:
    """A temp folder only this process can read, removed with everything in it at the end."""
    folder = Path(tempfile.mkdtemp(prefix="rruffgeo-serve-"))  # mkdtemp: mode 0700
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def copy_upload(source: BinaryIO, target: Path, budget: int) -> int:
    """Copy an upload to ``target``; `LimitExceeded` past ``budget`` bytes."""
    written = 0
    with open(target, "xb") as out:
        while block := source.read(BLOCK):
            written += len(block)
            if written > budget:
                raise LimitExceeded("")
            out.write(block)
    return written


def _members(path: Path, shown: str) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """(name shown, loader) of a saved upload: itself, or each member of a zip as the readers
    list them (a member they refuse loads as its reason, a ValueError)."""
    if path.suffix != ".zip":
        yield shown, path.read_bytes
        return
    hidden = str(path)
    for item in iter_inputs([path]):
        name = item.name.replace(hidden, shown, 1)
        if item.refused or item.load is None:
            reason = (item.refused or "refused").replace(hidden, shown, 1)
            yield name, partial(_refuse, reason)
        else:
            yield name, item.load


def _refuse(reason: str) -> bytes:
    raise ValueError(reason)


def _spectra_of(name: str, load: Callable[[], bytes], limits: Limits, batch: Batch,
                laser_nm: float | None) -> list[Spectrum]:
    """The spectra of one file or member, counting the bytes unpacked against the limit."""
    data = load()
    batch.unpacked += len(data)
    if batch.unpacked > limits.max_unpacked:
        raise LimitExceeded(f"these files unpack to more than {limits.max_unpacked // 2**20} MB, "
                            "the most this page reads at once; send fewer files, or use "
                            "`rruffgeo predict` for large batches")
    return read_bytes(data, name, laser_nm)


def read_upload(path: Path, shown: str, limits: Limits, batch: Batch,
                laser_nm: float | None = None) -> None:
    """Every spectrum of one saved upload into ``batch``, named after what the user sent; a
    refusal in plain words (also named) for each file or member that cannot be read."""
    for name, load in _members(path, shown):
        try:
            found = _spectra_of(name, load, limits, batch, laser_nm)
        except LimitExceeded:
            raise
        except Exception as exc:  # one bad file must not end the batch
            if not isinstance(exc, ValueError):  # a reader's bug: keep it for the log
                log.exception("reading %s", name)
                exc = ValueError(f"could not be read ({type(exc).__name__}; the server's log "
                                 "has the details)")
            batch.refused.append((name, str(exc).replace(str(path), shown)))
            continue
        batch.spectra.extend(found)
        if len(batch.spectra) > limits.max_spectra:
            raise LimitExceeded(f"these files hold more than {limits.max_spectra} spectra, "
                                "the most this page predicts at once; send fewer files, or "
                                "use `rruffgeo predict` for large batches")


def unique_names(spectra: Sequence[Spectrum]) -> list[Spectrum]:
    """Spectra with distinct names (two uploads called ``a.txt`` become ``a.txt`` and
    ``a.txt (2)``), so every answer belongs to one sample."""
    seen: dict[str, int] = {}
    out = []
    for s in spectra:
        n = seen.get(s.source, 0) + 1
        seen[s.source] = n
        out.append(s if n == 1 else s.with_values(source=f"{s.source} ({n})"))
    return out
