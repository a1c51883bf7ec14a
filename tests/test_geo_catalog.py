"""geocode_catalog, exports and the ``rruffgeo geocode`` command on a small catalog."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from rruffgeo.cli import main
from rruffgeo.geo import geocode_catalog
from rruffgeo.workdir import GEOCODED_CSV, GEOCODED_GEOJSON, WorkDir

ROWS = [  # spectrum rows: specimen_id, mineral, locality, n_points
    ("R1", "Azurite", "Tsumeb mine, Tsumeb, Namibia", 800),
    ("R1", "Azurite", "Tsumeb mine, Tsumeb, Namibia", 900),
    ("R2", "Quartz", "Synthetic", 1000),
    ("R3", "Calcite", "Unknown", 1000),
    ("R4", "", "Bisbee, Cochise County, Arizona, USA", 1000),
    ("R5", "Malachite", "Kolwezi, Katanga, Congo", 0),
    ("R6", "Synthetic Ruby", "Mogok, Burma", 1000),
    ("R7", "Cuprite", "Bisbee, Cochise County, Arizona, USA", 500),
    ("R8", "Beryl", "Equador, Rio Grande do Norte, Brazil", 700),
]


@pytest.fixture()
def workdir(tmp_path):
    wd = WorkDir(tmp_path / "work")
    df = pd.DataFrame(ROWS, columns=["specimen_id", "mineral", "locality", "n_points"])
    df.to_parquet(wd.catalog, index=False)
    return wd


def test_geocode_catalog_one_row_per_specimen_with_flags(workdir):
    df = geocode_catalog(workdir, progress=False).set_index("specimen_id")
    assert list(df.index) == ["R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8"]
    assert df.loc["R1", "country_iso3"] == "NAM" and df.loc["R1", "precision"] == "place"
    assert df.loc["R1", "country_iso2"] == "NA"  # Namibia's code is not a missing value
    assert df.loc["R2", "synthetic"] and df.loc["R2", "country_iso3"] == ""
    assert df.loc["R3", "locality_missing"] and pd.isna(df.loc["R3", "lat"])
    assert df.loc["R4", "excluded_reason"] == "no mineral name"
    assert df.loc["R5", "excluded_reason"].startswith("no spectrum")
    assert df.loc["R6", "synthetic"] and df.loc["R6", "country_iso3"] == ""
    assert df.loc["R7", "country_name"] == "United States"
    assert df.loc["R8", "country_iso3"] == "BRA"
    again = pd.read_parquet(workdir.geocoded).set_index("specimen_id")
    assert again.loc["R7", "country_iso3"] == "USA"


def test_exports_csv_and_geojson(workdir):
    geocode_catalog(workdir, progress=False)
    csv = pd.read_csv(workdir.root / GEOCODED_CSV, keep_default_na=False)
    assert len(csv) == 8 and csv.set_index("specimen_id").loc["R1", "country_iso2"] == "NA"
    gj = json.loads((workdir.root / GEOCODED_GEOJSON).read_text())
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == 8
    by_id = {f["properties"]["specimen_id"]: f for f in gj["features"]}
    lon, lat = by_id["R1"]["geometry"]["coordinates"]
    assert lat == pytest.approx(-19.23, abs=0.1) and lon == pytest.approx(17.72, abs=0.1)
    assert by_id["R2"]["geometry"] is None and by_id["R2"]["properties"]["synthetic"] is True


def test_cli_geocode_catalog_and_missing_catalog(workdir, tmp_path, capsys):
    assert main(["geocode", "--workdir", str(workdir.root), "--no-progress"]) == 0
    assert "8 specimens" in capsys.readouterr().out
    assert main(["geocode", "--workdir", str(tmp_path / "empty")]) == 1
    assert "rruffgeo ingest" in capsys.readouterr().err


def test_cli_geocode_list_keeps_order_and_survives_bad_lines(tmp_path):
    src = tmp_path / "places.txt"
    src.write_bytes(b"Tiger, Arizona\nSynthetic\n\nTsumeb, Namibia\n\xff\xfe junk\nZaire\n")
    out = tmp_path / "out.csv"
    assert main(["geocode", "--input", str(src), "--output", str(out), "--no-progress"]) == 0
    df = pd.read_csv(out, keep_default_na=False)
    assert list(df.columns) == ["locality", "country_iso3", "country_name", "lat", "lon",
                                "precision", "synthetic", "extraterrestrial", "source"]
    assert list(df["country_iso3"]) == ["USA", "", "", "NAM", "", "COD"]
    assert df.loc[1, "synthetic"] and df.loc[1, "lat"] == ""


def test_cli_geocode_list_missing_file(tmp_path, capsys):
    assert main(["geocode", "--input", str(tmp_path / "nope.txt"), "--no-progress"]) == 1
    assert "nope.txt" in capsys.readouterr().err
