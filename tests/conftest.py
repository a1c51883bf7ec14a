"""Shared test fixtures: the real RRUFF data beside the repo, and tiny RRUFF-format files."""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ZipCounts:
    """What the shared zips hold, counted from the zips themselves (not pinned numbers)."""

    files_per_zip: dict[str, int]
    specimens: frozenset[str]

    @property
    def files(self) -> int:
        return sum(self.files_per_zip.values())


_RRUFFID = re.compile(rb"^##RRUFFID=\s*([RX][A-Z]?\d{6})", re.M)


def count_zip_members(folder: Path, only: tuple[str, ...] | None = None) -> ZipCounts:
    """Count ``.txt`` members per zip and the RRUFF IDs (``##RRUFFID``, sub-sample suffix cut)."""
    files: dict[str, int] = {}
    ids: set[str] = set()
    for zpath in sorted(folder.glob("*.zip")):
        if only is not None and zpath.stem not in only:
            continue
        with zipfile.ZipFile(zpath) as zf:
            members = [m for m in zf.namelist() if m.lower().endswith(".txt")]
            files[zpath.stem] = len(members)
            for m in members:
                found = _RRUFFID.search(zf.read(m)[:4000])
                if found:
                    ids.add(found.group(1).decode())
    return ZipCounts(files, frozenset(ids))


@pytest.fixture(scope="session")
def shared_counts(shared_rruff) -> ZipCounts:
    return count_zip_members(shared_rruff)
