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


def test_the_report_templates_ship_with_the_package():
    """The page is rendered from files beside the code: an installed copy must have them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["rruffgeo"]
    folder = ROOT / "src" / "rruffgeo" / "report" / "templates"
    files = [p.relative_to(ROOT / "src" / "rruffgeo") for p in folder.iterdir()]
    assert files and all(any(f.match(p) for p in patterns) for f in files)
    assert any(r.lower().startswith("jinja2") for r in project["project"]["dependencies"])
