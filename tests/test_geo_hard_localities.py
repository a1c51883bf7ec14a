"""Hard locality strings seen on mineral labels, each with the country a curator would give."""

from __future__ import annotations

import pytest

from rruffgeo.geo import geocode_localities

# (locality, expected ISO3; "" = no country must be given)
HARD = [
    # historic names
    ("Kolwezi, Shaba, Zaire", "COD"),
    ("Shinkolobwe, Belgian Congo", "COD"),
    ("Pein Pyit, Mogok, Burma", "MMR"),
    ("Mashonaland, Southern Rhodesia", "ZWE"),
    ("Broken Hill, Northern Rhodesia", "ZMB"),
    ("Vrancice, Czechoslovakia", "CZE"),
    ("Banska Stiavnica, Czechoslovakia", "SVK"),
    ("Jachymov, Bohemia", "CZE"),
    ("Palabora mine, Phalaborwa, Transvaal, Republic of South Africa", "ZAF"),
    ("Khibiny Massif, Kola Peninsula, U.S.S.R.", "RUS"),
    ("Dzhezkazgan, Kazakh SSR, USSR", "KAZ"),
    ("Idrija, Yugoslavia", "SVN"),
    ("Kratovo, Yugoslavia", "MKD"),
    ("Allchar, Macedonia", "MKD"),
    ("Belafeno, Malagasy Republic", "MDG"),
    ("Ratnapura, Ceylon", "LKA"),
    ("Mzimba, Nyassaland", "MWI"),
    ("Tsumeb, South West Africa", "NAM"),
    ("Kuala Lumpur, Malaya", "MYS"),
    # constituent countries and UK forms
    ("Cligga mine, Perranzabuloe, Cornwall, England", "GBR"),
    ("Strontian, North West Highlands (Argyllshire), Scotland, UK", "GBR"),
    ("Parys Mountain, Anglesey, Wales", "GBR"),
    ("Tynagh mine, County Galway, Ireland", "IRL"),
    ("Antrim, Northern Ireland", "GBR"),
    # missing country: state or province only
    ("Tiger, Arizona", "USA"),
    ("Franklin, New Jersey", "USA"),
    ("Mont Saint-Hilaire, Quebec", "CAN"),
    ("Broken Hill, New South Wales", "AUS"),
    ("Kalgoorlie, Western Australia", "AUS"),
    ("Dundas, Tasmania", "AUS"),
    ("Bancroft, Ontario", "CAN"),
    ("Chester City, Pennsylvannia, USA", "USA"),
    ("Minas Gerais  Brazil", "BRA"),
    ("New Hampshire USA", "USA"),
    ("Aude France", "FRA"),
    # country-like place names
    ("Equador, Rio Grande do Norte, Brazil", "BRA"),
    ("S.W. Jasper County, Georgia, USA", "USA"),
    ("Holly Springs, Georgia, USA", "USA"),
    ("Gomi deposit, Rioni River Valley, Caucasus Mountains, Georgia", "GEO"),
    ("Mexico, Oxford County, Maine, USA", "USA"),
    ("Peru, Clinton County, New York, USA", "USA"),
    ("Albuquerque, New Mexico", "USA"),
    ("Texas, Lancaster County, Pennsylvania, USA", "USA"),
    ("Jordan Creek, Owyhee County, Idaho, USA", "USA"),
    ("Lake Victoria, Mwanza, Tanzania", "TZA"),
    # Congo
    ("Musonoi mine, Kolwezi, Katanga, Congo", "COD"),
    ("Congo (Kinshasa)", "COD"),
    ("Mayoko, Congo (Brazzaville)", "COG"),
    ("Musonoi Mine, Kolwezi, Katanga (Shaba), Congo (Zaïre)", "COD"),
    ("Kambove, Katanga, Democratic Republic of Congo", "COD"),
    # misspellings
    ("Broken Hill, Austrailia", "AUS"),
    ("Tsumeb, Nambia", "NAM"),
    ("Imilchil, Morroco", "MAR"),
    ("Sar-e-Sang, Badakhshan, Afganistan", "AFG"),
    ("Dara-i-Pioz, Tadjikistan", "TJK"),
    ("Kara-Tyube, Kigizstan", "KGZ"),
    ("Kandy, Sri-Lanka", "LKA"),
    ("Josef mine, Moldava, Czech. Republic", "CZE"),
    # parentheses and directions
    ("Sarabau mine, near Bau, Sarawak, Borneo (Malaysia)", "MYS"),
    ("Tawmaw (Tawhmaw; Taw Maw), Kachin State, Myanmar (Burma)", "MMR"),
    ("Lundazi area of eastern Zambia", "ZMB"),
    ("Hunza Valley, Gilgit (Northern Areas), Pakistan (?)", "PAK"),
    ("far eastern Russia", "RUS"),
    ("Iron Crag, Roughton Gill, Cumbria (Cumberland), England, United Kingdom", "GBR"),
    ("Langban, Filipstad, Varmland, Sweden", "SWE"),
    ("Tsumeb", "NAM"),
    ("Kvanefjeld, Ilimaussaq, Narsaq, Kitaa, Greenland", "GRL"),
    # non-localities and synthetic samples: no country, never a guess
    ("Unknown", ""),
    ("unknown", ""),
    ("", ""),
    ("Mining concentrate", ""),
    ("?", ""),
    ("Synthetic", ""),
    ("Synthetic, made in the Czech Republic", ""),
    ("synthetic, grown by Boatner", ""),
    ("Lab-grown by bacteria in 15% potassium carbonate", ""),
    ("Man-made crystal, Germany", ""),
    ("Synthesized at Arizona State University, Tempe, Arizona", ""),
    # extraterrestrial samples: not natural samples of the country where they fell (issue 13)
    ("Tenham meteorite, south Gregory, Queensland, Australia", ""),
    ("The Fukang Pallasite meteorite, Gobi Desert, China, found in 2001", ""),
    ("Weathered surface of a LL5 chondritic meteorite from Antarctica", ""),
]


def test_at_least_sixty_hard_strings():
    assert len(HARD) >= 60


@pytest.fixture(scope="module")
def answers():
    df = geocode_localities([text for text, _ in HARD])
    return dict(zip(df["locality"], df.to_dict("records"), strict=True))


@pytest.mark.parametrize(("text", "iso3"), HARD, ids=[t[:40] or "<empty>" for t, _ in HARD])
def test_hard_locality_country(answers, text, iso3):
    row = answers[text]
    assert row["country_iso3"] == iso3
    if iso3:
        assert -90 <= row["lat"] <= 90 and -180 <= row["lon"] <= 180
        assert row["precision"] in ("place", "district", "state", "country")
        assert row["country_name"]
    else:
        assert row["lat"] != row["lat"]  # NaN: no point for what names no place
