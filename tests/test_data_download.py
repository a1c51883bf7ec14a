"""Downloads against a local HTTP server serving the shared RRUFF folder (never the internet)."""

import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import count_zip_members
from rruffgeo.config import IngestSettings
from rruffgeo.data import ingest
from rruffgeo.data.download import DownloadError, DownloadSettings, download_rruff_zips
from rruffgeo.workdir import WorkDir

pytestmark = pytest.mark.shared


@contextmanager
def rruff_server(root: Path, drop_first_after: int | None = None, ranges: bool = True,
                 drop_every_after: int | None = None, trickle_s: float | None = None,
                 status: int | None = None, answers: int = 1000):
    """Serve ``root`` on 127.0.0.1 with HTTP Range support; optionally cut the first transfer
    after ``drop_first_after`` bytes, or every transfer after ``drop_every_after``, send one
    byte every ``trickle_s`` seconds (for at most ~15 s), or answer ``status`` with an error
    page. After ``answers`` requests it answers 404, so that a client that would retry forever
    still ends. Yields (base_url, log of (path, Range header))."""
    log: list[tuple[str, str | None]] = []
    state = {"dropped": False}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def do_GET(self):  # noqa: N802 - http.server's naming
            rng = self.headers.get("Range")
            log.append((self.path, rng))
            if status is not None:
                self.send_error(status)
                return
            f = root / self.path.lstrip("/")
            if not f.is_file() or len(log) > answers:
                self.send_error(404)
                return
            data = f.read_bytes()
            start = 0
            if ranges and rng and rng.startswith("bytes="):
                start = int(rng[6:].split("-")[0])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Last-Modified", "Sat, 01 Jan 2022 00:00:00 GMT")
            self.end_headers()
            if trickle_s is not None:
                for byte in body[:int(15 / trickle_s)]:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(trickle_s)
                self.close_connection = True
                return
            if drop_every_after is not None:
                self.wfile.write(body[:drop_every_after])
                self.close_connection = True
                return
            if drop_first_after is not None and not state["dropped"]:
                state["dropped"] = True
                self.wfile.write(body[:drop_first_after])
                self.wfile.flush()
                self.close_connection = True
                return  # the client sees the connection close mid-file
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", log
    finally:
        server.shutdown()
        server.server_close()


def test_cut_transfer_is_resumed_with_range(shared_rruff, tmp_path):
    src = shared_rruff / "excellent_oriented.zip"
    with rruff_server(shared_rruff, drop_first_after=300_000) as (url, log):
        (out,) = download_rruff_zips(url, ["excellent_oriented"], tmp_path / "zips",
                                     progress=False)
    assert out.read_bytes() == src.read_bytes()
    assert log[0] == ("/excellent_oriented.zip", None)
    assert log[1] == ("/excellent_oriented.zip", "bytes=300000-")
    assert sorted(p.name for p in (tmp_path / "zips").iterdir()) == ["excellent_oriented.zip"]


def test_leftover_part_from_an_earlier_run_is_resumed(shared_rruff, tmp_path):
    src = (shared_rruff / "excellent_oriented.zip").read_bytes()
    cache = tmp_path / "zips"
    cache.mkdir()
    (cache / "excellent_oriented.zip.part").write_bytes(src[:500_000])
    with rruff_server(shared_rruff) as (url, log):
        download_rruff_zips(url, ["excellent_oriented"], cache, progress=False)
    assert log == [("/excellent_oriented.zip", "bytes=500000-")]
    assert (cache / "excellent_oriented.zip").read_bytes() == src


def test_server_without_range_support_restarts_cleanly(shared_rruff, tmp_path):
    src = (shared_rruff / "excellent_oriented.zip").read_bytes()
    cache = tmp_path / "zips"
    cache.mkdir()
    (cache / "excellent_oriented.zip.part").write_bytes(b"garbage" * 1000)
    with rruff_server(shared_rruff, ranges=False) as (url, _):
        download_rruff_zips(url, ["excellent_oriented"], cache, progress=False)
    assert (cache / "excellent_oriented.zip").read_bytes() == src


def test_missing_category_is_a_clear_error(shared_rruff, tmp_path):
    with rruff_server(shared_rruff) as (url, _), pytest.raises(DownloadError, match="404"):
        download_rruff_zips(url, ["poor_oriented"], tmp_path / "zips", progress=False)
    assert not (tmp_path / "zips" / "poor_oriented.zip").exists()


def test_url_source_downloads_once_then_reuses_the_cache(shared_rruff, tmp_path):
    s = IngestSettings(categories=("excellent_oriented",), cache_dir=tmp_path / "zips",
                       workers=1)
    with rruff_server(shared_rruff, drop_first_after=100_000) as (url, log):
        res = ingest(url, WorkDir(tmp_path / "w"), s, progress=False)
    expected = count_zip_members(shared_rruff, only=("excellent_oriented",)).files
    assert res.n_spectra == expected and res.n_rejects == 0
    # The server is gone: the second run works from the downloaded zip and the parse cache.
    res2 = ingest(url, WorkDir(tmp_path / "w"), s, progress=False)
    assert res2.n_spectra == expected and res2.n_units_cached == 1


FAST = DownloadSettings(retries=2, max_attempts=20, timeout_s=5.0, stall_s=1.0,
                        stall_min_bytes=1024, backoff_s=0.0)


def test_server_that_always_cuts_and_ignores_range_is_given_up(shared_rruff, tmp_path):
    """Each attempt restarts from byte 0 and is cut at the same place: no attempt brings new
    bytes, so the retries run out (before the fix the counter reset on every block: forever)."""
    with rruff_server(shared_rruff, ranges=False, drop_every_after=50_000, answers=30) as (
            url, log), pytest.raises(DownloadError, match="failed after 4 attempts.*closed"):
        download_rruff_zips(url, ["excellent_oriented"], tmp_path / "zips", progress=False,
                            limits=FAST)
    assert len(log) == 1 + FAST.retries + 1  # the first brought bytes; then 3 brought none
    assert not (tmp_path / "zips" / "excellent_oriented.zip").exists()


def test_attempts_in_all_are_bounded_even_when_each_brings_bytes(shared_rruff, tmp_path):
    """A server that honours Range but cuts every transfer early: progress each time, yet the
    total number of attempts is bounded."""
    limits = DownloadSettings(retries=2, max_attempts=4, backoff_s=0.0)
    with rruff_server(shared_rruff, drop_every_after=10_000) as (url, log), \
            pytest.raises(DownloadError, match="after 4 attempts"):
        download_rruff_zips(url, ["excellent_oriented"], tmp_path / "zips", progress=False,
                            limits=limits)
    assert len(log) == 4
    part = tmp_path / "zips" / "excellent_oriented.zip.part"
    assert part.stat().st_size == 40_000  # what came is kept for the next run


def test_trickling_server_is_timed_out(shared_rruff, tmp_path):
    """A byte every half second never trips a read timeout; the stall floor cuts it."""
    t0 = time.monotonic()
    with rruff_server(shared_rruff, trickle_s=0.5) as (url, log), \
            pytest.raises(DownloadError, match="stalled"):
        download_rruff_zips(url, ["excellent_oriented"], tmp_path / "zips", progress=False,
                            limits=FAST)
    assert len(log) == FAST.retries + 1  # a stall counts as failed even though bytes came
    assert time.monotonic() - t0 < 12


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retried_then_reported(shared_rruff, tmp_path, status):
    with rruff_server(shared_rruff, status=status) as (url, log), \
            pytest.raises(DownloadError, match=f"HTTP {status}"):
        download_rruff_zips(url, ["excellent_oriented"], tmp_path / "zips", progress=False,
                            limits=FAST)
    assert len(log) == FAST.retries + 1
