"""Meteorites, lunar and Martian samples are flagged, not counted for the country where they
fell (issue 13.5)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from rruffgeo.geo import geocode_catalog, geocode_localities
from rruffgeo.geo.clean import is_extraterrestrial
from rruffgeo.report.stats import load_samples, totals_table
from rruffgeo.workdir import WorkDir


@pytest.mark.parametrize("text", [
    "Weathered surface of a LL5 chondritic meteorite from Antarctica",
    "Tenham meteorite, south Gregory, Queensland, Australia",
    "The Fukang Pallasite meteorite, Gobi Desert, China, found in 2001",
    "CV3 type carbonaceous chondrite NWA 2086 at University of Szeged, Hungary",
    "Suizhou L6 chondrite, Dayanpo, Hubei Province, China",
    "Lunar highland regolith, Apollo 16",
    "Luna 24 core sample",
    "Martian shergottite Zagami, Nigeria",
    "Howardite, Vesta",
    "Northwest Africa NWA 7034",
    "micrometeorites from Antarctic ice",
])
def test_extraterrestrial_texts_are_flagged(text):
    assert is_extraterrestrial(text)


@pytest.mark.parametrize("text", [
    "Moon Canyon, Woodland, Summit County, Utah, USA",
    "South Sister Peak, Luna County, New Mexico, USA",
    "Moon Anchor Mine, Hummingbird Spring, Big Horn Mts, Maricopa Co., Arizona, USA",
    "Chondrodite, Tilly Foster mine, Brewster, New York, USA",
    "Synthetic", "", None,
])
def test_terrestrial_texts_are_not(text):
    assert not is_extraterrestrial(text)


def _catalog(root) -> WorkDir:
    wd = WorkDir(root)
    rows = [  # specimen_id, mineral, locality, description
        ("R1", "Azurite", "Tsumeb mine, Tsumeb, Namibia", "Blue crystals"),
        ("R2", "Hexahydrite", "Weathered surface of a LL5 chondritic meteorite from Antarctica",
         "White crust"),
        ("R3", "Ringwoodite", "Tenham meteorite, south Gregory, Queensland, Australia", ""),
        ("R4", "Forsterite", "Pueblito de Allende, Chihuahua, Mexico",
         "Chondrule separated from the Allende meteorite"),
    ]
    df = pd.DataFrame([{"spectrum_id": f"{s}_{k}", "specimen_id": s, "mineral": m,
                        "locality": loc, "n_points": 900, "kind": "processed",
                        "laser_nm": 532.0, "wavenumber_min_cm1": 100.0,
                        "wavenumber_max_cm1": 1200.0,
                        "headers_json": json.dumps({"LOCALITY": loc, "DESCRIPTION": d})}
                       for s, m, loc, d in rows for k in range(2)])
    df.to_parquet(wd.catalog, index=False)
    return wd


def test_geocode_flags_meteorites_from_locality_or_description(tmp_path):
    wd = _catalog(tmp_path / "work")
    df = geocode_catalog(wd, progress=False).set_index("specimen_id")
    assert df["extraterrestrial"].to_dict() == {"R1": False, "R2": True, "R3": True, "R4": True}
    assert df.loc["R1", "country_iso3"] == "NAM"
    for sid in ("R2", "R3", "R4"):  # never placed in the country where it fell
        assert df.loc[sid, "country_iso3"] == "" and pd.isna(df.loc[sid, "lat"])
        assert not df.loc[sid, "synthetic"]
    # The report counts them apart from natural samples.
    samples = load_samples(wd)
    assert set(samples.loc[samples["natural"], "specimen_id"]) == {"R1"}
    totals = totals_table(samples).set_index("quantity")
    row = totals.loc["extraterrestrial (meteorites, lunar, Martian)"]
    assert row["spectra"] == 6 and row["specimens"] == 3
    assert totals.loc["natural", "specimens"] == 1


def test_geocode_list_has_the_flag():
    df = geocode_localities(["Tenham meteorite, Queensland, Australia", "Tsumeb, Namibia"])
    assert df["extraterrestrial"].tolist() == [True, False]
    assert df["country_iso3"].tolist() == ["", "NAM"]
