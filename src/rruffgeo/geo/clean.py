"""Locality cleaning and flags (paper section 2): what a locality string says before geocoding.

Cleaning keeps the information a geocoder needs and drops what confuses it: text in parentheses
goes (alternative names, notes, coordinates), except when it names a country or tells the two
Congos apart ("Congo (Kinshasa)", "Borneo (Malaysia)"); spaces are squeezed and delimiters
(";", " - ", "/") become commas, the segment separator every later step splits on.
Synthetic samples and non-localities are flagged so they never receive a guessed place.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

from rruffgeo.geo.aliases import country_candidates
from rruffgeo.geo.text import norm

#: Words in a locality or mineral name that mark a synthetic (laboratory-made) sample.
SYNTHETIC_PATTERNS: tuple[str, ...] = (
    r"\bsynthetic\b",
    r"\bsynthesi[sz]ed\b",
    r"\bsynthesis\b",
    r"\blab(?:oratory)?[- ]?(?:grown|made|synthesi[sz]ed|produced)\b",
    r"\bman[- ]made\b",
    r"\bgrown (?:by|at|in|from)\b",
    r"\bcrystal grown\b",
    r"\bpurchased from\b",
    r"\bczochralski\b",
    r"\bflux method\b",
    r"\bhydrothermal(?:ly)? (?:grown|synthesi[sz]ed)\b",
    r"\bsigma[- ]aldrich\b",
    r"\bfluka\b",
    r"\balfa aesar\b",
    r"\bartificial\b",
)
_SYNTHETIC_RE = re.compile("|".join(SYNTHETIC_PATTERNS), re.IGNORECASE)

#: Words in a locality or specimen description that mark an extraterrestrial sample: a
#: meteorite (any class), a lunar or Martian sample. Such a specimen formed off Earth; the
#: country where it fell or was found says nothing about its spectrum, so it is flagged like a
#: synthetic one and never placed. Place names such as "Moon Canyon" or "Luna County" do not
#: match: "lunar", "moon rock", "Apollo 15", "Luna 24" do.
EXTRATERRESTRIAL_PATTERNS: tuple[str, ...] = (
    r"meteorit",  # meteorite, meteoritic, micrometeorite
    r"chondrit",  # chondrite, chondritic, achondrite, carbonaceous chondrite
    r"\bpallasit",
    r"\bmesosiderit",
    r"\b(?:eucrit|howardit|diogenit|shergottit|nakhlit|chassignit|ureilit|angrit|aubrit"
    r"|brachinit|acapulcoit|lodranit|winonait)e?s?\b",
    r"\blunar\b",
    r"\bmoon ?rocks?\b",
    r"\bfrom the moon\b",
    r"\bapollo \d{2}\b",
    r"\bluna \d{2}\b",
    r"\bmartian\b",
    r"\bextra-?terrestrial\b",
    r"\binterplanetary dust\b",
    r"\bcometary\b",
    r"\bnwa ?\d{3,}\b",  # Northwest Africa NNNN, the meteorite naming of the Meteoritical Society
)
_EXTRATERRESTRIAL_RE = re.compile("|".join(EXTRATERRESTRIAL_PATTERNS), re.IGNORECASE)

#: Whole cleaned localities that name no place (compared after `norm`).
NON_LOCALITIES: frozenset[str] = frozenset(
    {
        "", "unknown", "unknown locality", "locality unknown", "unknown origin",
        "not known",
        "no locality", "none", "n/a", "na", "not given", "not specified", "unspecified", "?",
        "mining concentrate", "concentrate", "biogenic", "various", "commercial",
        "commercial sample",
        "mineral dealer", "from a dealer", "unknown, unknown", "-", "--", "no data",
    }
)

# Parenthesised text kept when it carries country information (checked against aliases later).
_CONGO_HINTS = {"kinshasa", "brazzaville", "zaire", "drc", "dr congo", "belgian congo"}
_PAREN_RE = re.compile(r"\(([^()]*)\)")
_SPACE_RE = re.compile(r"\s+")
_TAG_RE = re.compile(r"</?[a-zA-Z][^<>]{0,40}>")


def _keep_paren(inner: str) -> bool:
    key = norm(inner)
    return key in _CONGO_HINTS or bool(country_candidates(key))


def clean_locality(text: object) -> str:
    """Cleaned locality: parentheses dropped (unless they name a country), spaces squeezed,
    delimiters standardised to ", ".

    >>> clean_locality("Tawmaw (Tawhmaw; Taw Maw), Kachin State,  Myanmar (Burma)")
    'Tawmaw, Kachin State, Myanmar (Burma)'
    """
    if text is None or (isinstance(text, float) and text != text):
        return ""
    # Labels exported from web pages carry HTML: "1<sup>a</sup>", "&#34;Glory Hole&#34;".
    s = html.unescape(_TAG_RE.sub("", str(text)))
    s = unicodedata.normalize("NFC", s).replace("\ufeff", "").replace('"', "")
    s = s.replace("\t", " ").replace("\r", " ").replace("\n", " ")
    # Nested parentheses: resolve inner ones first.
    for _ in range(3):
        s = _PAREN_RE.sub(
            lambda m: f" ({m.group(1).strip()})" if _keep_paren(m.group(1)) else " ", s
        )
        if "(" not in s or not _PAREN_RE.search(s):
            break
    s = s.replace("(", " ").replace(")", " ") if s.count("(") != s.count(")") else s
    s = s.replace("[", " ").replace("]", " ")
    s = re.sub(r"\s*;\s*|\s+-\s+|\s+/\s+|(?<=\w\w)/(?=\w\w)|\s*\|\s*", ", ", s)
    s = _SPACE_RE.sub(" ", s)
    parts = [p.strip(" .:,") for p in s.split(",")]
    return ", ".join(p for p in parts if p)


_NUM = r"(\d{1,3}(?:\.\d+)?)"
_PART = (rf"{_NUM}\s*[°º]?\s*(?:(\d{{1,2}}(?:\.\d+)?)\s*['’′]?\s*)?"
         rf"(?:(\d{{1,2}}(?:\.\d+)?)\s*[\"”″]?\s*)?")
_COORD_RE = re.compile(rf"(?<![\d.]){_PART}([NS])\b[\s,;/]{{0,3}}{_PART}([EW])\b")


def explicit_coordinates(text: object) -> tuple[float, float] | None:
    """(lat, lon) written in the locality ("35°18'N, 113°35'E", "20 18 18 S, 43 28 37 W"),
    or None. Only hemisphere-lettered forms count, so distances ("12.5 km") never match."""
    if not isinstance(text, str):
        return None
    m = _COORD_RE.search(text)
    if not m:
        return None
    g = m.groups()
    if not (("°" in m.group(0) or "º" in m.group(0)) or (g[1] and g[5])):
        return None  # "Level 5 N, 3 E": bare numbers are not coordinates

    def dms(d: str, mi: str | None, se: str | None) -> float | None:
        deg, mins, secs = float(d), float(mi or 0), float(se or 0)
        return None if mins >= 60 or secs >= 60 else deg + mins / 60 + secs / 3600

    lat, lon = dms(g[0], g[1], g[2]), dms(g[4], g[5], g[6])
    if lat is None or lon is None or lat > 90 or lon > 180:
        return None
    return (-lat if g[3] == "S" else lat), (-lon if g[7] == "W" else lon)


def segments(cleaned: str) -> list[str]:
    """Comma-separated parts of a cleaned locality, most specific first."""
    return [p.strip() for p in cleaned.split(",") if p.strip()]


def is_synthetic(locality: object, mineral: object = "") -> bool:
    """True when the locality or the mineral name marks a laboratory-made sample."""
    return any(isinstance(t, str) and bool(_SYNTHETIC_RE.search(t)) for t in (locality, mineral))


def is_extraterrestrial(*texts: object) -> bool:
    """True when any of ``texts`` (locality, description) marks a meteorite or a lunar or
    Martian sample (``EXTRATERRESTRIAL_PATTERNS``)."""
    return any(isinstance(t, str) and bool(_EXTRATERRESTRIAL_RE.search(t)) for t in texts)


def is_missing_locality(cleaned: str) -> bool:
    """True when the (cleaned) locality names no place: empty, "Unknown", "Mining concentrate"..."""
    known = _non_localities()
    if norm(cleaned) in known:
        return True
    parts = [norm(p) for p in segments(cleaned)]
    return bool(parts) and all(p in known for p in parts)


def locality_group(cleaned: object, country_iso3: object) -> str:
    """The place a specimen shares with others, for splits that keep a place on one side.

    The normalised cleaned locality; when it names only a country ("Brazil", "Unknown,
    Brazil"), ``country:ISO3``, so every such specimen of one country is one group: they may
    come from one place, and nothing tells them apart.
    """
    text = cleaned if isinstance(cleaned, str) else ""
    known = _non_localities()
    parts = [p for p in (norm(x) for x in segments(text)) if p and p not in known]
    if all(country_candidates(p) for p in parts):
        return f"country:{country_iso3}"
    return ", ".join(parts)


@lru_cache(maxsize=1)
def _non_localities() -> frozenset[str]:
    return frozenset(norm(x) for x in NON_LOCALITIES)


__all__ = [
    "EXTRATERRESTRIAL_PATTERNS",
    "NON_LOCALITIES",
    "SYNTHETIC_PATTERNS",
    "clean_locality",
    "explicit_coordinates",
    "is_extraterrestrial",
    "is_missing_locality",
    "is_synthetic",
    "locality_group",
    "norm",
    "segments",
]
