"""The geolocation goals on the real RRUFF localities (headers read straight from the zips)."""

from __future__ import annotations

import zipfile

import pandas as pd
import pytest

from rruffgeo.geo import geocode_specimens
from rruffgeo.geo.clean import segments
from rruffgeo.geo.countries import country_index
from rruffgeo.geo.offline import OfflineGeocoder


def _headers(zip_path):
    rows = []
    with zipfile.ZipFile(zip_path) as zf:
        for name in zf.namelist():
            if not name.endswith(".txt"):
                continue
            with zf.open(name) as fh:
                head = fh.read(4096).decode("utf-8", errors="replace")
            h = {}
            for line in head.splitlines():
                if line.startswith("##") and "=" in line:
                    key, value = line[2:].split("=", 1)
                    h[key.strip()] = value.strip()
            rows.append((h.get("RRUFFID", "").split("-")[0], h.get("NAMES", ""),
                         h.get("LOCALITY", ""), 1))
    return rows


@pytest.mark.shared
@pytest.mark.slow
def test_real_localities_meet_the_goals(shared_rruff):
    rows = []
    for zip_path in sorted(shared_rruff.glob("*.zip")):
        rows += _headers(zip_path)
    spec = (pd.DataFrame(rows, columns=["specimen_id", "mineral", "locality", "n_points"])
            .drop_duplicates("specimen_id"))
    df = geocode_specimens(spec, progress=False)
    flagged = df["synthetic"] | df["extraterrestrial"] | df["locality_missing"]
    assert (df.loc[flagged, "country_iso3"] == "").all()
    offworld = df.set_index("specimen_id")["extraterrestrial"]
    assert offworld["R060051"]  # "Weathered surface of a LL5 chondritic meteorite from Antarctica"
    assert offworld.sum() >= 9
    natural = df[~flagged & (df["excluded_reason"] == "")]
    assert len(natural) > 2000
    assert (natural["country_iso3"] != "").mean() >= 0.99
    reader, idx = OfflineGeocoder(), country_index()
    text = natural["locality_clean"].map(lambda s: reader.text_country(segments(s)).iso3)
    named = natural[text != ""]
    assert (named["country_iso3"] == text[text != ""]).mean() >= 0.995
    in_text_country = [idx.lookup(la, lo)[0] == t for la, lo, t in
                       zip(named["lat"], named["lon"], text[text != ""], strict=True)]
    assert sum(in_text_country) / len(in_text_country) >= 0.995
