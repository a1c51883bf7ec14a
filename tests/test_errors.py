"""User and environment errors: one line naming the file or option and the problem, exit 1, no
traceback (``--debug`` keeps it); and the smaller faults of issue 11 (input lines, pipes,
spreadsheet formulas, geocoder noise, map legend).

Permission tests drop root with ``setpriv`` (root reads and writes anything) and disk-full
tests mount a tiny tmpfs in a private mount namespace (``unshare``); each skips with the reason
where the machine does not allow it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import SRC, run_cli, unprivileged_prefix
from rruffgeo.cli import main
from rruffgeo.config import GeoSettings, ModelSettings, Settings, SpectraSettings, replace
from rruffgeo.errors import UserError, describe
from rruffgeo.network.modelio import META, WEIGHTS, build_network, load_model, save_model
from synthetic_learn import make_workdir, spectrum, tiny_settings

# ----------------------------------------------------------------------------- helpers


def _one_error_line(err: str, command: str) -> str:
    """The error line of ``err``, checked to be the only one and free of tracebacks."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith(f"rruffgeo {command}: error:")]
    assert len(lines) == 1, err
    print(lines[0])  # shown with -s, and beside a failure
    return lines[0]


def _rruff_member(i: int, points: int = 20) -> bytes:
    rng = np.random.default_rng(i)
    rows = "".join(f"{100 + k * 1.5:.4f}, {v:.9f}\n" for k, v in enumerate(rng.random(points)))
    return (f"##NAMES=Quartz\n##RRUFFID=R{100000 + i}\n##LOCALITY=Tsumeb, Namibia\n{rows}"
            "##END=\n").encode()


def _rruff_zip(path: Path, members: int = 3, points: int = 20) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(members):
            zf.writestr(f"Quartz__R{100000 + i}__Raman__532__0__unoriented__Raman_Data_"
                        f"Processed__{i}.txt", _rruff_member(i, points))
    path.chmod(0o644)
    return path


@contextmanager
def _serve(answer) -> Iterator[str]:  # noqa: ANN001 - answer(handler) writes the response
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802 - http.server's naming
            answer(self)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _as_unprivileged() -> list[str]:
    """Command prefix that runs without root's power to read and write anything."""
    return unprivileged_prefix()


def _in_tiny_tmpfs(folder: Path, size: str = "48k", fill_from: Path | None = None) -> list[str]:
    """Command prefix that mounts a ``size`` tmpfs on ``folder`` in a private mount namespace,
    copies ``fill_from``'s files into it, then runs the rest of the command there."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare not found: cannot mount a small tmpfs to fill")
    fill = f' && cp -r "{fill_from}/." "$0"/' if fill_from is not None else ""
    prefix = [unshare, "--mount", "--map-root-user", "sh", "-c",
              f'mount -t tmpfs -o size={size} tmpfs "$0"{fill} && exec "$@"', str(folder)]
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a user namespace here: {probe.stderr.strip()}")
    return prefix


@pytest.fixture
def world_dir() -> Iterator[Path]:
    """A folder every user can enter (pytest's tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="rruffgeo-errors-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _cli_env(home: Path) -> dict[str, str]:
    return {"HOME": str(home), "RRUFFGEO_CACHE": str(home / "cache"),
            "MPLCONFIGDIR": str(home / "mpl"), "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": str(SRC)}


# ------------------------------------------------------------------ item 8: environment


@pytest.mark.parametrize("answer", ["404", "not-a-zip"])
def test_download_failures_are_one_line(tmp_path, capsys, monkeypatch, answer):
    def reply(handler):
        if answer == "404":
            handler.send_error(404)
            return
        body = b"<html>Maintenance</html>\n" * 10
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    monkeypatch.setenv("RRUFFGEO_CACHE", str(tmp_path / "cache"))
    with _serve(reply) as url:
        rc = main(["ingest", "--data", url + "/", "--categories", "excellent_oriented",
                   "--workdir", str(tmp_path / "w"), "--no-progress"])
    line = _one_error_line(capsys.readouterr().err, "ingest")
    assert rc == 1
    assert "excellent_oriented.zip" in line
    assert ("HTTP 404" if answer == "404" else "not a zip") in line
    assert not (tmp_path / "cache" / "zips" / "excellent_oriented.zip").exists()


def test_download_without_answer_is_bounded_and_clear(tmp_path):
    from rruffgeo.data.download import DownloadError, DownloadSettings, download_file

    limits = DownloadSettings(retries=1, timeout_s=0.5, backoff_s=0.0)
    silent = __import__("socket").create_server(("127.0.0.1", 0))  # accepts, never answers
    closed = __import__("socket").create_server(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens there: connection refused
    try:
        for port, why in ((silent.getsockname()[1], "timed out"), (closed_port, "refused")):
            url = f"http://127.0.0.1:{port}/excellent_oriented.zip"
            with pytest.raises(DownloadError, match=f"after 2 attempts.*{why}") as info:
                download_file(url, tmp_path / f"{port}.zip", progress=False, limits=limits)
            assert describe(info.value) == str(info.value)  # one line at the CLI
    finally:
        silent.close()


def test_work_folder_that_is_a_file(tmp_path, capsys):
    afile = tmp_path / "work"
    afile.write_text("not a folder\n")
    assert main(["summary", "--workdir", str(afile)]) == 1
    line = _one_error_line(capsys.readouterr().err, "summary")
    assert f"--workdir {afile}: is a file, not a folder" in line


def test_geocode_input_that_is_a_folder(tmp_path, capsys):
    assert main(["geocode", "--input", str(tmp_path), "--no-progress"]) == 1
    line = _one_error_line(capsys.readouterr().err, "geocode")
    assert f"--input {tmp_path}: is a folder" in line


def test_read_only_work_folder_as_an_unprivileged_user(world_dir):
    prefix = _as_unprivileged()
    home = world_dir / "home"
    home.mkdir(mode=0o777)
    home.chmod(0o777)  # the user's own home and cache: writable
    work = world_dir / "work"
    work.mkdir(mode=0o755)  # owned by root: not writable by the unprivileged user
    data = _rruff_zip(world_dir / "excellent_unoriented.zip")
    res = subprocess.run([*prefix, sys.executable, "-m", "rruffgeo", "ingest", "--data",
                          str(data), "--workdir", str(work), "--workers", "1", "--no-progress"],
                         capture_output=True, text=True, env=_cli_env(home), cwd=home)
    line = _one_error_line(res.stderr, "ingest")
    assert res.returncode == 1
    assert str(work) in line and "permission denied" in line


def test_unwritable_geocoder_cache_as_an_unprivileged_user(world_dir):
    prefix = _as_unprivileged()
    home = world_dir / "home"
    home.mkdir()
    home.chmod(0o777)
    (home / "in.txt").write_text("Tsumeb, Namibia\n")
    (home / "in.txt").chmod(0o644)
    locked = world_dir / "locked"
    locked.mkdir(mode=0o755)  # root's: the cache database cannot be created there
    res = subprocess.run([*prefix, sys.executable, "-m", "rruffgeo", "geocode", "--online",
                          "--cache", str(locked / "c.sqlite"), "--input", str(home / "in.txt"),
                          "--server", "nominatim=http://127.0.0.1:9", "--no-progress"],
                         capture_output=True, text=True, env=_cli_env(home), cwd=home)
    line = _one_error_line(res.stderr, "geocode")
    assert res.returncode == 1 and f"geocoder cache {locked / 'c.sqlite'}" in line


def test_disk_full_during_ingest(world_dir):
    work = world_dir / "work"
    work.mkdir()
    prefix = _in_tiny_tmpfs(work)
    data = _rruff_zip(world_dir / "excellent_unoriented.zip", members=20, points=2000)
    res = subprocess.run([*prefix, sys.executable, "-m", "rruffgeo", "ingest", "--data",
                          str(data), "--workdir", str(work), "--workers", "1", "--no-progress"],
                         capture_output=True, text=True, env=_cli_env(world_dir))
    line = _one_error_line(res.stderr, "ingest")
    assert res.returncode == 1
    assert "no space left on device" in line and str(work) in line
    # --debug keeps the traceback for bug reports.
    res = subprocess.run([*prefix, sys.executable, "-m", "rruffgeo", "--debug", "ingest",
                          "--data", str(data), "--workdir", str(work), "--workers", "1",
                          "--no-progress"], capture_output=True, text=True,
                         env=_cli_env(world_dir))
    assert res.returncode != 0 and "Traceback" in res.stderr


def test_disk_full_during_a_checkpoint_save(world_dir):
    """torch's archive writer reports a full disk as 'unexpected pos' (a RuntimeError): the work
    folder is a 2 MB tmpfs holding the matrix, where the first checkpoint does not fit."""
    staged = world_dir / "staged"
    make_workdir(staged)
    assert main(["spectra", "--workdir", str(staged), "--grid-points", "64"]) == 0
    work = world_dir / "work"
    work.mkdir()
    prefix = _in_tiny_tmpfs(work, "2m", fill_from=staged)
    res = subprocess.run([*prefix, sys.executable, "-m", "rruffgeo", "cv", "--workdir",
                          str(work), "--grid-points", "64", "--epochs", "1", "--batch-size", "16",
                          "--device", "cpu", "--threads", "1", "--no-progress", "--folds", "1"],
                         capture_output=True, text=True, env=_cli_env(world_dir))
    line = _one_error_line(res.stderr, "cv")
    assert res.returncode == 1
    assert str(work) in line and "disk full" in line and "0.0 MB free" in line


def test_torch_write_failure_is_described_as_a_full_disk(tmp_path):
    exc = RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534")
    line = describe(exc, tmp_path)
    assert line.startswith(f"{tmp_path}: writing a checkpoint or model failed: disk full?")
    assert describe(RuntimeError("a bug")) is None  # anything else keeps its traceback


# ------------------------------------------------------------------ item 8: model folders


@pytest.fixture
def model_folder(tmp_path) -> Path:
    settings = Settings(spectra=SpectraSettings(grid_points=64),
                        model=ModelSettings(depths=(1, 1), dims=(8, 16)))
    net = build_network(3, settings.model, 64)
    return save_model(tmp_path / "model", net, ["BRA", "ITA", "USA"],
                      ["Brazil", "Italy", "United States of America"],
                      np.linspace(100, 1300, 64), settings)


def _truncate(folder: Path) -> str:
    data = (folder / WEIGHTS).read_bytes()
    (folder / WEIGHTS).write_bytes(data[: len(data) // 2])
    return WEIGHTS


def _garbage(folder: Path) -> str:
    (folder / WEIGHTS).write_bytes(b"\x00garbage" * 50)
    return WEIGHTS


def _wrong_shapes(folder: Path) -> str:
    meta = json.loads((folder / META).read_text())
    meta["settings"]["model"]["dims"] = [16, 32]
    (folder / META).write_text(json.dumps(meta))
    return WEIGHTS


def _missing_key(folder: Path) -> str:
    meta = json.loads((folder / META).read_text())
    del meta["classes"]
    (folder / META).write_text(json.dumps(meta))
    return META


def _not_json(folder: Path) -> str:
    (folder / META).write_text('{"classes": ["BRA"')
    return META


@pytest.mark.parametrize("damage", [_truncate, _garbage, _wrong_shapes, _missing_key, _not_json])
def test_damaged_model_folder_is_one_line(model_folder, tmp_path, capsys, damage):
    load_model(model_folder)  # whole, it loads
    bad_file = damage(model_folder)
    with pytest.raises(UserError, match=bad_file):
        load_model(model_folder)
    x, y = spectrum(0, np.random.default_rng(0))
    csv = tmp_path / "s.csv"
    csv.write_text("".join(f"{a},{b}\n" for a, b in zip(x, y, strict=True)))
    assert main(["predict", "--model", str(model_folder), str(csv)]) == 1
    line = _one_error_line(capsys.readouterr().err, "predict")
    assert str(model_folder / bad_file) in line


def test_truncated_checkpoint_is_ignored_and_the_fold_starts_again(tmp_path, caplog):
    from rruffgeo.network.train import fit_network

    rng = np.random.default_rng(0)
    X = rng.random((24, 64)).astype(np.float32)
    y = np.arange(24) % 2
    settings = tiny_settings(epochs=2)
    settings = replace(settings, train=replace(settings.train, threads=1))
    fresh, fresh_history = fit_network(X, y, 2, settings, progress=False, grid_step_cm1=2.0)
    ckpt = tmp_path / "checkpoint.pt"
    one_epoch = replace(settings, train=replace(settings.train, epochs=1))
    fit_network(X, y, 2, one_epoch, checkpoint=ckpt, key="k", progress=False,
                grid_step_cm1=2.0)
    ckpt.write_bytes(ckpt.read_bytes()[:1000])  # killed while copying, or a full disk
    with caplog.at_level(logging.WARNING):
        model, history = fit_network(X, y, 2, settings, checkpoint=ckpt, key="k",
                                     progress=False, grid_step_cm1=2.0)
    assert any("cannot be read" in r.getMessage() and "starting the fold again" in r.getMessage()
               for r in caplog.records)
    assert len(history) == 2 and [h["train_loss"] for h in history] == \
        [h["train_loss"] for h in fresh_history]  # trained from the start, same as a fresh run
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)
    torch.load(ckpt, weights_only=True)  # the bad file was replaced by a whole checkpoint


# ----------------------------------------------------------------------- item 11: smaller


def test_geocode_input_splits_lines_on_newlines_only(tmp_path):
    src = tmp_path / "in.txt"
    src.write_bytes("Tsumeb,\vNamibia\nBisbee\x0c Arizona, USA\r\nOtavi\u2028Namibia\n"
                    .encode())
    out = tmp_path / "out.csv"
    assert main(["geocode", "--input", str(src), "--output", str(out), "--no-progress"]) == 0
    df = pd.read_csv(out, keep_default_na=False)
    assert len(df) == 3  # one row per input line (was 6: \v, \f, U+2028 cut lines too)


def test_geocoded_csv_cells_cannot_run_as_formulas(tmp_path):
    from rruffgeo.geo.pipeline import export
    from rruffgeo.workdir import WorkDir

    src = tmp_path / "in.txt"
    src.write_text("=cmd|' /C calc'!A0\n@SUM(1+1)*cmd|' /C calc'!A0\nTsumeb, Namibia\n",
                   encoding="utf-8")
    out = tmp_path / "out.csv"
    assert main(["geocode", "--input", str(src), "--output", str(out), "--no-progress"]) == 0
    df = pd.read_csv(out, keep_default_na=False)
    assert list(df["locality"]) == ["'=cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0",
                                    "Tsumeb, Namibia"]
    table = pd.DataFrame({"specimen_id": ["R1", "R2"], "locality": ["-2+3+cmd|' /C calc'!A0",
                                                                    "Tsumeb"],
                          "lat": [-19.2, np.nan], "lon": [17.7, np.nan]})
    csv_path, _ = export(table, WorkDir(tmp_path / "w"))
    written = pd.read_csv(csv_path, keep_default_na=False)
    assert list(written["locality"]) == ["'-2+3+cmd|' /C calc'!A0", "Tsumeb"]
    assert float(written.loc[0, "lat"]) == pytest.approx(-19.2)  # numbers stay numbers


def test_online_geocoders_answering_500_log_one_line_per_failure(tmp_path, caplog):
    from rruffgeo.geo import geocode_localities
    from rruffgeo.geo.online import GeocodersUnavailable, make_online_chain

    def reply(handler):
        body = b"<html>\n<body>\n<h1>500 Internal Server Error</h1>\n</body>\n</html>\n"
        handler.send_response(500)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    with _serve(reply) as url:
        settings = GeoSettings(online=True, min_delay_s=0.0, max_retries=2, error_wait_s=0.0,
                               cache_path=tmp_path / "c.sqlite", user_agent="rruffgeo-test/3",
                               online_servers=tuple((n, url) for n in
                                                    ("nominatim", "photon", "arcgis")))
        with caplog.at_level(logging.INFO), pytest.raises(GeocodersUnavailable):
            geocode_localities(["Tsumeb, Namibia", "Kolwezi, Congo"], settings,
                               geocoder=make_online_chain(settings))
    shown = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert not [r for r in shown if r.exc_info], "tracebacks on stderr"
    assert all("\n" not in r.getMessage() for r in shown)
    assert len(shown) == 9  # three services, three failures each, one line per failure


def test_summary_into_a_closed_pipe(tmp_path):
    from report_fixtures import write_catalog_and_geocoded

    write_catalog_and_geocoded(tmp_path / "w")
    (tmp_path / "w" / "rejects.csv").write_text("file,reason\n")
    env = dict(os.environ, PYTHONPATH=str(SRC))
    proc = subprocess.Popen([sys.executable, "-m", "rruffgeo", "summary", "--workdir",
                             str(tmp_path / "w")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # like `| head -1` that has already exited
    err = proc.stderr.read().decode()
    assert proc.wait() == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_debug_flag_is_listed():
    assert "--debug" in run_cli("--help").stdout


def test_prediction_map_names_brazil_from_the_country_table(tmp_path):
    from rruffgeo.report.maps import country_names, plot_prediction_map

    assert country_names(["BRA", "FRA", "AUS", "XXX"]) == ["Brazil", "France", "Australia",
                                                           "XXX"]
    png, svg = plot_prediction_map({"BRA": 0.7, "FRA": 0.2, "AUS": 0.1}, "test",
                                   tmp_path / "map")
    text = svg.read_text()
    assert "1. Brazil (BRA)" in text and "Brazilian Island" not in text
