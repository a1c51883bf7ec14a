"""Shared test fixtures: the real RRUFF data beside the repo, and tiny RRUFF-format files."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_RRUFF = REPO.parent / "shared" / "rruff"


@pytest.fixture(scope="session")
def shared_rruff() -> Path:
    """The folder of real RRUFF zips (``../shared/rruff``); tests using it skip when absent."""
    if not (SHARED_RRUFF / "excellent_unoriented.zip").exists():
        pytest.skip(f"real RRUFF data not found at {SHARED_RRUFF}")
    return SHARED_RRUFF
