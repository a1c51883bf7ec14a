"""Locality cleaning and flags."""

from __future__ import annotations

import pytest

from rruffgeo.geo import clean_locality, is_missing_locality, is_synthetic
from rruffgeo.geo.aliases import find_country_in_segment


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("Tawmaw (Tawhmaw; Taw Maw), Kachin State,  Myanmar (Burma)",
         "Tawmaw, Kachin State, Myanmar (Burma)"),
        ("Jakobsberg mine,  Nordmark,  Filipstad,  Varmland,  Sweden",
         "Jakobsberg mine, Nordmark, Filipstad, Varmland, Sweden"),
        ("Mina Ojuela (Campo Sur), Mapimi; Durango - Mexico",
         "Mina Ojuela, Mapimi, Durango, Mexico"),
        ("Congo (Kinshasa)", "Congo (Kinshasa)"),
        ("Mayoko, Congo (Brazzaville)", "Mayoko, Congo (Brazzaville)"),
        ("China (35°18’N, 113°35’E)", "China"),
        ("Pakistan (?)", "Pakistan"),
        ("  Tsumeb ,, Namibia. ", "Tsumeb, Namibia"),
        ("", ""),
        (None, ""),
        ("Broken (unbalanced, Australia", "Broken unbalanced, Australia"),
        ("Ouro Preto/Minas Gerais/Brazil", "Ouro Preto, Minas Gerais, Brazil"),
        ("Joaquina 1<sup>a</sup> mine, Tarragona, Spain", "Joaquina 1a mine, Tarragona, Spain"),
        ("&#34;Glory Hole&#34;, Tooele County, Utah, USA", "Glory Hole, Tooele County, Utah, USA"),
        ("C & B mine, Hayden, Arizona", "C & B mine, Hayden, Arizona"),
    ],
)
def test_clean_locality(raw, cleaned):
    assert clean_locality(raw) == cleaned


def test_congo_alternatives_stay_apart():
    assert find_country_in_segment("Congo (Kinshasa)")[0] == ("COD",)
    assert find_country_in_segment("Congo (Brazzaville)")[0] == ("COG",)
    assert find_country_in_segment("Congo")[0] == ("COD", "COG")


@pytest.mark.parametrize(
    ("locality", "mineral", "expected"),
    [
        ("Synthetic", "Quartz", True),
        ("Synthetic, by flux method", "Beryl", True),
        ("laboratory-grown", "Quartz", True),
        ("man-made, Germany", "Zincite", True),
        ("grown by Boatner", "Xenotime", True),
        ("synthesized at 15 GPa", "Ringwoodite", True),
        ("Tsumeb, Namibia", "Synthetic Malachite", True),
        ("Vein No. 1 of Labuntsov, Khibiny Massif, Russia", "Labuntsovite", False),
        ("Grown Mountain mine, Arizona, USA", "Quartz", False),
        ("Tsumeb, Namibia", "Azurite", False),
        ("", "", False),
    ],
)
def test_is_synthetic(locality, mineral, expected):
    assert is_synthetic(locality, mineral) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Unknown", True), ("unknown", True), ("", True), ("Mining concentrate", True),
     ("N/A", True), ("Unknown, unknown", True), ("Tsumeb", False), ("Unknown mine, Peru", False)],
)
def test_is_missing_locality(text, expected):
    assert is_missing_locality(clean_locality(text)) is expected
