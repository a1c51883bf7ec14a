"""Helpers for tests that run the ``rruffgeo`` command in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def run_cli(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess[str]:
    """Run ``python -m rruffgeo ARGS`` against this checkout's sources."""
    env = dict(os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(kwargs.pop("env", {}))
    return subprocess.run([sys.executable, "-m", "rruffgeo", *args], capture_output=True,
                          text=True, check=check, env=env, **kwargs)


def unprivileged_prefix() -> list[str]:
    """Command prefix that runs ``python -m rruffgeo`` without root's power to read anything.

    Empty for an ordinary user (already subject to permissions). As root it switches to
    ``nobody`` with ``setpriv``; the test skips, saying why, when that user cannot run this
    checkout's Python and import its sources (a clone under a private folder, say), since the
    test's premise could not be set up."""
    import pytest

    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permission errors cannot happen")
    prefix = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    code = "import rruffgeo; print(rruffgeo.__file__)"
    probe = subprocess.run([*prefix, sys.executable, "-c", code],
                           capture_output=True, text=True, cwd="/",
                           env=dict(os.environ, PYTHONPATH=str(SRC)))
    if probe.returncode != 0:
        why = (probe.stderr.strip().splitlines() or ["no message"])[-1]
        pytest.skip(f"user nobody cannot run this checkout ({sys.executable}, {SRC}): {why}")
    if not probe.stdout.strip().startswith(str(SRC)):
        pytest.skip(f"user nobody cannot read {SRC}: it imports rruffgeo from "
                    f"{probe.stdout.strip()} instead")
    return prefix
