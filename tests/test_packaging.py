"""The licence is stated once and agrees everywhere: pyproject, LICENSE, CITATION.cff."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_license_is_an_spdx_string_matching_the_license_file_and_citation():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    # A TOML table here makes setuptools >= 77 warn on every build.
    assert project["project"]["license"] == "MIT"
    assert project["project"]["license-files"] == ["LICENSE"]
    assert any(r.startswith("setuptools>=") and int(r.split(">=")[1].split(".")[0]) >= 77
               for r in project["build-system"]["requires"])
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    cff = (ROOT / "CITATION.cff").read_text()
    assert re.search(r"^license: MIT$", cff, re.MULTILINE)
    assert "From Spectra to Geography: Intelligent Mapping of RRUFF Mineral Data" in cff
    assert "The power of databases: the RRUFF project" in cff
