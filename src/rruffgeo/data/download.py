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
from pathlib import Path

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


def download_file(url: str, dest: Path, *, progress: bool = True, retries: int = 5,
                  timeout_s: float = 60.0, backoff_s: float = 1.0) -> Path:
    """Download ``url`` to ``dest`` atomically, resuming a partial ``dest.part``.

    Returns ``dest`` at once when it already exists. Raises ``DownloadError`` after ``retries``
    failed attempts in a row without progress.
    """
    from tqdm.auto import tqdm

    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    meta_path = _meta_path(part)
    meta = json.loads(meta_path.read_text()) if meta_path.exists() and part.exists() else {}
    bar = tqdm(desc=dest.name, unit="B", unit_scale=True, unit_divisor=1024,
               disable=not progress)
    failures = 0
    try:
        while True:
            start = part.stat().st_size if part.exists() else 0
            validator = meta.get("etag") or meta.get("last_modified")
            try:
                with urllib.request.urlopen(_request(url, start, validator),
                                            timeout=timeout_s) as resp:
                    if resp.status == 200 and start:
                        log.info("%s: server sent the whole file; restarting", url)
                        start = 0
                    total = _total_from(resp, start)
                    meta = {"url": url, "total": total,
                            "etag": resp.headers.get("ETag"),
                            "last_modified": resp.headers.get("Last-Modified")}
                    meta_path.write_text(json.dumps(meta))
                    bar.reset(total=total)
                    bar.update(start)
                    with open(part, "ab" if start else "wb") as fh:
                        while True:
                            block = resp.read(CHUNK)
                            if not block:
                                break
                            fh.write(block)
                            bar.update(len(block))
                            failures = 0
                got = part.stat().st_size
                if total is not None and got < total:
                    raise http.client.IncompleteRead(b"", total - got)
                if total is not None and got > total:
                    part.unlink()
                    raise DownloadError(f"{url}: received {got} bytes, expected {total}")
            except urllib.error.HTTPError as exc:
                if exc.code == 416 and start:
                    # Range not satisfiable: the .part is complete or stale; check, else restart.
                    if meta.get("total") == start and zipfile.is_zipfile(part):
                        pass
                    else:
                        part.unlink()
                        failures += 1
                        if failures > retries:
                            raise DownloadError(f"{url}: HTTP 416 repeatedly") from None
                        continue
                else:
                    raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
            except (urllib.error.URLError, http.client.HTTPException, ConnectionError,
                    TimeoutError) as exc:
                failures += 1
                if failures > retries:
                    raise DownloadError(f"{url}: download failed after {retries} retries "
                                        f"({exc}); run again to resume") from None
                log.info("%s: transfer cut (%s); resuming", url, exc)
                time.sleep(backoff_s * failures)
                continue
            if dest.suffix.lower() == ".zip" and not zipfile.is_zipfile(part):
                part.unlink()
                meta_path.unlink(missing_ok=True)
                raise DownloadError(f"{url}: the downloaded file is not a zip")
            os.replace(part, dest)
            meta_path.unlink(missing_ok=True)
            return dest
    finally:
        bar.close()


def download_rruff_zips(base_url: str, categories: Iterable[str], cache_dir: Path, *,
                        progress: bool = True, retries: int = 5) -> list[Path]:
    """Download ``<base_url>/<category>.zip`` for each category into ``cache_dir``.

    Zips already in the cache are re-used; returns their paths in the order asked.
    """
    base = base_url if base_url.endswith("/") else base_url + "/"
    out = []
    for cat in categories:
        out.append(download_file(f"{base}{cat}.zip", Path(cache_dir) / f"{cat}.zip",
                                 progress=progress, retries=retries))
    return out


__all__ = ["DownloadError", "download_file", "download_rruff_zips"]
