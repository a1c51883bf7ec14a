"""The grown data on small files the tests write: technique and reference compounds as catalog
columns, what old catalogs get, the dataset tables, and geography without reference compounds."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd
import pyarrow.parquet as pq
import pytest

from helpers import run_cli
from rruffgeo.config import IngestSettings, Settings
from rruffgeo.data import ingest, load_catalog, summary
from rruffgeo.data.columns import DERIVED, catalog_column, read_catalog_columns
from rruffgeo.data.naming import header_form_of, is_reference_compound_id, technique_of
from rruffgeo.dataset import learning_table, read_geo_columns
from rruffgeo.geo import geocode_catalog
from rruffgeo.geo.pipeline import REFERENCE_COMPOUND_REASON
from rruffgeo.report.stats import REFERENCE_COMPOUNDS, compute_stats
from rruffgeo.workdir import WorkDir
from test_data_catalog import NEW_NAME, rruff_text, write_zip


@dataclass(frozen=True)
class Spec:
    """One file the tests write, with what the catalog must say about it."""

    zip_stem: str
    name: str
    header_id: str | None  # None: no ##RRUFFID header (the name is the fallback)
    locality: str
    technique: str
    reference_compound: bool
    specimen_id: str


LR = "LR-Raman"
EXC = "excellent_unoriented"
SPECS = [
    # A reference compound whose locality does not say "synthetic": the ID decides.
    Spec(LR, "Lactose__D120008__Broad_Scan__532__0__unoriented__Raman_Data_Processed__5b.txt",
         "XD120008", "from Sigma", "Broad_Scan", True, "XD120008"),
    Spec(LR, "Lactose__D120008__Broad_Scan__532__0__unoriented__Raman_Data_Raw__54.txt",
         "XD120008", "from Sigma", "Broad_Scan", True, "XD120008"),
    # A pill bought somewhere: a place, but no mineral's provenance.
    Spec(LR, "Aspirin__D120019__Broad_Scan__780__0__unoriented__Raman_Data_Processed__77.txt",
         "XD120019", "Hanoi, Vietnam", "Broad_Scan", True, "XD120019"),
    # No header ID: the file name's D ID is the fallback, in the header's form.
    Spec(LR, "Caffeine__D120006__Broad_Scan__532__0__unoriented__Raman_Data_Processed__c6.txt",
         None, "Synthetic", "Broad_Scan", True, "XD120006"),
    # The header is the authority over a D-looking file name.
    Spec(LR, "Quartz__D120099__Broad_Scan__532__0__unoriented__Raman_Data_Processed__q1.txt",
         "R050012", "Tsumeb, Namibia", "Broad_Scan", False, "R050012"),
    # X0 IDs are minerals.
    Spec(LR, "Halite__X050012__Broad_Scan__532__0__unoriented__Raman_Data_Processed__h1.txt",
         "X050012", "Synthetic", "Broad_Scan", False, "X050012"),
    Spec(LR, "Abelsonite__R070007__Broad_Scan__780__0__unoriented__Raman_Data_Raw__a9.txt",
         "R070007", "Green River, Utah, USA", "Broad_Scan", False, "R070007"),
    Spec(EXC, "Abelsonite__R070007__Raman__532__0__unoriented__Raman_Data_Processed__27040.txt",
         "R070007", "Green River, Utah, USA", "Raman", False, "R070007"),
    Spec(EXC, "Azurite__R050497__Raman__532__0__unoriented__Raman_Data_Processed__27041.txt",
         "R050497", "Tsumeb mine, Tsumeb, Namibia", "Raman", False, "R050497"),
    Spec(EXC, "Calcite__R040070__Raman__532__0__unoriented__Raman_Data_Processed__27042.txt",
         "R040070", "Tsumeb mine, Tsumeb, Namibia", "Raman", False, "R040070"),
]


def text_of(spec: Spec) -> bytes:
    """The file: ``rruff_text`` with the spec's header ID (or none) and locality."""
    mineral = spec.name.split("__")[0]
    data = rruff_text(mineral, spec.header_id or "", spec.locality).decode()
    if spec.header_id is None:
        data = "".join(line for line in data.splitlines(keepends=True)
                       if not line.startswith("##RRUFFID="))
    return data.encode()


@pytest.fixture()
def mirror(tmp_path):
    """A folder holding two official zips (a subset of them), as ``--data`` takes it."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    for stem in (LR, EXC):
        write_zip(folder / f"{stem}.zip",
                  {s.name: text_of(s) for s in SPECS if s.zip_stem == stem})
    return folder


def settings(tmp_path) -> IngestSettings:
    return IngestSettings(cache_dir=tmp_path / "cache", workers=1)


def ingested(mirror, tmp_path) -> WorkDir:
    wd = WorkDir(tmp_path / "w")
    ingest(mirror, wd, settings(tmp_path), progress=False)
    return wd


def by_member(wd: WorkDir) -> pd.DataFrame:
    return load_catalog(wd).set_index("member")


def test_reference_compound_ids_and_techniques():
    assert is_reference_compound_id("XD120008") and is_reference_compound_id("D120008")
    assert not is_reference_compound_id("X050012")
    assert not is_reference_compound_id("R120008") and not is_reference_compound_id("")
    assert header_form_of("D120008") == "XD120008" and header_form_of("R040063-4") == "R040063-4"
    assert technique_of("broad_scan") == "Broad_Scan" and technique_of(" Raman ") == "Raman"
    assert technique_of("Infrared") == "Infrared"  # a new technique shows up as written


def test_ingest_sets_technique_and_reference_compound_per_file(mirror, tmp_path):
    cat = by_member(ingested(mirror, tmp_path))
    for spec in SPECS:
        row = cat.loc[spec.name]
        assert (row["technique"], row["is_reference_compound"], row["specimen_id"],
                row["category"]) == (spec.technique, spec.reference_compound,
                                     spec.specimen_id, spec.zip_stem), spec.name
        # Names drop the X of reference compounds' IDs: a convention, not a disagreement.
        differs = "differs from ##RRUFFID" in row["defects"]
        assert differs == (spec.header_id is not None
                           and spec.header_id != header_form_of(row["file_name_id"])), spec.name


def test_cli_data_takes_a_folder_with_a_subset_of_the_official_zips(mirror, tmp_path):
    out = run_cli("ingest", "--data", str(mirror), "--workdir", str(tmp_path / "w"),
                  "--no-progress")
    assert f"spectra:  {len(SPECS)}" in out.stdout
    counts = summary(tmp_path / "w")
    assert counts["categories"] == {stem: sum(s.zip_stem == stem for s in SPECS)
                                    for stem in sorted({s.zip_stem for s in SPECS})}
    assert counts["techniques"] == {t: sum(s.technique == t for s in SPECS)
                                    for t in sorted({s.technique for s in SPECS})}
    reference = [s for s in SPECS if s.reference_compound]
    assert counts["reference_compounds"] == {
        "spectra": len(reference), "specimens": len({s.specimen_id for s in reference})}


def _rewrite_catalog(wd: WorkDir, drop: list[str]) -> None:
    """Rewrite the catalog as an older version wrote it: without the columns ``drop``."""
    table = pq.read_table(wd.catalog)
    meta = dict(pq.read_metadata(wd.catalog).metadata)
    table = table.drop_columns(drop).replace_schema_metadata(None)
    with pq.ParquetWriter(str(wd.catalog), table.schema) as writer:
        writer.write_table(table)
        writer.add_key_value_metadata(meta)


def test_catalog_of_an_older_version_gets_the_new_columns(mirror, tmp_path):
    wd = ingested(mirror, tmp_path)
    written = load_catalog(wd)
    _rewrite_catalog(wd, list(DERIVED))
    # Stages reading the old catalog derive the columns by the rules ingest uses.
    old = read_catalog_columns(wd.catalog, ["spectrum_id", *DERIVED])
    pd.testing.assert_frame_equal(old, written[["spectrum_id", *DERIVED]])
    # Ingest parses every unit again and writes them.
    again = ingest(mirror, wd, settings(tmp_path), progress=False)
    assert again.n_units_parsed == 2 and again.n_units_cached == 0
    pd.testing.assert_frame_equal(load_catalog(wd), written)


def test_a_frame_without_the_flag_gets_it_by_the_catalog_rule():
    frame = pd.DataFrame({"specimen_id": ["XD120019", "R050497", "X050012"]})
    assert catalog_column(frame, "is_reference_compound").tolist() == [True, False, False]
    frame["is_reference_compound"] = [False, True, False]  # stored: read as it is
    assert catalog_column(frame, "is_reference_compound").tolist() == [False, True, False]


def test_optional_columns_are_read_when_stored_or_derivable_and_else_left_out(tmp_path):
    path = tmp_path / "catalog.parquet"
    pd.DataFrame({"spectrum_id": ["set/" + NEW_NAME], "specimen_id": ["R040063"],
                  "category": ["set"]}).to_parquet(path, index=False)
    got = read_catalog_columns(path, ["spectrum_id"], ["polarization", "technique", "category"])
    assert got.columns.tolist() == ["spectrum_id", "technique", "category"]
    assert got["technique"].tolist() == ["Raman"]  # derived from the file name
    with pytest.raises(KeyError):
        read_catalog_columns(path, ["spectrum_id", "polarization"])


def test_geocoded_table_of_an_older_version_groups_by_the_raw_locality(tmp_path):
    wd = WorkDir(tmp_path / "w")
    geo = pd.DataFrame({"specimen_id": ["R1", "R2", "R2"], "synthetic": False,
                        "excluded_reason": "", "country_iso3": "NAM", "country_name": "Namibia",
                        "locality": ["Tsumeb, Namibia", "Tsumeb mine, Namibia", "x"]})
    geo.to_parquet(wd.geocoded, index=False)
    old = read_geo_columns(wd)
    assert old["locality_clean"].tolist() == ["Tsumeb, Namibia", "Tsumeb mine, Namibia"]
    assert old["locality_group"].nunique() == 2
    geo.assign(locality_clean="Tsumeb").to_parquet(wd.geocoded, index=False)
    new = read_geo_columns(wd)
    assert new["locality_clean"].tolist() == ["Tsumeb", "Tsumeb"]
    assert new["locality_group"].nunique() == 1


def test_catalog_of_an_older_rule_version_is_parsed_again(mirror, tmp_path, monkeypatch):
    """Same columns, rules of another catalog version: every unit is parsed again."""
    import rruffgeo.data.catalog as catalog

    current = catalog.CATALOG_VERSION
    monkeypatch.setattr(catalog, "CATALOG_VERSION", current + "-older")
    wd = ingested(mirror, tmp_path)
    monkeypatch.setattr(catalog, "CATALOG_VERSION", current)
    again = ingest(mirror, wd, settings(tmp_path), progress=False)
    assert again.n_units_parsed == 2
    unchanged = ingest(mirror, wd, settings(tmp_path), progress=False)
    assert unchanged.n_units_parsed == 0


def test_reference_compounds_get_no_place_and_teach_no_geography(mirror, tmp_path):
    wd = ingested(mirror, tmp_path)
    geo = geocode_catalog(wd, progress=False).set_index("specimen_id")
    reference = {s.specimen_id for s in SPECS if s.reference_compound}
    for sid in reference:
        assert geo.loc[sid, "excluded_reason"] == REFERENCE_COMPOUND_REASON
        assert geo.loc[sid, "country_iso3"] == "" and pd.isna(geo.loc[sid, "lat"])
    assert geo.loc["R050497", "country_iso3"] == "NAM"
    # A geocoded file of an older version placed the pill in Vietnam: still left out.
    geo.loc["XD120019", ["excluded_reason", "country_iso3", "country_name"]] = [
        "", "VNM", "Vietnam"]
    geo.reset_index().to_parquet(wd.geocoded, index=False)
    s = Settings()
    table = learning_table(wd, replace(s, train=replace(s.train, min_samples_per_country=1)))
    assert not set(table["specimen_id"]) & reference
    assert {"R050497", "R070007"} <= set(table["specimen_id"])


def test_dataset_tables_count_techniques_sources_and_reference_compounds(mirror, tmp_path):
    wd = ingested(mirror, tmp_path)
    geocode_catalog(wd, progress=False)
    stats = compute_stats(wd)
    reference = [s for s in SPECS if s.reference_compound]
    totals = stats.totals.set_index("quantity")
    assert totals.loc[REFERENCE_COMPOUNDS, "spectra"] == len(reference)
    assert totals.loc[REFERENCE_COMPOUNDS, "specimens"] == len({s.specimen_id for s in reference})
    # Natural: neither a reference compound (whatever its locality) nor synthetic.
    natural = {s.specimen_id for s in SPECS
               if not s.reference_compound and "Synthetic" not in s.locality}
    assert totals.loc["natural", "specimens"] == len(natural)
    assert "Aspirin" not in set(stats.table2["mineral"])
    sources = stats.sources.set_index("source")
    for stem in (LR, EXC):
        mine = [s for s in SPECS if s.zip_stem == stem]
        others = {s.specimen_id for s in SPECS if s.zip_stem != stem}
        assert sources.loc[stem, "spectra"] == len(mine)
        assert sources.loc[stem, "raw_spectra"] == sum("_Raw__" in s.name for s in mine)
        assert sources.loc[stem, "specimens_only_here"] == len(
            {s.specimen_id for s in mine} - others)
    techniques = stats.techniques.set_index("technique")
    broad = techniques.loc[techniques.index.str.startswith("Broad_Scan")].iloc[0]
    assert broad["spectra"] == sum(s.technique == "Broad_Scan" for s in SPECS)
    assert broad["reference_compound_spectra"] == len(reference)
    assert totals.filter(like="technique: ", axis=0)["spectra"].sum() == len(SPECS)
