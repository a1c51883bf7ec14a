"""The learning table: which spectra the country classifier learns from (paper 5.1).

A pandas join of the catalog and the geocoded specimens, torch-free, so the report's Table 3
and the learning stage count the same spectra without the report loading the network code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rruffgeo.config import Settings, Split
from rruffgeo.data.columns import Rules, read_catalog_columns, read_columns
from rruffgeo.workdir import CATALOG, GEOCODED, WorkDir

if TYPE_CHECKING:
    from rruffgeo.spectra.matrix import SpectraMatrix

GEO_COLUMNS = ["specimen_id", "synthetic", "excluded_reason", "country_iso3", "country_name",
               "locality_clean"]


def _raw_locality(geo: pd.DataFrame) -> pd.Series:
    """An older geocoded table has no cleaned locality: the locality as written stands in."""
    return geo["locality"] if "locality" in geo.columns else pd.Series("", index=geo.index)


#: Geocoded columns an older table lacks, made from the ones it has.
GEO_FALLBACKS: Rules = {"locality_clean": (("locality",), _raw_locality)}
#: Group columns made here from the geocoded ones (``geo.clean.locality_group``).
DERIVED_COLUMNS = ("locality_group",)
#: Catalog columns kept, with every column a split protocol groups by (``Split.group_column``).
CATALOG_COLUMNS = list(dict.fromkeys(
    ["spectrum_id", "specimen_id", "mineral", "kind", "laser_nm"]
    + [s.group_column for s in Split if s.group_column
       and s.group_column not in GEO_COLUMNS + list(DERIVED_COLUMNS)]))
#: Catalog flags read only to filter: spectra of reference compounds (``XD`` IDs) are not
#: minerals and never teach geography.
CATALOG_FILTER_COLUMNS = ["is_reference_compound"]


def learning_table(workdir: WorkDir, settings: Settings | None = None) -> pd.DataFrame:
    """Catalog joined with geocoded on specimen_id: natural, geolocated spectra of kept countries.

    A spectrum is kept when it is not a reference compound (``XD`` ID, decided at ingest, so
    whatever the geocoded file's version says), its specimen is not synthetic, has no
    ``excluded_reason`` and has a country; then countries with fewer than
    ``settings.train.min_samples_per_country`` spectra are dropped (paper 5.1 keeps countries
    with at least 2 samples).

    Returns
    -------
    DataFrame with spectrum_id, specimen_id, mineral, kind, laser_nm, country_iso3,
    country_name, locality_group (``Split.LOCALITY``'s groups), sorted by spectrum_id so
    downstream order does not depend on file order.
    """
    settings = settings or Settings()
    catalog = read_catalog_columns(workdir.require(CATALOG, "ingest"),
                                   CATALOG_COLUMNS + CATALOG_FILTER_COLUMNS)
    catalog = catalog[~catalog["is_reference_compound"].astype(bool)].drop(
        columns=CATALOG_FILTER_COLUMNS)
    geo = read_geo_columns(workdir)
    df = catalog.merge(geo, on="specimen_id", how="inner", validate="many_to_one")
    natural = ~df["synthetic"].fillna(True).astype(bool)
    kept = df["excluded_reason"].fillna("").astype(str).eq("")
    located = df["country_iso3"].fillna("").astype(str).str.len().gt(0)
    df = df[natural & kept & located].drop(columns=["synthetic", "excluded_reason",
                                                    "locality_clean"])
    df = keep_frequent_countries(df, settings.train.min_samples_per_country)
    return df.sort_values("spectrum_id", kind="stable").reset_index(drop=True)


def read_geo_columns(workdir: WorkDir) -> pd.DataFrame:
    """One row per specimen of geocoded.parquet with ``GEO_COLUMNS`` and ``locality_group``
    (from the raw locality where a geocoded table has no cleaned one)."""
    from rruffgeo.geo.clean import locality_group

    geo = read_columns(workdir.require(GEOCODED, "geocode"), GEO_COLUMNS, GEO_FALLBACKS)
    geo = geo.drop_duplicates("specimen_id")
    geo["locality_group"] = [locality_group(t, c) for t, c in
                             zip(geo["locality_clean"], geo["country_iso3"], strict=True)]
    return geo


def keep_frequent_countries(df: pd.DataFrame, min_samples: int) -> pd.DataFrame:
    """Rows whose country has at least ``min_samples`` rows."""
    counts = df["country_iso3"].map(df["country_iso3"].value_counts())
    return df[counts >= min_samples].reset_index(drop=True)


def resampled_learning_table(workdir: WorkDir, settings: Settings
                             ) -> tuple[SpectraMatrix, pd.DataFrame]:
    """The spectra matrix (built or cached) and the learning table restricted to its rows and
    to countries with enough spectra: what every learner (network, baselines, provenance)
    trains and scores on. ValueError when nothing is left to learn from."""
    from rruffgeo.spectra.matrix import build_matrix

    matrix = build_matrix(workdir, settings)
    table = learning_table(workdir, settings)
    table = table[table["spectrum_id"].isin(matrix.index["spectrum_id"])]
    table = keep_frequent_countries(table, settings.train.min_samples_per_country)
    if table.empty:
        raise ValueError(f"{workdir.root}: no natural, geolocated spectra to learn from")
    return matrix, table


def reference_compound_spectra(workdir: WorkDir, settings: Settings
                               ) -> tuple[np.ndarray, np.ndarray]:
    """The matrix rows (float32) and specimen IDs of the reference compounds (``XD`` IDs):
    spectra that are in no mineral library, so a novelty score should flag them."""
    from rruffgeo.spectra.matrix import build_matrix

    catalog = read_catalog_columns(workdir.require(CATALOG, "ingest"),
                                   ["spectrum_id", "specimen_id"] + CATALOG_FILTER_COLUMNS)
    matrix = build_matrix(workdir, settings)
    ours = catalog[catalog["is_reference_compound"].astype(bool)
                   & catalog["spectrum_id"].isin(matrix.index["spectrum_id"])]
    ours = ours.sort_values("spectrum_id", kind="stable")
    X = np.asarray(matrix.X[matrix.rows_of(ours["spectrum_id"].tolist())], dtype=np.float32)
    return X, ours["specimen_id"].to_numpy()
