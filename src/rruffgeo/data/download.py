"""Download the official RRUFF zips: resumable (HTTP Range), atomic, re-used between runs.

A zip is downloaded to ``NAME.zip.part`` and renamed to ``NAME.zip`` only once complete (its
length matches the server's and it opens as a zip), so a cut transfer is never taken for a whole
file. A ``.part`` left by a cut transfer, in this run or an earlier one, is resumed with a Range
request (guarded by ``If-Range`` so that a file changed on the server is fetched whole again).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from rruffgeo import __version__

log = logging.getLogger(__name__)

USER_AGENT = f"rruffgeo/{__version__} (RRUFF Raman zips)"
CHUNK = 1 << 16


class DownloadError(OSError):
    """A file could not be downloaded after the retries; the message names the URL."""


def _meta_path(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def _request(url: str, start: int, validator: str | None) -> urllib.request.Request:
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if start > 0:
        headers["Range"] = f"bytes={start}-"
        if validator:
            headers["If-Range"] = validator
    return urllib.request.Request(url, headers=headers)


def _total_from(resp: http.client.HTTPResponse, start: int) -> int | None:
    cr = resp.headers.get("Content-Range")
    if resp.status == 206 and cr and "/" in cr:
        total = cr.rsplit("/", 1)[1]
        return int(total) if total.isdigit() else None
    cl = resp.headers.get("Content-Length")
    if cl and cl.isdigit():
        return int(cl) + (start if resp.status == 206 else 0)
    return None


@dataclass(frozen=True)
class DownloadSettings:
    """How hard to try: every loop is bounded and a trickling server is cut (tests shorten these).
    """

    #: Failed attempts in a row that bring no new bytes (or stall) before giving up.
    retries: int = 5
    #: Attempts in all, whatever each brings: a server that cuts every transfer ends too.
    max_attempts: int = 100
    #: Seconds to wait for the connection and for each read.
    timeout_s: float = 60.0
    #: A transfer that brings fewer than ``stall_min_bytes`` in ``stall_s`` seconds is cut
    #: (a server trickling a byte a second never trips the read timeout).
    stall_s: float = 60.0
    stall_min_bytes: int = 16 * 1024
    #: Seconds before the next attempt, times the failures in a row.
    backoff_s: float = 1.0


class _Stalled(TimeoutError):
    """The server sends too slowly to ever finish."""


def _copy_body(resp: http.client.HTTPResponse, fh: BinaryIO, bar: Any,
               limits: DownloadSettings) -> None:
    """Copy the response into ``fh``, raising `_Stalled` when the rate drops below the floor."""
    window_start, window_bytes = time.monotonic(), 0
    while True:
        block = resp.read1(CHUNK)
        if not block:
            return
        fh.write(block)
        bar.update(len(block))
        window_bytes += len(block)
        elapsed = time.monotonic() - window_start
        if elapsed >= limits.stall_s:
            if window_bytes < limits.stall_min_bytes:
                raise _Stalled(f"stalled: {window_bytes} bytes in {elapsed:.0f} s")
            window_start, window_bytes = time.monotonic(), 0


def _attempt(url: str, part: Path, meta: dict[str, Any], bar: Any,
             limits: DownloadSettings) -> dict[str, Any]:
    """One request: append to ``part`` (or restart it); returns the response's metadata.

    Raises on a cut, short or over-long transfer and on HTTP errors.
    """
    start = part.stat().st_size if part.exists() else 0
    validator = meta.get("etag") or meta.get("last_modified")
    with urllib.request.urlopen(_request(url, start, validator),
                                timeout=limits.timeout_s) as resp:
        if resp.status == 200 and start:
            log.info("%s: server sent the whole file; restarting", url)
            start = 0
        total = _total_from(resp, start)
        meta = {"url": url, "total": total, "etag": resp.headers.get("ETag"),
                "last_modified": resp.headers.get("Last-Modified")}
        _meta_path(part).write_text(json.dumps(meta))
        bar.reset(total=total)
        bar.update(start)
        with open(part, "ab" if start else "wb") as fh:
            _copy_body(resp, fh, bar, limits)
    got = part.stat().st_size
    if total is not None and got < total:
        raise http.client.IncompleteRead(b"", total - got)
    if total is not None and got > total:
        part.unlink()
        raise DownloadError(f"{url}: received {got} bytes, expected {total}")
    return meta


def _retryable(url: str, exc: Exception, part: Path, meta: dict[str, Any]) -> str | None:
    """Why the attempt may be tried again (None: the .part is complete after all); raises a
    `DownloadError` for an answer that no retry will change (404, 403, ...)."""
    if isinstance(exc, urllib.error.HTTPError):
        start = part.stat().st_size if part.exists() else 0
        if exc.code == 416 and start:
            # Range not satisfiable: the .part is complete or stale; check, else restart.
            if meta.get("total") == start and zipfile.is_zipfile(part):
                return None
            part.unlink()
            return "HTTP 416"
        if exc.code in (408, 429) or exc.code >= 500:
            return f"HTTP {exc.code} {exc.reason}"
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    if isinstance(exc, http.client.IncompleteRead):
        return f"connection closed with {exc.expected} bytes still to come"
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc.reason, str):
        return str(exc.reason)  # e.g. connection refused, name not known
    return str(exc) or type(exc).__name__


def download_file(url: str, dest: Path, *, progress: bool = True,
                  limits: DownloadSettings | None = None) -> Path:
    """Download ``url`` to ``dest`` atomically, resuming a partial ``dest.part``.

    Returns ``dest`` at once when it already exists. Raises ``DownloadError`` after
    ``limits.retries`` failed attempts in a row that brought no new bytes (a stall always counts
    as failed), or after ``limits.max_attempts`` attempts in all; the ``.part`` is kept for the
    next run.
    """
    from tqdm.auto import tqdm

    limits = limits or DownloadSettings()
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    meta_path = _meta_path(part)
    meta = json.loads(meta_path.read_text()) if meta_path.exists() and part.exists() else {}
    bar = tqdm(desc=dest.name, unit="B", unit_scale=True, unit_divisor=1024,
               disable=not progress)
    failures, best = 0, part.stat().st_size if part.exists() else 0
    try:
        for attempt in range(1, max(1, limits.max_attempts) + 1):
            try:
                meta = _attempt(url, part, meta, bar, limits)
            except (urllib.error.URLError, http.client.HTTPException, ConnectionError,
                    TimeoutError) as exc:
                why = _retryable(url, exc, part, meta)
                got = part.stat().st_size if part.exists() else 0
                if why is not None:
                    failures = 0 if got > best and not isinstance(exc, _Stalled) else failures + 1
                    best = max(best, got)
                    if failures > limits.retries or attempt == limits.max_attempts:
                        raise DownloadError(f"{url}: download failed after {attempt} attempts "
                                            f"({why}); run again to resume") from None
                    log.info("%s: transfer cut (%s); trying again", url, why)
                    time.sleep(limits.backoff_s * failures)
                    continue
            if dest.suffix.lower() == ".zip" and not zipfile.is_zipfile(part):
                part.unlink()
                meta_path.unlink(missing_ok=True)
                raise DownloadError(f"{url}: the downloaded file is not a zip")
            os.replace(part, dest)
            meta_path.unlink(missing_ok=True)
            return dest
        raise AssertionError("unreachable: the last attempt returns or raises")
    finally:
        bar.close()


def download_rruff_zips(base_url: str, categories: Iterable[str], cache_dir: Path, *,
                        progress: bool = True, limits: DownloadSettings | None = None
                        ) -> list[Path]:
    """Download ``<base_url>/<category>.zip`` for each category into ``cache_dir``.

    Zips already in the cache are re-used; returns their paths in the order asked.
    """
    base = base_url if base_url.endswith("/") else base_url + "/"
    out = []
    for cat in categories:
        out.append(download_file(f"{base}{cat}.zip", Path(cache_dir) / f"{cat}.zip",
                                 progress=progress, limits=limits))
    return out


__all__ = ["DownloadError", "DownloadSettings", "download_file", "download_rruff_zips"]
