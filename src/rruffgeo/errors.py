"""Errors of input and environment, and the one line a user sees for each.

Library code raises `UserError` (or lets an ``OSError`` through) for a problem the user can fix:
a bad file, a full disk, a folder they cannot write. The command line turns these into one line
naming the file or option and the problem (`describe`); anything else is a bug and keeps its
traceback. ``rruffgeo --debug`` shows the traceback of every error.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

#: What each errno means for a user, said once (the path is put in front).
_ERRNO_TEXT = {
    errno.EACCES: "permission denied (not readable or writable by this user)",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.ENOTDIR: "a part of this path is a file, not a folder",
    errno.EISDIR: "is a folder, not a file",
    errno.EEXIST: "already exists (and is not a folder)",
    errno.ENOENT: "no such file or folder",
}

#: Messages of torch's archive writer when a write fails (a full disk shows as 'unexpected pos').
_TORCH_WRITE_FAILURES = ("unexpected pos", "PytorchStreamWriter failed writing")


class UserError(Exception):
    """A problem of input or environment that the user can fix; its message is one line that
    names the file or option and the problem."""


def _free_space(path: Path) -> str:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return "free space unknown"
    return f"{free / 1e6:.1f} MB free"


def _os_message(exc: OSError, workdir: Path | None) -> str:
    path = exc.filename
    text = _ERRNO_TEXT.get(exc.errno) if exc.errno is not None else None
    if path is None and exc.errno in (errno.ENOSPC, errno.EDQUOT) and workdir is not None:
        return f"{workdir}: {text} ({_free_space(Path(workdir))})"
    if path is None:
        return str(exc) if text is None else f"{text} ({exc})"
    where = os.fsdecode(path)
    if exc.filename2 is not None:
        where += f" -> {os.fsdecode(exc.filename2)}"
    return f"{where}: {text or exc.strerror or exc}"


def describe(exc: BaseException, workdir: Path | None = None) -> str | None:
    """One line for an error of input or environment; None for anything else (a bug).

    ``workdir`` (the command's work folder) names the place of a write that failed without a
    file name, as a full disk does inside pyarrow, numpy and torch.
    """
    text = _describe(exc, workdir)
    if text is None:
        return None
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _describe(exc: BaseException, workdir: Path | None) -> str | None:
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, OSError):
        return _os_message(exc, workdir)
    if isinstance(exc, ValueError):  # bad values, undecodable text, malformed JSON
        return str(exc)
    if isinstance(exc, RuntimeError) and any(m in str(exc) for m in _TORCH_WRITE_FAILURES):
        where = f"{workdir}: " if workdir is not None else ""
        free = f"; {_free_space(Path(workdir))}" if workdir is not None else ""
        return f"{where}writing a checkpoint or model failed: disk full? ({exc}{free})"
    return None


__all__ = ["UserError", "describe"]
