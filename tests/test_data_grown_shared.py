"""The grown shared data (../shared/rruff): techniques, reference compounds and what each zip
adds, every expected count read from the zips themselves (names and ``##RRUFFID`` headers)."""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from conftest import count_zip_members
from helpers import run_cli
from rruffgeo.config import IngestSettings
from rruffgeo.data import ingest, summary
from rruffgeo.data.columns import read_catalog_columns
from rruffgeo.geo.pipeline import REFERENCE_COMPOUND_REASON, geocode_specimens, specimens_of
from rruffgeo.report.stats import source_table, technique_table
from rruffgeo.workdir import WorkDir

pytestmark = [pytest.mark.shared, pytest.mark.slow]

_HEADER_ID = re.compile(rb"^##RRUFFID=\s*([A-Z]+\d{6})", re.M)


def zip_files(folder: Path) -> pd.DataFrame:
    """One row per ``.txt`` member: zip, technique field of its name, specimen ID of its header."""
    rows = []
    for zpath in sorted(folder.glob("*.zip")):
        with zipfile.ZipFile(zpath) as zf:
            for name in zf.namelist():
                if not name.lower().endswith(".txt"):
                    continue
                found = _HEADER_ID.search(zf.read(name)[:4000])
                fields = name.split("__")
                rows.append({"zip": zpath.stem, "technique": fields[2] if len(fields) > 3 else "",
                             "header_id": found.group(1).decode() if found else ""})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def shared_catalog(shared_rruff, tmp_path_factory) -> pd.DataFrame:
    tmp = tmp_path_factory.mktemp("grown")
    wd = WorkDir(tmp / "w")
    ingest(shared_rruff, wd, IngestSettings(cache_dir=tmp / "c"), progress=False)
    return read_catalog_columns(wd.catalog, [
        "spectrum_id", "specimen_id", "mineral", "locality", "n_points", "kind", "technique",
        "is_reference_compound", "category"])


@pytest.fixture(scope="module")
def files(shared_rruff) -> pd.DataFrame:
    return zip_files(shared_rruff)


def test_reference_compounds_are_the_xd_files(shared_catalog, files):
    xd = files[files["header_id"].str.startswith("XD")]
    assert len(xd) > 0
    reference = shared_catalog[shared_catalog["is_reference_compound"]]
    assert len(reference) == len(xd)
    assert set(reference["specimen_id"]) == set(xd["header_id"])
    # Other X IDs are minerals.
    x_minerals = shared_catalog["specimen_id"].str.match(r"^X\d")
    assert x_minerals.any() and not shared_catalog.loc[x_minerals, "is_reference_compound"].any()


def test_techniques_are_the_file_names_fields(shared_catalog, files):
    assert Counter(shared_catalog["technique"]) == Counter(files["technique"])
    lr = shared_catalog[shared_catalog["category"] == "LR-Raman"]
    assert set(lr["technique"]) == {"Broad_Scan"}
    table = technique_table(shared_catalog).set_index("technique")
    assert table["spectra"].sum() == len(files)
    assert table["raw_spectra"].sum() == (shared_catalog["kind"] == "raw").sum()


def test_each_zip_adds_the_specimens_no_other_zip_has(shared_catalog, files):
    table = source_table(shared_catalog).set_index("source")
    ids = files.groupby("zip")["header_id"].agg(lambda v: set(v) - {""})
    for zip_stem, mine in ids.items():
        others = set().union(*(v for z, v in ids.items() if z != zip_stem))
        assert table.loc[zip_stem, "specimens_only_here"] == len(mine - others), zip_stem
        assert table.loc[zip_stem, "spectra"] == (files["zip"] == zip_stem).sum()


def test_reference_compounds_are_never_placed(shared_catalog):
    reference = shared_catalog[shared_catalog["is_reference_compound"]]
    geo = geocode_specimens(specimens_of(reference), progress=False)
    assert (geo["excluded_reason"] == REFERENCE_COMPOUND_REASON).all()
    assert (geo["country_iso3"] == "").all() and geo["lat"].isna().all()


def test_cli_data_takes_any_subset_of_the_official_zips(shared_rruff, tmp_path):
    subset = ("LR-Raman", "fair_oriented")
    folder = tmp_path / "subset"
    folder.mkdir()
    for stem in subset:
        (folder / f"{stem}.zip").symlink_to(shared_rruff / f"{stem}.zip")
    expected = count_zip_members(shared_rruff, only=subset)
    out = run_cli("ingest", "--data", str(folder), "--workdir", str(tmp_path / "w"),
                  "--no-progress")
    assert f"spectra:  {expected.files}" in out.stdout and "rejects:  0" in out.stdout
    counts = summary(tmp_path / "w")
    assert counts["categories"] == expected.files_per_zip
    assert counts["specimens"] == len(expected.specimens)
