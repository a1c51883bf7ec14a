"""Ingest meets faults: bounded memory, unreadable inputs, empty sources, killed runs,
duplicate member names (issue 11, data layer)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from helpers import SRC, run_cli, unprivileged_prefix
from rruffgeo.config import IngestSettings
from rruffgeo.data import ingest, load_catalog, load_rejects
from rruffgeo.workdir import WorkDir
from test_data_catalog import NEW_NAME, OLD_NAME, RAW_NAME, good_files, rruff_text, write_zip

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="Linux processes and files")


def settings(tmp_path: Path, **kw) -> IngestSettings:
    return IngestSettings(cache_dir=tmp_path / "cache", workers=1, **kw)


# --- memory (item 1) --------------------------------------------------------------------

MEMORY_SCRIPT = textwrap.dedent("""
    import json, resource, sys
    from rruffgeo.config import IngestSettings
    from rruffgeo.data import catalog, parse
    from rruffgeo.data.sources import zip_unit
    from pathlib import Path

    small, big, memory_mb = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    budget = parse.text_budget(memory_mb)
    for task in catalog._tasks(zip_unit(small), budget)[0]:  # warm up: lazy imports, pools
        parse.run_task(task)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tasks, rejects, n = catalog._tasks(zip_unit(big), budget)
    rows = sum(len(parse.run_task(t).flat()[0]) for t in tasks)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rise_mb": (peak - before) / 1024, "rows": rows, "rejects": rejects}))
""")


def _big_member(n_rows: int) -> bytes:
    w = 100.0 + np.arange(n_rows) * 0.01
    body = "\n".join(f"{x:.5f}, {x * 3.1234567:.6f}" for x in w)
    return ("##NAMES=Quartz\n##RRUFFID=R040031\n" + body + "\n##END=\n").encode()


def test_worker_memory_is_bounded_whatever_the_zip_holds(tmp_path):
    """Eight members of ~5 MB of text each: read all before parsing, a worker peaks at some
    250 MB; within a 48 MB budget it must stay under 48 MB (measured as peak RSS)."""
    big = _big_member(200_000)
    assert len(big) > 4_500_000
    zbig = write_zip(tmp_path / "big.zip", {f"m{i}.txt": big for i in range(8)})
    zsmall = write_zip(tmp_path / "small.zip", {"s.txt": _big_member(500)})
    out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(zsmall), str(zbig), "48"],
                         capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(SRC)))
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["rows"] == 8 and got["rejects"] == []
    assert got["rise_mb"] < 48, got


def test_a_file_over_the_memory_budget_is_rejected_with_the_reason(tmp_path):
    z = write_zip(tmp_path / "excellent_unoriented.zip",
                  {**good_files(), "huge.txt": _big_member(60_000)})
    # 8 MB of memory: files of up to 1 MB of text.
    res = ingest(z, WorkDir(tmp_path / "w"), settings(tmp_path, worker_memory_mb=8),
                 progress=False)
    rej = load_rejects(tmp_path / "w")
    assert (res.n_spectra, rej["file"].tolist()) == (3, [f"{z}/huge.txt"])
    assert "too large" in rej["reason"][0] and "memory limit" in rej["reason"][0]


# --- unreadable inputs (item 5) -------------------------------------------------------------

def _shared_tmp() -> Path:
    """A folder an unprivileged user can reach (pytest's own tmp folders are private)."""
    d = Path(tempfile.mkdtemp(prefix="rruffgeo-perm-"))
    d.chmod(0o755)
    return d


def _ingest_unprivileged(data: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """``rruffgeo ingest`` run by a user without root's power to read anything: as ``nobody``
    via ``setpriv`` when this runs as root (as CI does), else as this user."""
    cmd = [sys.executable, "-m", "rruffgeo", "ingest", "--data", str(data), "--workdir",
           str(home / "work"), "--no-progress", "--workers", "1"]
    cmd = [*unprivileged_prefix(), *cmd]
    home.mkdir(mode=0o777, exist_ok=True)
    home.chmod(0o777)
    env = dict(os.environ, PYTHONPATH=str(SRC), HOME=str(home), XDG_CACHE_HOME=str(home))
    env.pop("RRUFFGEO_DATA", None)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(home))


@pytest.fixture
def perm_tree():
    root = _shared_tmp()
    yield root
    for p in [root, *root.rglob("*")]:
        if not p.is_symlink():
            p.chmod(0o755 if p.is_dir() else 0o644)
    shutil.rmtree(root, ignore_errors=True)


def _rejects_of(home: Path) -> dict[str, str]:
    import pandas as pd

    rej = pd.read_csv(home / "work" / "rejects.csv", keep_default_na=False, dtype=str)
    return dict(zip(rej["file"], rej["reason"], strict=True))


def test_unreadable_subfolder_is_named_in_the_rejects(perm_tree):
    data = perm_tree / "data"
    (data / "locked").mkdir(parents=True)
    (data / OLD_NAME).write_bytes(rruff_text())
    (data / "locked" / RAW_NAME).write_bytes(rruff_text())
    data.chmod(0o755)
    (data / "locked").chmod(0o000)
    out = _ingest_unprivileged(data, perm_tree / "home")
    assert out.returncode == 0, out.stderr
    assert "spectra:  1" in out.stdout and "rejects:  1" in out.stdout
    assert _rejects_of(perm_tree / "home") == {
        str(data / "locked"): "cannot read folder: Permission denied"}


def test_unreadable_data_folder_says_so(perm_tree):
    data = perm_tree / "data"
    data.mkdir()
    (data / OLD_NAME).write_bytes(rruff_text())
    data.chmod(0o000)
    out = _ingest_unprivileged(data, perm_tree / "home")
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        f"rruffgeo ingest: error: cannot read data folder {data}: Permission denied"]


def test_unreadable_zip_and_file_say_so_file_by_file(perm_tree):
    data = perm_tree / "data"
    data.mkdir()
    write_zip(data / "excellent_unoriented.zip", {OLD_NAME: rruff_text()})
    write_zip(data / "fair_unoriented.zip", {RAW_NAME: rruff_text()})
    (data / NEW_NAME).write_bytes(rruff_text())
    (data / "poor.txt").write_bytes(rruff_text())
    (data / "fair_unoriented.zip").chmod(0o000)
    (data / "poor.txt").chmod(0o000)
    data.chmod(0o755)
    out = _ingest_unprivileged(data, perm_tree / "home")
    assert out.returncode == 0, out.stderr
    assert _rejects_of(perm_tree / "home") == {
        str(data / "fair_unoriented.zip"): "cannot read zip: Permission denied",
        str(data / "poor.txt"): "cannot read file: Permission denied"}


# --- a source with no readable spectrum (item 6) ----------------------------------------

@pytest.mark.parametrize("bad", ["not_rruff.txt", "corrupt.zip"])
def test_no_readable_spectrum_fails_and_keeps_the_catalog(tmp_path, bad):
    wd = tmp_path / "w"
    good = write_zip(tmp_path / "excellent_unoriented.zip", good_files())
    run_cli("ingest", "--data", str(good), "--workdir", str(wd), "--no-progress")
    catalog, rejects = (wd / "catalog.parquet").read_bytes(), (wd / "rejects.csv").read_bytes()
    src = tmp_path / bad
    src.write_bytes(b"PK\x03\x04 not really a zip" if bad.endswith(".zip")
                    else b"Dear colleague,\nplease find the spectra attached.\n")
    out = run_cli("ingest", "--data", str(src), "--workdir", str(wd), "--no-progress",
                  check=False)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "no readable spectrum in" in lines[0] and str(src) in lines[0]
    assert "left as it was" in lines[0] and "Traceback" not in out.stderr
    assert (wd / "catalog.parquet").read_bytes() == catalog
    assert (wd / "rejects.csv").read_bytes() == rejects


# --- duplicate member names (item 11) -------------------------------------------------------

def test_duplicate_member_names_each_keep_their_own_data(tmp_path):
    z = tmp_path / "excellent_unoriented.zip"
    with zipfile.ZipFile(z, "w") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr(OLD_NAME, rruff_text(n=11))
        zf.writestr(OLD_NAME, rruff_text(n=22))
    ingest(z, WorkDir(tmp_path / "w"), settings(tmp_path), progress=False)
    cat = load_catalog(tmp_path / "w")
    assert sorted(cat["n_points"]) == [11, 22]
    assert sorted(map(len, cat["wavenumber_cm1"])) == [11, 22]
    assert cat["spectrum_id"].is_unique


# --- killed runs (item 10) ----------------------------------------------------------------

def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


POOL_SCRIPT = textwrap.dedent("""
    import json, os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import forkserver
    from rruffgeo.data import catalog, parse

    spool = sys.argv[1]
    pool = ProcessPoolExecutor(2, mp_context=catalog._mp_context(),
                               initializer=parse.watch_parent, initargs=(os.getpid(), spool))
    futures = [pool.submit(time.sleep, 120) for _ in range(2)]
    while len(pool._processes) < 2 or not all(f.running() for f in futures):
        time.sleep(0.05)
    print(json.dumps({"workers": list(pool._processes),
                      "forkserver": forkserver._forkserver._forkserver_pid}), flush=True)
    time.sleep(120)
""")


def test_workers_and_forkserver_exit_when_the_ingesting_process_is_killed(tmp_path):
    spool = tempfile.mkdtemp(prefix="rruffgeo-spool-test-")
    Path(spool, "rows.arrow").write_bytes(b"x")
    parent = subprocess.Popen([sys.executable, "-c", POOL_SCRIPT, spool], text=True,
                              stdout=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(SRC)))
    try:
        pids = json.loads(parent.stdout.readline())
        others = [*pids["workers"], pids["forkserver"]]
        assert len(others) == 3 and not any(_gone(p) for p in others)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(_gone(p) for p in others):
            time.sleep(0.1)
        left = [p for p in others if not _gone(p)]
        assert left == [], "processes left alive after the parent was killed"
        assert not os.path.exists(spool)
    finally:
        parent.kill()
        for p in [*locals().get("others", [])]:
            if not _gone(p):
                os.kill(p, signal.SIGKILL)
        shutil.rmtree(spool, ignore_errors=True)


def test_stale_spools_of_killed_runs_are_removed(tmp_path):
    from rruffgeo.data.catalog import LEGACY_SPOOL_STALE_S, SPOOL_PREFIX, remove_stale_spools

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    assert _gone(dead_pid)
    names = {
        "dead": f"{SPOOL_PREFIX}{dead_pid}-abc123",
        "alive": f"{SPOOL_PREFIX}{os.getpid()}-def456",
        "old_unnamed": f"{SPOOL_PREFIX}9l9grg8c",
        "new_unnamed": f"{SPOOL_PREFIX}k2j4h5g6",
    }
    for name in names.values():
        (tmp_path / name).mkdir()
        (tmp_path / name / "1-2.arrow").write_bytes(b"rows")
    long_ago = time.time() - LEGACY_SPOOL_STALE_S - 60
    os.utime(tmp_path / names["old_unnamed"], (long_ago, long_ago))
    removed = remove_stale_spools(tmp_path)
    assert sorted(p.name for p in removed) == sorted([names["dead"], names["old_unnamed"]])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [names["alive"], names["new_unnamed"]])


def test_ingest_removes_a_killed_runs_spool_and_names_its_own(tmp_path, monkeypatch):
    import rruffgeo.data.catalog as catalog

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = tmp_path / f"{catalog.SPOOL_PREFIX}{int(dead.stdout)}-x1"
    stale.mkdir()
    seen: list[str] = []
    real = catalog._parse_in_pool

    def spy(flat, collector, workers, spool):
        seen.append(spool)
        return real(flat, collector, workers, spool)

    monkeypatch.setattr(catalog, "_spool_root", lambda wd: tmp_path)
    monkeypatch.setattr(catalog, "_parse_in_pool", spy)
    monkeypatch.setattr(catalog, "MIN_FILES_FOR_POOL", 0)
    monkeypatch.setattr(catalog, "CHUNK_FILES", 1)
    z = write_zip(tmp_path / "excellent_unoriented.zip", good_files())
    ingest(z, WorkDir(tmp_path / "w"), IngestSettings(workers=2), progress=False)
    assert not stale.exists()
    assert len(seen) == 1
    assert Path(seen[0]).name.startswith(f"{catalog.SPOOL_PREFIX}{os.getpid()}-")
    assert not Path(seen[0]).exists()


def test_cli_worker_memory_option(tmp_path):
    z = write_zip(tmp_path / "excellent_unoriented.zip",
                  {**good_files(), "huge.txt": _big_member(60_000)})
    out = run_cli("ingest", "--data", str(z), "--workdir", str(tmp_path / "w"), "--no-progress",
                  "--worker-memory-mb", "8")
    assert "spectra:  3" in out.stdout and "rejects:  1" in out.stdout
    bad = run_cli("ingest", "--data", str(z), "--workdir", str(tmp_path / "w"),
                  "--worker-memory-mb", "0", check=False)
    assert bad.returncode == 1 and "--worker-memory-mb 0" in bad.stderr


@pytest.mark.slow
def test_kill_9_mid_ingest_then_resume_is_bit_identical(tmp_path):
    """Killed (SIGKILL) once a unit is cached, the next run resumes and writes the very bytes
    a fresh run writes; the killed run's workers and spool do not outlive it."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for k, category in enumerate(["excellent_unoriented", "fair_unoriented", "poor_unoriented"]):
        write_zip(mirror / f"{category}.zip", {
            f"M{i}__R0{k}{i:04d}__Raman__532__0__unoriented__Raman_Data_Processed__{i}.txt":
                rruff_text(f"M{i}", f"R0{k}{i:04d}", n=50 + i % 7) for i in range(200)})
    wd, fresh = tmp_path / "w", tmp_path / "fresh"
    args = ["ingest", "--data", str(mirror), "--no-progress", "--workers", "2"]
    proc = subprocess.Popen([sys.executable, "-m", "rruffgeo", *args, "--workdir", str(wd)],
                            env=dict(os.environ, PYTHONPATH=str(SRC)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cache = wd / "cache" / "ingest"
    deadline = time.monotonic() + 120
    while (proc.poll() is None and time.monotonic() < deadline
           and not (cache.is_dir() and any(cache.glob("*.arrow")))):
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    run_cli(*args, "--workdir", str(wd))
    run_cli(*args, "--workdir", str(fresh))
    assert (wd / "catalog.parquet").read_bytes() == (fresh / "catalog.parquet").read_bytes()
    assert (wd / "rejects.csv").read_bytes() == (fresh / "rejects.csv").read_bytes()
    assert not list(Path("/dev/shm").glob(f"rruffgeo-spool-{proc.pid}-*"))
    assert not list(cache.glob("*.arrow"))


@pytest.mark.slow
def test_two_concurrent_ingests_into_one_work_folder(tmp_path):
    """Each run's spool is its own (a live run's is never taken for a stale one) and the
    catalog both leave is the one a lone run writes."""
    z = write_zip(tmp_path / "excellent_unoriented.zip", {
        f"M{i}__R0{i:05d}__Raman__532__0__unoriented__Raman_Data_Processed__{i}.txt":
            rruff_text(f"M{i}", f"R0{i:05d}", n=20 + i % 5) for i in range(450)})
    args = [sys.executable, "-m", "rruffgeo", "ingest", "--data", str(z), "--no-progress",
            "--workers", "2", "--workdir"]
    env = dict(os.environ, PYTHONPATH=str(SRC))
    procs = [subprocess.Popen([*args, str(tmp_path / "w")], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    run_cli("ingest", "--data", str(z), "--workdir", str(tmp_path / "alone"), "--no-progress")
    assert ((tmp_path / "w" / "catalog.parquet").read_bytes()
            == (tmp_path / "alone" / "catalog.parquet").read_bytes())


# --- kept right: zip bombs, nested zips, symlinks --------------------------------------------

def test_zip_bomb_nested_zip_and_symlinks_are_rejects_not_crashes(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    bomb = b"0,0\n" * 2_000_000  # 8 MB of text that deflates to a few KB
    inner = write_zip(tmp_path / "inner.zip", {OLD_NAME: rruff_text()})
    write_zip(data / "excellent_unoriented.zip",
              {OLD_NAME: rruff_text(), "bomb.txt": bomb, "inner.zip": inner.read_bytes()})
    assert (data / "excellent_unoriented.zip").stat().st_size < 100_000
    (tmp_path / "outside.txt").write_bytes(rruff_text(n=9))
    (data / "linked.txt").symlink_to(tmp_path / "outside.txt")
    (data / "dangling.txt").symlink_to(tmp_path / "missing.txt")
    (data / "loop").symlink_to(data, target_is_directory=True)
    res = ingest(data, WorkDir(tmp_path / "w"), settings(tmp_path, worker_memory_mb=16),
                 progress=False)
    rej = load_rejects(tmp_path / "w")
    reasons = {f.rsplit("/", 1)[-1]: r for f, r in zip(rej["file"], rej["reason"], strict=True)}
    assert res.n_spectra == 2  # the zip's good member and the linked file
    assert set(reasons) == {"bomb.txt", "inner.zip", "dangling.txt"}
    assert "member too large" in reasons["bomb.txt"]
    assert "not a .txt" in reasons["inner.zip"]
    assert reasons["dangling.txt"] == "cannot read file: No such file or directory"
    assert sorted(load_catalog(tmp_path / "w")["n_points"]) == [9, 20]
