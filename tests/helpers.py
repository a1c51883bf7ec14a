"""Helpers for tests that run the ``rruffgeo`` command in a subprocess."""

from __future__ import annotations

import os
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
