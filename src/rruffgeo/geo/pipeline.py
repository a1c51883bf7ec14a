"""Geocode the catalog (one row per specimen) or a plain list of localities.

Every distinct cleaned locality is geocoded once. The country is the one the text names when it
names one; otherwise the spatial join of the point with Natural Earth admin-0 polygons (nearest
polygon for points just offshore). Where the point falls in another country than the text names,
the text wins and ``country_note`` says so. Synthetic samples, extraterrestrial ones (meteorites,
lunar and Martian samples: ``clean.is_extraterrestrial``) and non-localities get nothing; nor
do reference compounds (``XD`` RRUFF IDs: pharmaceuticals, not minerals), which are excluded
with their reason whatever their locality says.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pandas as pd
from geopy.location import Location
from tqdm.auto import tqdm

from rruffgeo.config import GeoSettings
from rruffgeo.data.columns import catalog_column, read_catalog_columns
from rruffgeo.geo.clean import (
    clean_locality,
    explicit_coordinates,
    is_extraterrestrial,
    is_missing_locality,
    is_synthetic,
    segments,
)
from rruffgeo.geo.countries import CountryIndex, country_index
from rruffgeo.geo.offline import OfflineGeocoder
from rruffgeo.geo.online import GeocodersUnavailable
from rruffgeo.workdir import (
    CATALOG,
    GEOCODED_CSV,
    GEOCODED_GEOJSON,
    WorkDir,
    spreadsheet_safe,
    write_csv_atomic,
    write_parquet_atomic,
    write_text_atomic,
)

log = logging.getLogger(__name__)

#: ``excluded_reason`` of reference compounds: where they were bought or made is no mineral's
#: provenance, so they never enter the geographic analyses.
REFERENCE_COMPOUND_REASON = "reference compound (XD RRUFF ID), not a mineral"

GEOCODED_COLUMNS = [
    "specimen_id", "mineral", "locality", "locality_clean", "synthetic", "extraterrestrial",
    "locality_missing", "excluded_reason", "lat", "lon", "precision", "geocoder", "country_name",
    "country_iso3", "country_iso2", "country_note",
]
LOCALITY_COLUMNS = ["locality", "country_iso3", "country_name", "lat", "lon", "precision",
                    "synthetic", "extraterrestrial", "source"]


class Geocoder(Protocol):
    """What every geocoder offers, offline or online, cached or not (geopy's shape)."""

    def geocode(self, query: str) -> Location | None: ...


@dataclass(frozen=True)
class Placed:
    """Where one cleaned locality lands."""

    lat: float = math.nan
    lon: float = math.nan
    precision: str = ""
    geocoder: str = ""
    country_iso3: str = ""
    country_name: str = ""
    country_iso2: str = ""
    country_note: str = ""


def make_geocoder(settings: GeoSettings, offline: OfflineGeocoder | None = None) -> Geocoder:
    """The offline geocoder, or with ``settings.online`` the cached online chain."""
    if not settings.online:
        return offline or OfflineGeocoder()
    from rruffgeo.geo.online import make_online_chain

    return make_online_chain(settings)


class Placer:
    """Cleaned locality -> `Placed`: geocoder, then the country decision."""

    def __init__(self, settings: GeoSettings | None = None,
                 geocoder: Geocoder | None = None) -> None:
        settings = settings or GeoSettings()
        self.settings = settings
        # The offline reader also tells which country the text names, whatever geocodes.
        self.offline = geocoder if isinstance(geocoder, OfflineGeocoder) else OfflineGeocoder()
        self.geocoder = geocoder or make_geocoder(settings, self.offline)
        self.countries: CountryIndex = country_index()

    def place(self, cleaned: str, coords: tuple[float, float] | None = None) -> Placed:
        """Place one cleaned locality; ``coords`` written in the original text win."""
        if coords is not None:
            return self._decide(cleaned, Location(cleaned, coords, {
                "precision": "place", "geocoder": "coordinates in text"}))
        try:
            loc = self.geocoder.geocode(cleaned)
        except GeocodersUnavailable:  # the whole online chain is down: stop, keep the cache
            raise
        except Exception as exc:  # one bad answer never stops a run
            log.warning("geocoding %r failed: %s", cleaned, exc)
            loc = None
        return self._decide(cleaned, loc)

    def _decide(self, cleaned: str, loc: Location | None) -> Placed:
        text = self.offline.text_country(segments(cleaned))
        text_iso3 = text.iso3
        if loc is None:
            if not text_iso3:
                return Placed()
            # An online miss still has the country the text names.
            lat_lon = self.countries.representative_point(text_iso3)
            if lat_lon is None:
                return Placed()
            name, iso2 = self.countries.info(text_iso3)
            return Placed(lat_lon[0], lat_lon[1], "country", "text", text_iso3, name, iso2,
                          text.note)
        raw = loc.raw if isinstance(loc.raw, dict) else {}
        precision = raw.get("precision", "place")
        source = raw.get("geocoder", type(self.geocoder).__name__)
        pt_iso3, offshore = self.countries.lookup(loc.latitude, loc.longitude,
                                                  self.settings.offshore_max_deg)
        note = ""
        if text_iso3:
            iso3 = text_iso3
            if pt_iso3 and pt_iso3 != text_iso3:
                note = f"text names {text_iso3}, point falls in {pt_iso3}"
            elif not pt_iso3:
                note = f"text names {text_iso3}, point falls in no country"
        else:
            iso3 = pt_iso3 or raw.get("country_iso3", "")
            if offshore:
                note = "point offshore: nearest country taken"
        name, iso2 = self.countries.info(iso3) if iso3 else ("", "")
        note = "; ".join(n for n in (text.note, raw.get("note", ""), note) if n)
        return Placed(float(loc.latitude), float(loc.longitude), precision, source, iso3, name,
                      iso2, note)


def geocode_localities(localities: list[str], settings: GeoSettings | None = None,
                       progress: bool = False, geocoder: Geocoder | None = None) -> pd.DataFrame:
    """Geocode a plain list of localities, in input order.

    Returns columns locality, country_iso3, country_name, lat, lon, precision, synthetic,
    source (empty / NaN where there is no answer). A line that cannot be read never stops it.
    """
    placer = Placer(settings, geocoder)
    settings = placer.settings
    cache: dict[tuple[str, tuple[float, float] | None], Placed] = {}
    rows = []
    for text in tqdm(localities, desc="geocode", unit="locality", disable=not progress):
        text = "" if text is None else str(text)
        cleaned = clean_locality(text)
        synthetic = is_synthetic(text)
        offworld = is_extraterrestrial(text)
        placed = Placed()
        if not (synthetic or offworld or is_missing_locality(cleaned)):
            key = (cleaned, explicit_coordinates(text))
            if key not in cache:
                cache[key] = placer.place(*key)
            placed = cache[key]
        rows.append({"locality": text, "country_iso3": placed.country_iso3,
                     "country_name": placed.country_name, "lat": placed.lat,
                     "lon": placed.lon, "precision": placed.precision,
                     "synthetic": synthetic, "extraterrestrial": offworld,
                     "source": placed.geocoder})
    return pd.DataFrame(rows, columns=LOCALITY_COLUMNS)


def _first_text(values: pd.Series) -> str:
    for v in values:
        if isinstance(v, str) and v.strip():
            return v.strip()
    return ""


def _joined_texts(values: pd.Series) -> str:
    return " | ".join(dict.fromkeys(v.strip() for v in values if isinstance(v, str) and v.strip()))


def header_value(headers_json: object, key: str) -> str:
    """One ``##KEY`` value from a catalog row's ``headers_json`` ('' when absent or unreadable)."""
    if not isinstance(headers_json, str):
        return ""
    try:
        value = json.loads(headers_json).get(key, "")
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


def specimens_of(catalog: pd.DataFrame) -> pd.DataFrame:
    """One row per specimen: first non-empty mineral and locality, largest n_points, every
    distinct ``##DESCRIPTION`` of its spectra (when the catalog has ``headers_json``) and
    whether it is a reference compound (from the ID when the catalog has no such column)."""
    catalog = catalog.copy()
    if "headers_json" in catalog.columns:
        catalog["description"] = [header_value(h, "DESCRIPTION") for h in catalog["headers_json"]]
    else:
        catalog["description"] = ""
    catalog["is_reference_compound"] = catalog_column(catalog, "is_reference_compound")
    grouped = catalog.groupby("specimen_id", sort=True)
    return pd.DataFrame({
        "mineral": grouped["mineral"].agg(_first_text),
        "locality": grouped["locality"].agg(_first_text),
        "n_points": grouped["n_points"].max(),
        "description": grouped["description"].agg(_joined_texts),
        "is_reference_compound": grouped["is_reference_compound"].any(),
    }).reset_index()


def geocode_specimens(specimens: pd.DataFrame, settings: GeoSettings | None = None,
                      progress: bool = True, geocoder: Geocoder | None = None) -> pd.DataFrame:
    """Flags and places for a frame with specimen_id, mineral, locality, n_points (and, when
    present, description: a meteorite named only there is flagged too; and
    is_reference_compound, else the ID's rule decides)."""
    placer = Placer(settings, geocoder)
    rows = []
    cleaned_all = [clean_locality(v) for v in specimens["locality"]]
    todo = []
    flags = []
    reference = catalog_column(specimens, "is_reference_compound").astype(bool)
    for rec, cleaned, is_reference in zip(specimens.itertuples(index=False), cleaned_all,
                                          reference, strict=True):
        mineral = rec.mineral if isinstance(rec.mineral, str) else ""
        synthetic = is_synthetic(rec.locality, mineral)
        offworld = is_extraterrestrial(rec.locality, getattr(rec, "description", ""))
        missing = is_missing_locality(cleaned)
        reason = ""
        if is_reference:
            reason = REFERENCE_COMPOUND_REASON
        elif not mineral.strip():
            reason = "no mineral name"
        elif not (rec.n_points and rec.n_points > 0):
            reason = "no spectrum (n_points == 0)"
        key = (cleaned, explicit_coordinates(rec.locality))
        flags.append((synthetic, offworld, missing, reason, key))
        if not (synthetic or offworld or missing or reason):
            todo.append(key)
    placed: dict[tuple[str, tuple[float, float] | None], Placed] = {}
    for key in tqdm(list(dict.fromkeys(todo)), desc="geocode", unit="locality",
                    disable=not progress):
        placed[key] = placer.place(*key)
    for rec, cleaned, (synthetic, offworld, missing, reason, key) in zip(
        specimens.itertuples(index=False), cleaned_all, flags, strict=True
    ):
        skip = synthetic or offworld or missing or reason
        p = Placed() if skip else placed.get(key, Placed())
        rows.append({
            "specimen_id": rec.specimen_id, "mineral": rec.mineral or "",
            "locality": rec.locality or "", "locality_clean": cleaned,
            "synthetic": synthetic, "extraterrestrial": offworld, "locality_missing": missing,
            "excluded_reason": reason,
            "lat": p.lat, "lon": p.lon, "precision": p.precision, "geocoder": p.geocoder,
            "country_name": p.country_name, "country_iso3": p.country_iso3,
            "country_iso2": p.country_iso2, "country_note": p.country_note,
        })
    return pd.DataFrame(rows, columns=GEOCODED_COLUMNS)


def to_geojson(df: pd.DataFrame) -> dict:
    """FeatureCollection, one feature per row; rows without a point get a null geometry."""
    features = []
    for rec in df.to_dict("records"):
        lat, lon = rec.get("lat"), rec.get("lon")
        geom = None
        if lat is not None and lon is not None and not (math.isnan(lat) or math.isnan(lon)):
            geom = {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]}
        props = {k: (None if isinstance(v, float) and math.isnan(v) else v)
                 for k, v in rec.items() if k not in ("lat", "lon")}
        props = {k: (bool(v) if hasattr(v, "dtype") and v.dtype == bool else v)
                 for k, v in props.items()}
        features.append({"type": "Feature", "geometry": geom, "properties": props})
    return {"type": "FeatureCollection", "features": features}


def export(df: pd.DataFrame, workdir: WorkDir) -> tuple[Path, Path]:
    """Write geocoded.csv and geocoded.geojson beside geocoded.parquet."""
    csv_path = workdir.path(GEOCODED_CSV)
    geojson_path = workdir.path(GEOCODED_GEOJSON)
    write_csv_atomic(csv_path, spreadsheet_safe(df))
    write_text_atomic(geojson_path, json.dumps(to_geojson(df), ensure_ascii=False, default=_json))
    return csv_path, geojson_path


def _json(value: object) -> object:
    if hasattr(value, "item"):
        return value.item()  # numpy scalars
    return str(value)


def geocode_catalog(workdir: WorkDir | str | Path, settings: GeoSettings | None = None,
                    progress: bool = True, geocoder: Geocoder | None = None) -> pd.DataFrame:
    """Read catalog.parquet, write geocoded.parquet + geocoded.csv + geocoded.geojson.

    One row per specimen_id (columns in `rruffgeo.workdir`). Returns the frame written.
    """
    wd = workdir if isinstance(workdir, WorkDir) else WorkDir(workdir)
    path = wd.require(CATALOG, "ingest")
    columns = ["specimen_id", "mineral", "locality", "n_points", "is_reference_compound"]
    # descriptions name meteorites too (a catalog of an older version has none)
    catalog = read_catalog_columns(path, columns, ["headers_json"])
    df = geocode_specimens(specimens_of(catalog), settings or GeoSettings(), progress, geocoder)
    write_parquet_atomic(wd.geocoded, df)
    export(df, wd)
    return df


__all__ = [
    "GEOCODED_COLUMNS",
    "LOCALITY_COLUMNS",
    "REFERENCE_COMPOUND_REASON",
    "Geocoder",
    "Placed",
    "Placer",
    "export",
    "geocode_catalog",
    "geocode_localities",
    "geocode_specimens",
    "header_value",
    "make_geocoder",
    "specimens_of",
    "to_geojson",
]
