"""Offline geocoder details: precision levels, ambiguity notes, the country join."""

from __future__ import annotations

import pytest
from geopy.location import Location

from rruffgeo.geo.countries import country_index
from rruffgeo.geo.offline import OfflineGeocoder
from rruffgeo.geo.pipeline import Placer


@pytest.fixture(scope="module")
def placer():
    return Placer()


@pytest.mark.parametrize(
    ("text", "precision", "lat", "lon"),
    [
        ("Bisbee, Cochise County, Arizona, USA", "place", 31.45, -109.93),
        ("Mohave County, Arizona, USA", "district", 35.0, -114.2),
        ("Tiger, Arizona", "state", 33.7, -111.5),
        ("Lovozero Massif, Russia", "country", None, None),
        # a place named like a state must not pull the point to that state
        ("Texas, Lancaster County, Pennsylvania, USA", "district", 40.0, -76.3),
        ("Oaxaca, Mexico", "state", 17.0, -96.6),  # the state, not the State of Mexico
        ("Mexico", "country", 23.6, -102.3),
        ("Sardinia", "state", 40.0, 9.0),
        # GeoNames' "Xinjiang Uygur Zizhiqu": the region, not the town Xinjiang in Guangdong
        ("Xinjiang, China", "state", 42.7, 84.0),
        ("Kohtokay mine, Xinjiang Autonomous Region, China", "state", 42.7, 84.0),
    ],
)
def test_precision_levels(placer, text, precision, lat, lon):
    p = placer.place(text)
    assert p.precision == precision
    if lat is not None:
        assert p.lat == pytest.approx(lat, abs=1.5) and p.lon == pytest.approx(lon, abs=1.5)


def test_country_precision_point_lies_in_the_country(placer):
    p = placer.place("Russia")
    assert country_index().lookup(p.lat, p.lon)[0] == "RUS"


def test_ambiguous_names_are_settled_by_context_or_noted(placer):
    assert placer.place("Atlanta, Georgia").country_iso3 == "USA"
    alone = placer.place("Congo")
    assert alone.country_iso3 == "COD" and "COG" in alone.country_note
    settled = placer.place("Banska Stiavnica, Czechoslovakia")
    assert settled.country_iso3 == "SVK" and settled.country_note == ""


def test_text_country_is_kept_when_the_point_falls_elsewhere():
    class WrongSide:
        """A geocoder that puts the place across the border (as online services sometimes do)."""

        def geocode(self, query):
            return Location("Nogales, Sonora", (31.30, -110.94), {"geocoder": "wrongside"})

    p = Placer(geocoder=WrongSide()).place("Nogales, Santa Cruz County, Arizona, USA")
    assert p.country_iso3 == "USA" and "MEX" in p.country_note
    assert p.geocoder == "wrongside"


def test_spatial_join_and_offshore_fallback():
    idx = country_index()
    assert idx.lookup(48.85, 2.35) == ("FRA", False)
    assert idx.lookup(36.80, -122.05, offshore_max_deg=0.5) == ("USA", True)  # Monterey Bay
    assert idx.lookup(30.0, -40.0) == ("", False)  # mid-Atlantic
    assert idx.lookup(36.80, -122.05, offshore_max_deg=0.0) == ("", False)


def test_text_country_reads_from_the_end():
    g = OfflineGeocoder()
    tc = g.text_country(["Equador", "Rio Grande do Norte", "Brazil"])
    assert (tc.iso3, tc.index) == ("BRA", 2)
    assert g.text_country(["Tsumeb mine", "Tsumeb"]).iso3 == ""


def test_coordinates_written_in_the_text_win():
    from rruffgeo.geo import geocode_localities

    df = geocode_localities([
        "Dayanpo, Suizhou, Hubei Province, China (35°18’N, 113°35’E)",  # not the meteorite
        "Capao mine, Minas Gerais, Brazil, GPS Coordinates: 20 25 58 S, 43 38 25 W, 3694 ft",
        "Level 5 N, 3 E, Tsumeb, Namibia",
    ])
    assert df.loc[0, "lat"] == pytest.approx(35.3)
    assert df.loc[0, "lon"] == pytest.approx(113.583, abs=1e-3)
    assert df.loc[0, "source"] == "coordinates in text" and df.loc[0, "country_iso3"] == "CHN"
    assert df.loc[1, "lat"] == pytest.approx(-20.4328, abs=1e-3)
    assert df.loc[1, "country_iso3"] == "BRA"
    assert df.loc[2, "source"] == "offline" and df.loc[2, "country_iso3"] == "NAM"


def test_lone_ambiguous_place_name_is_noted(placer):
    p = placer.place("Franklin")
    assert p.country_iso3 and "countries" in p.country_note
    assert placer.place("Tsumeb").country_note == ""
