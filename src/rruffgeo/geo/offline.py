"""The offline geocoder: locality text -> point, by the gazetteer and the alias tables.

It works like a careful human reader of a mineral label. First the country the text names,
read from the end (labels go from mine to country), taking the last segment that names one so
that country-like place names earlier on ("Equador, Rio Grande do Norte, Brazil") do not fool
it; ambiguous names (Congo, USSR, Georgia) are settled by the segments before them. Then the
most specific segment that the gazetteer knows inside that country (and inside the state the
text names, if any), dropping leading segments one by one: place, then district, then state,
then the country's own position (paper A.1 partial matching). The precision reached is recorded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from geopy.location import Location

from rruffgeo.geo.aliases import find_country_in_segment, is_country_name
from rruffgeo.geo.clean import clean_locality, segments
from rruffgeo.geo.countries import CountryIndex, country_index
from rruffgeo.geo.gazetteer import Gazetteer, GazetteerHit, load_gazetteer

_PAREN = re.compile(r"\([^()]*\)")
# Segments that describe where in a mine, not where on Earth; never looked up.
_SKIP = re.compile(
    r"^\s*(?:\d+(?:st|nd|rd|th)? level|level \d+|\d+ ?(?:m|ft|km|mi)\b|[a-z] stope|stope)|"
    r"\b(?:asl|a s l|elevation)\b", re.IGNORECASE)


_STATE_WORDS = re.compile(
    r"\b(?:oblast|province|provincia|state|estado|region|krai|kray|territory|prefecture|"
    r"perfecture|republic|canton|voivodeship|governorate|departamento?)\b", re.IGNORECASE)
_DISTRICT_WORDS = re.compile(r"\b(?:county|co|district|municipality|municipio|parish|raion|"
                             r"rayon|borough|kreis|bezirk)\b\.?", re.IGNORECASE)


def _levels_for(text: str, last_before_country: bool) -> tuple[str, ...]:
    """Which gazetteer level to try first for one segment: what the segment says it is
    ("Murmanskaya Oblast" is a state, "Rusk County" a district), else a place, except that
    the segment right before the country is most often its state ("Oaxaca, Mexico")."""
    if _STATE_WORDS.search(text):
        return ("state", "district", "place")
    if _DISTRICT_WORDS.search(text):
        return ("district", "state", "place")
    if last_before_country:
        return ("state", "place", "district")
    return ("place", "district", "state")


@dataclass(frozen=True)
class TextCountry:
    """The country a locality names: ISO3 (empty when none), the segment index and the key."""

    iso3: str
    index: int
    key: str
    candidates: tuple[str, ...]
    #: Set when the name was ambiguous and nothing else in the text settled it.
    note: str = ""


def _segment_text(seg: str) -> str:
    return _PAREN.sub(" ", seg).strip()


class OfflineGeocoder:
    """``geocode(query) -> Location | None`` over the GeoNames gazetteer and alias tables.

    ``Location.raw`` holds precision, country_iso3 (as the text names it, else as the gazetteer
    places it), matched (the gazetteer name) and geocoder ("offline").
    """

    name = "offline"

    def __init__(self, gazetteer: Gazetteer | None = None,
                 countries: CountryIndex | None = None) -> None:
        self.gaz = gazetteer or load_gazetteer()
        self.last_note = ""
        self.countries = countries or country_index()
        self._iso3_to_iso2 = {v: k for k, v in self.countries.iso2_to_iso3.items()}
        self._iso3_to_iso2.setdefault("KOS", "XK")

    # -- country named by the text -------------------------------------------------------
    def text_country(self, segs: list[str]) -> TextCountry:
        """The country the text names (see module docstring)."""
        for i in range(len(segs) - 1, -1, -1):
            cands, key = find_country_in_segment(segs[i])
            if cands:
                if len(cands) == 1:
                    return TextCountry(cands[0], i, key, cands)
                iso3, settled = self._choose(cands, segs[:i])
                note = "" if settled else (
                    f"{segs[i]!r} may be {' or '.join(cands)}; {iso3} assumed")
                return TextCountry(iso3, i, key, cands, note)
        return TextCountry("", -1, "", ())

    def _choose(self, cands: tuple[str, ...], before: list[str]) -> tuple[str, bool]:
        """Pick among ambiguous candidates with the earlier segments; default the first.

        Returns (iso3, settled): settled is False when no segment favoured one candidate."""
        score = dict.fromkeys(cands, 0)
        for seg in before:
            sub, _ = find_country_in_segment(seg)
            for c in sub:
                if c in score and len(sub) == 1:
                    score[c] += 10
            ccs = {self.countries.iso2_to_iso3.get(h.cc, "") for h in
                   self.gaz.lookup(_segment_text(seg))}
            for c in ccs:
                if c in score:
                    score[c] += 1
        best = max(score.values())
        winners = [c for c in cands if score[c] == best]
        return winners[0], best > 0 and len(winners) == 1

    # -- point inside the country -----------------------------------------------------------
    def _hits_in(self, seg: str, cc: str, admin1: set[str], admin2: set[str],
                 levels: tuple[str, ...]) -> list[GazetteerHit]:
        hits = [h for h in self.gaz.lookup(seg, levels) if not cc or h.cc == cc]
        if admin1:
            hits = [h for h in hits if h.admin1 in admin1]
        if admin2 and len(hits) > 1 and hits[0].precision == "place":
            # Among same-named places, prefer the one in the district the text names.
            inside = [h for h in hits if h.precision == "place" and h.admin2 in admin2]
            hits = inside + [h for h in hits if h not in inside]
        return hits

    def locate(self, segs: list[str], iso3: str, upto: int,
               country_segment_is_country: bool = True) -> GazetteerHit | None:
        """Most specific gazetteer hit among ``segs[:upto]`` (plus the country segment as a
        state when it names a state, not a country), inside ``iso3`` when given."""
        cc = self._iso3_to_iso2.get(iso3, "") if iso3 else ""
        texts = [_segment_text(s) for s in segs]
        texts = [t if not _SKIP.search(t) else "" for t in texts]
        # The state named nearest the country narrows the place search; earlier segments that
        # happen to share a state's name ("Texas, Lancaster County, Pennsylvania") do not.
        admin1: set[str] = set()
        admin2: set[str] = set()
        state_hit: GazetteerHit | None = None
        state_idx = -1
        scope = range(len(texts)) if upto < 0 else range(min(upto + 1, len(texts)))
        for j in reversed(scope):
            if not texts[j] or (j == upto and country_segment_is_country):
                continue
            st = [h for h in self.gaz.lookup(texts[j], ("state",)) if not cc or h.cc == cc]
            if len({h.cc for h in st}) == 1:
                admin1.update(h.admin1 for h in st)
                state_hit, state_idx = st[0], j
                break
        for j in scope:
            if not texts[j]:
                continue
            ds = [h for h in self.gaz.lookup(texts[j], ("district",)) if not cc or h.cc == cc]
            if admin1:
                ds = [h for h in ds if h.admin1 in admin1]
            if ds:
                admin2.update(h.admin2 for h in ds)
        end = upto if upto >= 0 else len(texts)
        for j in range(end):
            t = texts[j]
            if not t:
                continue
            levels = _levels_for(t, last_before_country=j == end - 1)
            hits = self._hits_in(t, cc, admin1, admin2, levels)
            if state_idx >= 0 and j != state_idx:
                hits = [h for h in hits if h.precision != "state"]
            if not hits and admin1:
                # The place may sit in a neighbouring state the label does not name.
                continue
            if hits:
                if not cc and len({h.cc for h in hits}) > 1:
                    hits, settled = self._majority(hits, texts[j + 1:])
                    if not settled:
                        self.last_note = (f"{t!r} names places in {len({h.cc for h in hits})} "
                                          f"countries; the first in the gazetteer taken")
                return hits[0]
        return state_hit

    def _majority(self, hits: list[GazetteerHit], rest: list[str],
                  ) -> tuple[list[GazetteerHit], bool]:
        """Without a country, prefer hits whose country the later segments also match.

        Returns the hits best first and whether one country had the most support."""
        support: dict[str, int] = {}
        for t in rest:
            for h in self.gaz.lookup(t) if t else ():
                support[h.cc] = support.get(h.cc, 0) + 1
        ranked = sorted(hits, key=lambda h: -support.get(h.cc, 0))
        top = support.get(ranked[0].cc, 0)
        rivals = {h.cc for h in ranked if support.get(h.cc, 0) == top}
        return ranked, top > 0 and len(rivals) == 1

    # -- the protocol ------------------------------------------------------------------------
    def geocode(self, query: str) -> Location | None:
        """Point for one locality, or None when neither the text nor the gazetteer places it."""
        cleaned = clean_locality(query)
        segs = segments(cleaned)
        if not segs:
            return None
        tc = self.text_country(segs)
        self.last_note = ""
        hit = self.locate(segs, tc.iso3, tc.index if tc.iso3 else -1,
                          country_segment_is_country=is_country_name(tc.key))
        if hit is not None:
            iso3 = tc.iso3 or self.countries.iso2_to_iso3.get(hit.cc, "")
            raw = {"precision": hit.precision, "matched": hit.name, "country_iso3": iso3,
                   "text_country_iso3": tc.iso3, "geocoder": self.name}
            if self.last_note:
                raw["note"] = self.last_note
            return Location(cleaned, (hit.lat, hit.lon), raw)
        if tc.iso3:
            pt = self.countries.representative_point(tc.iso3)
            if pt is not None:
                raw = {"precision": "country", "matched": tc.key, "country_iso3": tc.iso3,
                       "text_country_iso3": tc.iso3, "geocoder": self.name}
                return Location(cleaned, pt, raw)
        return None


__all__ = ["OfflineGeocoder", "TextCountry"]
