"""Dataset statistics and the paper's Tables 1-3, counted per spectrum and per specimen.

The paper counts spectra ("samples"); a country is a property of the specimen, and each RRUFF
specimen contributes several spectra, so every count here is given both ways side by side.
Beside the paper's tables: the data by technique (instrument and scan type: ``Raman``, or the
low-resolution ``Broad_Scan`` of ``LR-Raman``) and by source set (zip), each with raw and
processed spectra and the specimens found nowhere else, which is what each zip adds.
Reference compounds (``XD`` IDs: pharmaceuticals) are counted apart: they are no mineral
species, and neither natural nor in any geographic count.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rruffgeo.config import Settings
from rruffgeo.data.columns import catalog_column, read_catalog_columns, read_columns
from rruffgeo.dataset import learning_table
from rruffgeo.workdir import (
    CATALOG,
    GEOCODED,
    TABLES_DIR,
    TABLES_INDEX,
    WorkDir,
    write_csv_atomic,
    write_text_atomic,
)

log = logging.getLogger(__name__)

#: Catalog columns the report needs (the spectra lists are left on disk).
CATALOG_COLUMNS = [
    "spectrum_id", "specimen_id", "mineral", "kind", "laser_nm",
    "wavenumber_min_cm1", "wavenumber_max_cm1", "n_points",
    "technique", "is_reference_compound",
]
#: Catalog columns read when the file has them (catalogs written by hand may lack them).
OPTIONAL_CATALOG_COLUMNS = ["category"]
GEOCODED_COLUMNS = [
    "specimen_id", "synthetic", "lat", "lon", "country_iso3", "country_name", "excluded_reason",
]
#: Flags read when the geocoded file has them (older versions wrote none).
OPTIONAL_GEOCODED_COLUMNS = ["extraterrestrial"]
TOP_N = 20
#: How the tables name each technique of the file names (others appear as written).
TECHNIQUE_LABELS = {
    "Raman": "Raman (high-resolution instruments)",
    "Broad_Scan": "Broad_Scan (low-resolution LR-Raman instrument)",
    "": "unknown (file name not in RRUFF naming)",
}
REFERENCE_COMPOUNDS = "reference compounds (pharmaceuticals, XD IDs; not minerals)"

TABLE_FILES = {
    "totals": "totals",
    "table1": "table1_countries",
    "table2": "table2_minerals",
    "table2_specimens": "table2_minerals_by_specimens",
    "table3": "table3_learning_countries",
    "exclusions": "exclusions",
    "techniques": "techniques",
    "sources": "sources",
}


@dataclass
class DatasetStats:
    """Totals and Tables 1-3; ``table3`` is None when the learning table cannot be built."""

    totals: pd.DataFrame
    table1: pd.DataFrame
    table2: pd.DataFrame
    table3: pd.DataFrame | None
    exclusions: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    #: Table 2 ranked by specimens: oriented series put a mineral first by spectra alone.
    table2_specimens: pd.DataFrame | None = None
    #: Spectra and specimens per technique (instrument and scan type) and per source set.
    techniques: pd.DataFrame | None = None
    sources: pd.DataFrame | None = None

    def tables(self) -> dict[str, pd.DataFrame]:
        out = {"totals": self.totals}
        for key, table in (("techniques", self.techniques), ("sources", self.sources)):
            if table is not None:
                out[key] = table
        out.update({"table1": self.table1, "table2": self.table2})
        if self.table2_specimens is not None:
            out["table2_specimens"] = self.table2_specimens
        if self.table3 is not None:
            out["table3"] = self.table3
        if self.exclusions is not None and len(self.exclusions):
            out["exclusions"] = self.exclusions
        return out


def load_samples(workdir: WorkDir) -> pd.DataFrame:
    """One row per spectrum: catalog metadata joined with its specimen's geocoding.

    Specimens missing from geocoded.parquet count as natural without coordinates. Natural
    means neither synthetic nor extraterrestrial (meteorites, lunar and Martian samples; the
    flag is absent, hence False, in geocoded files of older versions) nor a reference compound.
    """
    cat_path = workdir.require(CATALOG, "ingest")
    geo_path = workdir.require(GEOCODED, "geocode")
    cat = read_catalog_columns(cat_path, CATALOG_COLUMNS, OPTIONAL_CATALOG_COLUMNS)
    cat["is_reference_compound"] = cat["is_reference_compound"].astype(bool)
    geo = read_columns(geo_path, GEOCODED_COLUMNS, {}, OPTIONAL_GEOCODED_COLUMNS)
    if geo["specimen_id"].duplicated().any():
        raise ValueError(f"{geo_path}: specimen_id must be unique (one row per specimen)")
    df = cat.merge(geo, on="specimen_id", how="left", validate="many_to_one")
    for flag in ("synthetic", "extraterrestrial"):
        if flag not in df.columns:
            df[flag] = False
        df[flag] = df[flag].astype("boolean").fillna(False).astype(bool)
    for col in ("country_iso3", "country_name", "excluded_reason", "mineral", "technique",
                *OPTIONAL_CATALOG_COLUMNS):
        df[col] = df[col].fillna("").astype(str) if col in df.columns else ""
    df["has_coords"] = np.isfinite(df["lat"].astype(float)) & np.isfinite(df["lon"].astype(float))
    df["natural"] = ~df["synthetic"] & ~df["extraterrestrial"] & ~df["is_reference_compound"]
    df["has_country"] = df["country_iso3"].str.len() > 0
    return df


def _pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def totals_table(df: pd.DataFrame) -> pd.DataFrame:
    """Headline counts (paper section 3), per spectrum and per specimen."""
    n_spec, n_specimen = len(df), df["specimen_id"].nunique()

    def row(label: str, mask: pd.Series | None = None, unique: str | None = None) -> dict:
        sub = df if mask is None else df[mask]
        if unique is not None:
            vals = sub[unique][sub[unique].str.len() > 0]
            n = vals.nunique()
            return {"quantity": label, "spectra": n, "spectra_pct": np.nan,
                    "specimens": n, "specimens_pct": np.nan}
        a, b = len(sub), sub["specimen_id"].nunique()
        return {"quantity": label, "spectra": a, "spectra_pct": _pct(a, n_spec),
                "specimens": b, "specimens_pct": _pct(b, n_specimen)}

    reference = _reference_compounds(df)
    rows = [
        row("samples"),
        row("natural", df["natural"]),
        row("synthetic", df["synthetic"]),
        row(REFERENCE_COMPOUNDS, reference),
        row("extraterrestrial (meteorites, lunar, Martian)", df["extraterrestrial"]),
        row("with coordinates", df["has_coords"]),
        row("without coordinates", ~df["has_coords"]),
        row("natural with a country", df["natural"] & df["has_country"]),
        row("unique mineral species", ~reference, unique="mineral"),
        row("countries (natural samples)", df["natural"], unique="country_iso3"),
        row("raw spectra", df["kind"] == "raw"),
        row("processed spectra", df["kind"] == "processed"),
        *(row(f"technique: {_technique_label(t)}", df["technique"] == t)
          for t in (_techniques(df) if "technique" in df.columns else [])),
    ]
    out = pd.DataFrame(rows)
    spp = n_spec / n_specimen if n_specimen else np.nan
    out = pd.concat([out, pd.DataFrame([{
        "quantity": "spectra per specimen (mean)", "spectra": round(spp, 2),
        "spectra_pct": np.nan, "specimens": np.nan, "specimens_pct": np.nan}])],
        ignore_index=True)
    return out


def _ranked(
    df: pd.DataFrame, key: str, label: str, extra_first: Iterable[str] = (),
    by: str = "spectra",
) -> pd.DataFrame:
    agg = {"spectra": ("spectrum_id", "size"), "specimens": ("specimen_id", "nunique")}
    for col in extra_first:
        agg[col] = (col, "first")
    g = df.groupby(key, sort=False).agg(**agg).reset_index()
    then = "specimens" if by == "spectra" else "spectra"
    g = g.sort_values([by, then, key], ascending=[False, False, True],
                      kind="stable").reset_index(drop=True)
    g.insert(0, "rank", np.arange(1, len(g) + 1))
    g["spectra_per_specimen"] = (g["spectra"] / g["specimens"]).round(2)
    return g.rename(columns={key: label})


def country_table(df: pd.DataFrame, top: int | None = TOP_N) -> pd.DataFrame:
    """Table 1: natural samples per country, ranked by spectra, with cumulative percentages.

    Percentages are of all natural samples that have a country (the map's population).
    """
    sub = df[df["natural"] & df["has_country"]]
    g = _ranked(sub, "country_iso3", "iso3", extra_first=["country_name"])
    g["cumulative_pct_spectra"] = (100.0 * g["spectra"].cumsum() / max(len(sub), 1)).round(2)
    n_spm = max(sub["specimen_id"].nunique(), 1)
    g["cumulative_pct_specimens"] = (100.0 * g["specimens"].cumsum() / n_spm).round(2)
    g = g.rename(columns={"country_name": "country"})
    cols = ["rank", "country", "iso3", "spectra", "cumulative_pct_spectra", "specimens",
            "cumulative_pct_specimens", "spectra_per_specimen"]
    g = g[cols]
    return g.head(top) if top else g


def mineral_table(df: pd.DataFrame, top: int | None = TOP_N,
                  by: str = "spectra") -> pd.DataFrame:
    """Table 2: mineral species ranked by number of spectra (the paper), or with
    ``by="specimens"`` by number of specimens (all samples).

    By spectra, oriented series (a dozen spectra of one crystal) push a mineral up: on the
    shared data Actinolite ranks first with 140 spectra of 7 specimens. Reference compounds
    are no mineral species and are left out.
    """
    if by not in ("spectra", "specimens"):
        raise ValueError(f"rank by 'spectra' or 'specimens', not {by!r}")
    sub = df[(df["mineral"].str.len() > 0) & ~_reference_compounds(df)]
    g = _ranked(sub, "mineral", "mineral", by=by)
    g["pct_spectra"] = (100.0 * g["spectra"] / max(len(sub), 1)).round(2)
    g["pct_specimens"] = (100.0 * g["specimens"] / max(sub["specimen_id"].nunique(), 1)).round(2)
    cols = (["rank", "mineral", "spectra", "pct_spectra", "specimens", "spectra_per_specimen"]
            if by == "spectra" else
            ["rank", "mineral", "specimens", "pct_specimens", "spectra", "spectra_per_specimen"])
    g = g[cols]
    return g.head(top) if top else g


def learning_country_table(learning: pd.DataFrame) -> pd.DataFrame:
    """Table 3: samples per country after the learning stage's filtering (all countries)."""
    g = _ranked(learning, "country_iso3", "iso3", extra_first=["country_name"])
    n, n_spm = max(len(learning), 1), max(learning["specimen_id"].nunique(), 1)
    g["pct_spectra"] = (100.0 * g["spectra"] / n).round(2)
    g["pct_specimens"] = (100.0 * g["specimens"] / n_spm).round(2)
    g = g.rename(columns={"country_name": "country"})
    return g[["rank", "country", "iso3", "spectra", "pct_spectra", "specimens", "pct_specimens",
              "spectra_per_specimen"]]


def _reference_compounds(df: pd.DataFrame) -> pd.Series:
    """Which rows are reference compounds (by the ID, for a frame without the column)."""
    return catalog_column(df, "is_reference_compound").astype(bool)


def _techniques(df: pd.DataFrame) -> list[str]:
    """The techniques present, known ones first in ``TECHNIQUE_LABELS`` order."""
    present = set(df["technique"])
    known = [t for t in TECHNIQUE_LABELS if t in present]
    return known + sorted(present - set(known))


def _technique_label(technique: str) -> str:
    return TECHNIQUE_LABELS.get(technique, technique)


def _breakdown(df: pd.DataFrame, key: pd.Series) -> pd.DataFrame:
    """Per value of ``key``: spectra (raw, processed, reference compounds), specimens, and
    specimens with no spectrum under any other value (what that value alone brings)."""
    df = df.assign(_key=key.to_numpy())
    n_keys = df.groupby("specimen_id")["_key"].nunique()
    df["_only_here"] = df["specimen_id"].map(n_keys).eq(1)
    df["_raw"] = df["kind"].eq("raw")
    df["_processed"] = df["kind"].eq("processed")
    g = df.groupby("_key", sort=False).agg(
        spectra=("spectrum_id", "size"), raw_spectra=("_raw", "sum"),
        processed_spectra=("_processed", "sum"), specimens=("specimen_id", "nunique"))
    g["specimens_only_here"] = (df[df["_only_here"]].groupby("_key")["specimen_id"].nunique()
                                .reindex(g.index, fill_value=0))
    g["reference_compound_spectra"] = df.groupby("_key")["is_reference_compound"].sum()
    return g.astype(int)


def technique_table(df: pd.DataFrame) -> pd.DataFrame:
    """Spectra and specimens per technique (instrument and scan type, from the file names):
    raw and processed, and the specimens measured with that technique only."""
    g = _breakdown(df, df["technique"]).reindex(_techniques(df))
    g.index = [_technique_label(t) for t in g.index]
    return g.rename_axis("technique").reset_index()


def source_table(df: pd.DataFrame) -> pd.DataFrame:
    """Spectra and specimens per source set (zip or category folder): its techniques, raw and
    processed, and ``specimens_only_here``, the specimens no other source has (what the zip
    adds to the rest)."""
    sets = df["category"].replace("", "(none)")
    g = _breakdown(df, sets)
    techniques = df.groupby(sets.to_numpy())["technique"].agg(
        lambda t: ", ".join(x or "unknown" for x in _techniques(pd.DataFrame({"technique": t}))))
    g.insert(0, "techniques", techniques.reindex(g.index))
    g = g.sort_values(["spectra"], ascending=False, kind="stable")
    return g.rename_axis("source").reset_index()


def exclusions_table(df: pd.DataFrame) -> pd.DataFrame:
    """Spectra and specimens the geocoding stage excluded, per reason (empty when none)."""
    sub = df[df["excluded_reason"].str.len() > 0]
    g = (sub.groupby("excluded_reason")
         .agg(spectra=("spectrum_id", "size"), specimens=("specimen_id", "nunique"))
         .reset_index().rename(columns={"excluded_reason": "reason"}))
    return g.sort_values(["spectra", "reason"], ascending=[False, True]).reset_index(drop=True)


def load_learning_table(workdir: WorkDir, settings: Settings) -> tuple[pd.DataFrame | None, str]:
    """The learning stage's filtered table, or None and the reason it cannot be built."""
    try:
        return learning_table(workdir, settings), ""
    except (FileNotFoundError, ValueError, KeyError) as exc:
        return None, f"Table 3 skipped: the learning table could not be built ({exc})."


def compute_stats(workdir: WorkDir, settings: Settings | None = None) -> DatasetStats:
    """Totals and Tables 1-3 from the work folder (nothing written)."""
    settings = settings or Settings()
    df = load_samples(workdir)
    notes = []
    learning, why = load_learning_table(workdir, settings)
    table3 = None
    if learning is not None:
        table3 = learning_country_table(learning)
        notes.append(
            f"Table 3: {len(learning):,} spectra of {learning['specimen_id'].nunique():,} "
            f"specimens in {learning['country_iso3'].nunique()} countries with at least "
            f"{settings.train.min_samples_per_country} spectra each (natural, geolocated)."
        )
    else:
        notes.append(why)
    return DatasetStats(totals_table(df), country_table(df), mineral_table(df), table3,
                        exclusions_table(df), notes,
                        table2_specimens=mineral_table(df, by="specimens"),
                        techniques=technique_table(df), sources=source_table(df))


def format_cell(value: object, column: str = "", digits: int = 2) -> str:
    """Cell text: thousands separators, ``digits`` decimals (always for percentages), '' for
    missing."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        if float(value).is_integer() and abs(value) >= 1 and "pct" not in column:
            return f"{int(value):,}"
        return f"{value:.{digits}f}"
    return str(value).replace("|", "\\|")


def to_markdown(df: pd.DataFrame, digits: int = 2) -> str:
    """GitHub-flavoured Markdown table (numbers right-aligned, thousands separated, ``digits``
    decimals)."""
    cols = list(df.columns)
    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in cols]
    lines = ["| " + " | ".join(cols) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    for rec in df.itertuples(index=False):
        lines.append("| " + " | ".join(format_cell(v, c, digits)
                                 for v, c in zip(rec, cols, strict=True))
                     + " |")
    return "\n".join(lines) + "\n"


TITLES = {
    "totals": "Dataset totals (per spectrum and per specimen)",
    "table1": "Table 1: top-20 countries by natural samples, cumulative percentage",
    "table2": "Table 2: top-20 mineral species",
    "table2_specimens": "Table 2b: top-20 mineral species by specimens (oriented series and "
                        "repeated measurements give one crystal many spectra)",
    "table3": "Table 3: samples per country after the learning stage's filtering",
    "exclusions": "Samples left out of the geographic analyses, by reason (geocoding stage)",
    "techniques": "Spectra and specimens per technique (instrument and scan type), raw and "
                  "processed; specimens_only_here: measured with no other technique",
    "sources": "Spectra and specimens per source set (zip); specimens_only_here: in no other "
               "source, what the zip adds",
}


def write_stats(workdir: WorkDir, settings: Settings | None = None) -> DatasetStats:
    """Compute the statistics and write each table as CSV and Markdown under ``tables/``."""
    stats = compute_stats(workdir, settings)
    out_dir = workdir.dir(TABLES_DIR)
    md_all = []
    for key, df in stats.tables().items():
        base = out_dir / TABLE_FILES[key]
        write_csv_atomic(base.with_suffix(".csv"), df)
        md = f"## {TITLES[key]}\n\n{to_markdown(df)}"
        write_text_atomic(base.with_suffix(".md"), md)
        stats.files += [base.with_suffix(".csv"), base.with_suffix(".md")]
        md_all.append(md)
    md_all.extend(f"_{n}_\n" for n in stats.notes)
    write_text_atomic(out_dir / TABLES_INDEX, "\n".join(md_all))
    stats.files.append(out_dir / TABLES_INDEX)
    return stats
