"""Names that imply a country: Natural Earth's own names plus the project's alias tables.

Natural Earth knows today's countries; mineral labels use historic and informal names (Zaire,
Burma, Bohemia, USSR), constituent countries (England), states and provinces without the country
("Tiger, Arizona"), abbreviations (USA, U.K.) and misspellings (Austrailia). Ambiguous names map
to several candidates, first the default: "Congo" (DR Congo, Republic of the Congo),
"Czechoslovakia" (Czechia, Slovakia), "USSR" (its successor states), "Georgia" (the country, the
US state); the geocoder picks among candidates with the rest of the locality.
Keys are compared after `rruffgeo.geo.text.norm` (lower-case ASCII, no dots or apostrophes).
"""

from __future__ import annotations

from functools import lru_cache

from rruffgeo.geo.text import norm

_USSR = ("RUS", "KAZ", "UKR", "UZB", "KGZ", "TJK", "TKM", "GEO", "ARM", "AZE", "BLR", "MDA",
         "LTU", "LVA", "EST")
_YUGO = ("SRB", "MKD", "BIH", "HRV", "SVN", "MNE", "KOS")

#: Historic, informal, abbreviated and misspelt country names -> ISO3 candidates (default first).
COUNTRY_ALIASES: dict[str, tuple[str, ...]] = {
    # United States
    "usa": ("USA",), "us": ("USA",), "u s a": ("USA",), "united states": ("USA",),
    "united states of america": ("USA",), "estados unidos": ("USA",),
    # United Kingdom and its parts
    "uk": ("GBR",), "u k": ("GBR",), "great britain": ("GBR",), "britain": ("GBR",),
    "england": ("GBR",), "scotland": ("GBR",), "wales": ("GBR",), "northern ireland": ("GBR",),
    "united kingdom": ("GBR",), "isle of man": ("IMN",), "channel islands": ("GBR",),
    # Historic names
    "zaire": ("COD",), "belgian congo": ("COD",), "congo kinshasa": ("COD",),
    "congo (kinshasa)": ("COD",), "drc": ("COD",), "dr congo": ("COD",), "d r congo": ("COD",),
    "democratic republic of congo": ("COD",), "democratic republic of the congo": ("COD",),
    "congo democratic republic": ("COD",), "dem rep congo": ("COD",),
    "congo (zaire)": ("COD",), "congo brazzaville": ("COG",), "congo (brazzaville)": ("COG",),
    "republic of congo": ("COG",), "republic of the congo": ("COG",), "french congo": ("COG",),
    "congo": ("COD", "COG"),
    "burma": ("MMR",), "myanmar (burma)": ("MMR",),
    "rhodesia": ("ZWE",), "southern rhodesia": ("ZWE",), "northern rhodesia": ("ZMB",),
    "nyasaland": ("MWI",), "nyassaland": ("MWI",), "tanganyika": ("TZA",), "zanzibar": ("TZA",),
    "south west africa": ("NAM",), "southwest africa": ("NAM",),
    "german south west africa": ("NAM",),
    "malagasy republic": ("MDG",), "malagasy": ("MDG",), "madagascar republic": ("MDG",),
    "ceylon": ("LKA",), "siam": ("THA",), "persia": ("IRN",), "formosa": ("TWN",),
    "dahomey": ("BEN",), "upper volta": ("BFA",), "gold coast": ("GHA",), "abyssinia": ("ETH",),
    "bechuanaland": ("BWA",), "basutoland": ("LSO",), "swaziland": ("SWZ",), "eswatini": ("SWZ",),
    "kampuchea": ("KHM",), "east pakistan": ("BGD",), "malaya": ("MYS",),
    "east germany": ("DEU",), "west germany": ("DEU",), "gdr": ("DEU",), "ddr": ("DEU",),
    "prussia": ("DEU", "POL", "RUS"), "german democratic republic": ("DEU",),
    "federal republic of germany": ("DEU",), "frg": ("DEU",),
    "czechoslovakia": ("CZE", "SVK"), "czecho slovakia": ("CZE", "SVK"), "cssr": ("CZE", "SVK"),
    "czech republic": ("CZE",), "czech": ("CZE",), "czechia": ("CZE",),
    "slovak republic": ("SVK",),
    "ussr": _USSR, "u s s r": _USSR, "soviet union": _USSR, "cccp": _USSR,
    "russian federation": ("RUS",), "russia": ("RUS",), "russian sfsr": ("RUS",),
    "rsfsr": ("RUS",), "kazakh ssr": ("KAZ",), "ukrainian ssr": ("UKR",), "uzbek ssr": ("UZB",),
    "kirghiz ssr": ("KGZ",), "tajik ssr": ("TJK",), "turkmen ssr": ("TKM",),
    "georgian ssr": ("GEO",), "armenian ssr": ("ARM",), "azerbaijan ssr": ("AZE",),
    "byelorussian ssr": ("BLR",), "karelia": ("RUS",), "transbaikalia": ("RUS",),
    "yugoslavia": _YUGO, "jugoslavia": _YUGO, "serbia and montenegro": ("SRB", "MNE", "KOS"),
    "macedonia": ("MKD",), "fyrom": ("MKD",), "republic of macedonia": ("MKD",),
    "bosnia": ("BIH",), "bosnia herzegovina": ("BIH",), "bosnia and herzegovina": ("BIH",),
    "kosovo": ("KOS",), "austria hungary": ("AUT", "HUN", "CZE", "SVK"),
    "korea": ("KOR", "PRK"), "south korea": ("KOR",), "north korea": ("PRK",),
    "republic of korea": ("KOR",), "peoples republic of china": ("CHN",), "prc": ("CHN",),
    "tibet": ("CHN",), "inner mongolia": ("CHN",), "manchuria": ("CHN",),
    "republic of south africa": ("ZAF",), "rsa": ("ZAF",), "s africa": ("ZAF",),
    "ivory coast": ("CIV",), "cote divoire": ("CIV",), "east timor": ("TLS",),
    "vietnam": ("VNM",), "viet nam": ("VNM",), "laos": ("LAO",), "lao pdr": ("LAO",),
    "the netherlands": ("NLD",), "holland": ("NLD",), "the bahamas": ("BHS",),
    "uae": ("ARE",), "the gambia": ("GMB",), "new guinea": ("PNG", "IDN"),
    "hong kong": ("HKG",), "tahiti": ("PYF",), "french polynesia": ("PYF",),
    "greenland": ("GRL",), "faroe islands": ("FRO",), "svalbard": ("NOR",), "spitsbergen": ("NOR",),
    "corsica": ("FRA",), "sardinia": ("ITA",), "sicily": ("ITA",), "elba": ("ITA",),
    "crete": ("GRC",), "tasmania": ("AUS",), "borneo": ("MYS", "IDN", "BRN"),
    "sumatra": ("IDN",), "java": ("IDN",), "sulawesi": ("IDN",), "celebes": ("IDN",),
    "kamchatka": ("RUS",), "siberia": ("RUS",), "yakutia": ("RUS",), "kola peninsula": ("RUS",),
    "ural mountains": ("RUS",), "urals": ("RUS",), "tyva": ("RUS",), "tuva": ("RUS",),
    "antarctica": ("ATA",), "antarctic": ("ATA",),
    # Historic and informal regions that name one country.
    "bohemia": ("CZE",), "moravia": ("CZE",), "silesia": ("POL", "CZE"),
    "transvaal": ("ZAF",), "natal": ("ZAF",), "cape province": ("ZAF",), "namaqualand": ("ZAF",),
    "orange free state": ("ZAF",), "griqualand west": ("ZAF",),
    "shaba": ("COD",), "katanga": ("COD",), "kivu": ("COD",), "kasai": ("COD",),
    "transylvania": ("ROU",), "banat": ("ROU",), "tyrol": ("AUT",), "tirol": ("AUT",),
    "south tyrol": ("ITA",), "sudtirol": ("ITA",), "alto adige": ("ITA",),
    "bavaria": ("DEU",), "saxony": ("DEU",), "thuringia": ("DEU",), "eifel": ("DEU",),
    "harz": ("DEU",), "black forest": ("DEU",), "westphalia": ("DEU",), "hesse": ("DEU",),
    "lapland": ("FIN", "SWE"), "cornwall": ("GBR",), "cumbria": ("GBR",), "cumberland": ("GBR",),
    "devon": ("GBR",), "derbyshire": ("GBR",), "argyllshire": ("GBR",),
    "brittany": ("FRA",), "auvergne": ("FRA",), "alsace": ("FRA",), "provence": ("FRA",),
    "tuscany": ("ITA",), "piedmont": ("ITA",), "lombardy": ("ITA",), "campania": ("ITA",),
    "latium": ("ITA",), "aosta valley": ("ITA",), "valle daosta": ("ITA",),
    "andalusia": ("ESP",), "catalonia": ("ESP",), "galicia": ("ESP", "POL", "UKR"),
    "minas gerais": ("BRA",), "bahia": ("BRA",), "rio grande do norte": ("BRA",),
    "patagonia": ("ARG", "CHL"), "atacama": ("CHL",), "baja california": ("MEX",),
    "sinai": ("EGY",), "kashmir": ("IND", "PAK"), "gilgit": ("PAK",), "baltistan": ("PAK",),
    "north west frontier province": ("PAK",), "nwfp": ("PAK",), "khyber pakhtunkhwa": ("PAK",),
    "hunza": ("PAK",), "hunza valley": ("PAK",), "skardu": ("PAK",),
    "badakhshan": ("AFG", "TJK"), "nuristan": ("AFG",), "pamir": ("TJK",), "pamirs": ("TJK",),
    "mogok": ("MMR",),
    # Misspellings seen on mineral labels.
    "austrailia": ("AUS",), "austalia": ("AUS",), "australa": ("AUS",), "austrlia": ("AUS",),
    "nambia": ("NAM",), "namibie": ("NAM",), "morroco": ("MAR",), "marocco": ("MAR",),
    "moroco": ("MAR",), "afganistan": ("AFG",), "afghanstan": ("AFG",),
    "tadjikistan": ("TJK",), "tadzhikistan": ("TJK",), "tajikstan": ("TJK",),
    "kirgizstan": ("KGZ",), "kigizstan": ("KGZ",), "kirghizia": ("KGZ",), "kyrgystan": ("KGZ",),
    "kirgizia": ("KGZ",), "kazakstan": ("KAZ",), "kazachstan": ("KAZ",),
    "uzbekestan": ("UZB",), "turkmenia": ("TKM",), "byelorussia": ("BLR",), "belorussia": ("BLR",),
    "brasil": ("BRA",), "brazill": ("BRA",), "mexiko": ("MEX",), "mejico": ("MEX",),
    "argentinia": ("ARG",), "columbia": ("COL",), "phillipines": ("PHL",), "philipines": ("PHL",),
    "philippine islands": ("PHL",), "pakisan": ("PAK",), "madagasgar": ("MDG",),
    "tanzinia": ("TZA",), "tansania": ("TZA",), "zimbabwae": ("ZWE",), "swedan": ("SWE",),
    "norwey": ("NOR",), "switzerand": ("CHE",), "switzerlad": ("CHE",), "swizerland": ("CHE",),
    "germnay": ("DEU",), "itlay": ("ITA",), "grenland": ("GRL",), "greeland": ("GRL",),
    "canda": ("CAN",), "candada": ("CAN",), "sri lanka": ("LKA",), "srilanka": ("LKA",),
    "equador": ("ECU",), "equador republic": ("ECU",), "peru republic": ("PER",),
    # Non-English names often found on labels.
    "deutschland": ("DEU",), "italia": ("ITA",), "espana": ("ESP",), "osterreich": ("AUT",),
    "schweiz": ("CHE",), "suisse": ("CHE",), "svizzera": ("CHE",), "norge": ("NOR",),
    "sverige": ("SWE",), "suomi": ("FIN",), "polska": ("POL",), "cesko": ("CZE",),
    "magyarorszag": ("HUN",), "nippon": ("JPN",), "rossiya": ("RUS",),
}

#: States and provinces that name their country even when the country is not written.
US_STATES: dict[str, str] = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "florida": "FL", "georgia": "GA",
    "hawaii": "HI", "idaho": "ID", "illinois": "IL", "indiana": "IN", "iowa": "IA",
    "kansas": "KS", "kentucky": "KY", "louisiana": "LA", "maine": "ME", "maryland": "MD",
    "massachusetts": "MA", "michigan": "MI", "minnesota": "MN", "mississippi": "MS",
    "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV", "new hampshire": "NH",
    "new jersey": "NJ", "new mexico": "NM", "new york": "NY", "north carolina": "NC",
    "north dakota": "ND", "ohio": "OH", "oklahoma": "OK", "oregon": "OR", "pennsylvania": "PA",
    "rhode island": "RI", "south carolina": "SC", "south dakota": "SD", "tennessee": "TN",
    "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA",
    "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY",
}
#: Frequent misspellings and short forms of US state names.
US_STATE_VARIANTS: dict[str, str] = {
    "pennsylvannia": "pennsylvania", "pensylvania": "pennsylvania", "penn": "pennsylvania",
    "calif": "california", "ariz": "arizona", "colo": "colorado", "nev": "nevada",
    "conn": "connecticut", "mass": "massachusetts", "n carolina": "north carolina",
    "s carolina": "south carolina", "n dakota": "north dakota", "s dakota": "south dakota",
    "n mex": "new mexico", "wash": "washington", "washington state": "washington",
    "w virginia": "west virginia", "arizonia": "arizona", "new hamshire": "new hampshire",
    "massachusets": "massachusetts", "conneticut": "connecticut", "tennesee": "tennessee",
    "missippi": "mississippi", "virgina": "virginia", "colarado": "colorado",
}
CA_PROVINCES: tuple[str, ...] = (
    "ontario", "quebec", "british columbia", "alberta", "manitoba", "saskatchewan",
    "nova scotia", "new brunswick", "newfoundland", "labrador", "newfoundland and labrador",
    "prince edward island", "yukon", "yukon territory", "northwest territories", "nunavut",
    "baffin island", "ellesmere island",
)
CA_ABBREVIATIONS: tuple[str, ...] = ("ont", "que", "bc", "b c", "alta", "man", "sask", "ns",
                                     "n s", "nb", "nfld", "pei", "nwt", "yt")
AU_STATES: tuple[str, ...] = (
    "new south wales", "nsw", "n s w", "queensland", "qld", "victoria", "vic", "tasmania",
    "tas", "south australia", "western australia", "northern territory", "nt", "w australia",
    "australian capital territory", "act",
)


def _state_aliases() -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for name in US_STATES:
        out[name] = ("USA",)
    for variant in US_STATE_VARIANTS:
        out[variant] = ("USA",)
    # Postal codes only together with a country-free context are risky; keep them for states
    # whose code is no English word.
    for code in ("az", "ca", "nv", "nm", "co", "ut", "nj", "nc", "ny", "pa", "tx", "wa", "va",
                 "nh", "ct", "mt", "wy", "sd", "nd", "ar", "ak", "ga", "fl", "ky", "tn", "ma",
                 "me", "mi", "mn", "wi", "vt", "ri", "md", "sc", "wv", "id", "ks", "ne"):
        out.setdefault(code, ("USA",))
    for name in CA_PROVINCES + CA_ABBREVIATIONS:
        out[name] = ("CAN",)
    for name in AU_STATES:
        out[name] = ("AUS",)
    # "Georgia" alone is the country; with US context the geocoder's candidate step picks USA.
    out["georgia"] = ("GEO", "USA")
    out["washington"] = ("USA",)
    return out


@lru_cache(maxsize=1)
def alias_table() -> dict[str, tuple[str, ...]]:
    """Every name -> ISO3 candidates: Natural Earth names, then aliases, then states."""
    from rruffgeo.geo.countries import load_country_polygons

    table: dict[str, tuple[str, ...]] = {}
    for row in load_country_polygons().itertuples(index=False):
        for name in (row.name, row.name_long, row.admin, row.formal_en, row.name_en,
                     row.name_alt):
            key = norm(str(name or ""))
            if key and len(key) > 2:
                table.setdefault(key, (row.iso3,))
    for key, value in _state_aliases().items():
        table[norm(key)] = value
    for key, value in COUNTRY_ALIASES.items():
        table[norm(key)] = value
    return table


@lru_cache(maxsize=1)
def _country_names() -> frozenset[str]:
    from rruffgeo.geo.countries import load_country_polygons

    names = {norm(str(n or "")) for row in load_country_polygons().itertuples(index=False)
             for n in (row.name, row.name_long, row.admin, row.formal_en, row.name_en)}
    return frozenset(names | {k for k, v in COUNTRY_ALIASES.items() if len(v) > 1 or k in (
        "usa", "us", "u s a", "united states", "uk", "u k", "ussr", "u s s r", "zaire", "burma",
        "czechoslovakia", "yugoslavia", "england", "scotland", "wales", "northern ireland")})


def is_country_name(key: str) -> bool:
    """True for a (normalised) name of a whole country, as opposed to a state or region
    that only implies one ("Arizona", "Sardinia")."""
    return key in _country_names()


def country_candidates(key: str) -> tuple[str, ...]:
    """ISO3 candidates for one normalised name (empty when it names no country)."""
    return alias_table().get(key, ())


#: Region words that may precede a country name ("southern Norway", "far eastern Russia").
_DIRECTION_PREFIXES = ("north", "south", "east", "west", "central", "northern", "southern",
                       "eastern", "western", "northeastern", "northwestern", "southeastern",
                       "southwestern", "far", "upper", "lower", "middle")


def find_country_in_segment(segment: str) -> tuple[tuple[str, ...], str]:
    """Country candidates named by one segment, and the matched key.

    Exact name first; then the longest alias ending the segment on a word boundary ("Minas
    Gerais Brazil", "Lundazi area of eastern Zambia", "New Hampshire USA"), where longer
    aliases shadow shorter ones ("Northern Ireland" is not Ireland, "New Mexico" not Mexico).
    Parenthesised country hints ("Borneo (Malaysia)") win over the text before them.
    """
    table = alias_table()
    raw = segment.strip()
    if "(" in raw and raw.endswith(")"):
        inner = raw[raw.rindex("(") + 1 : -1]
        head = raw[: raw.rindex("(")]
        key_head = norm(head)
        key_inner = norm(inner)
        if key_head == "congo" and key_inner in ("kinshasa", "zaire", "drc", "dr congo"):
            return ("COD",), "congo (kinshasa)"
        if key_head == "congo" and key_inner == "brazzaville":
            return ("COG",), "congo (brazzaville)"
        if key_inner in table:
            return table[key_inner], key_inner
        raw = head
    key = norm(raw)
    if key in table:
        return table[key], key
    words = key.split(" ")
    for start in range(1, len(words)):
        tail = " ".join(words[start:])
        if tail in table and len(tail) > 2:
            # Two-letter codes only as exact segments, never as suffixes ("Kings Co").
            head_words = words[:start]
            if (len(tail) <= 3 and not all(w in _DIRECTION_PREFIXES for w in head_words)
                    and tail not in ("usa", "uk", "rsa", "drc", "prc", "uae", "nsw", "qld")):
                continue
            return table[tail], tail
    return (), ""


__all__ = [
    "COUNTRY_ALIASES",
    "US_STATES",
    "alias_table",
    "country_candidates",
    "find_country_in_segment",
    "is_country_name",
]
