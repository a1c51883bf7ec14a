"""Dataset totals and Tables 1-3, per spectrum and per specimen (paper sections 3 and 5.1)."""

from __future__ import annotations

import pandas as pd
import pytest

import rruffgeo.report.stats
from report_fixtures import write_catalog_and_geocoded
from rruffgeo.config import Settings
from rruffgeo.report.stats import compute_stats, to_markdown, write_stats


@pytest.fixture()
def wd(tmp_path):
    return write_catalog_and_geocoded(tmp_path / "work")


def broken_learning_table(workdir, settings):
    raise ValueError("geocoded.parquet lacks country_iso3")


def test_totals_count_spectra_and_specimens(wd):
    totals = compute_stats(wd).totals.set_index("quantity")
    assert totals.loc["samples", "spectra"] == 15
    assert totals.loc["samples", "specimens"] == 9
    assert totals.loc["synthetic", "spectra"] == 2
    assert totals.loc["synthetic", "specimens"] == 1
    assert totals.loc["natural", "spectra_pct"] == pytest.approx(86.67)
    assert totals.loc["with coordinates", "spectra"] == 12
    assert totals.loc["without coordinates", "specimens"] == 2
    assert totals.loc["unique mineral species", "spectra"] == 5
    assert totals.loc["countries (natural samples)", "spectra"] == 4
    assert totals.loc["spectra per specimen (mean)", "spectra"] == pytest.approx(15 / 9, abs=0.01)


def test_table1_ranks_countries_with_cumulative_percentages(wd):
    t1 = compute_stats(wd).table1
    assert t1["iso3"].tolist() == ["USA", "CAN", "MEX", "ITA"]
    assert t1["spectra"].tolist() == [6, 3, 2, 1]
    assert t1["specimens"].tolist() == [3, 2, 1, 1]
    assert t1["cumulative_pct_spectra"].tolist() == pytest.approx([50.0, 75.0, 91.67, 100.0])
    assert t1["cumulative_pct_specimens"].iloc[-1] == pytest.approx(100.0)
    assert t1["spectra_per_specimen"].iloc[0] == 2.0


def test_table2_ranks_minerals_ties_by_specimens_then_name(wd):
    t2 = compute_stats(wd).table2
    assert t2["mineral"].tolist() == ["Quartz", "Beryl", "Calcite", "Zircon", "Diopside"]
    assert t2.loc[0, "spectra"] == 5 and t2.loc[0, "specimens"] == 2


def test_table3_skipped_with_reason_when_the_learning_table_cannot_be_built(wd, monkeypatch):
    monkeypatch.setattr(rruffgeo.report.stats, "learning_table", broken_learning_table)
    stats = compute_stats(wd)
    assert stats.table3 is None
    assert any("Table 3 skipped" in n for n in stats.notes)


def test_table3_from_learning_table(wd):
    stats = compute_stats(wd, Settings())
    t3 = stats.table3
    assert t3["iso3"].tolist() == ["USA", "CAN", "MEX"]  # Italy has 1 spectrum < 2
    assert t3["pct_spectra"].sum() == pytest.approx(100.0, abs=0.05)
    assert "11 spectra" in stats.notes[0]


def test_write_stats_writes_csv_and_markdown(wd):
    stats = write_stats(wd)
    tables = wd.root / "tables"
    for stem in ("totals", "table1_countries", "table2_minerals", "table3_learning_countries"):
        assert (tables / f"{stem}.csv").exists() and (tables / f"{stem}.md").exists()
    back = pd.read_csv(tables / "table1_countries.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(back, stats.table1, check_dtype=False)
    md = (tables / "table1_countries.md").read_text()
    assert "| 1 | United States of America | USA | 6 |" in md
    assert "tables.md" in {p.name for p in stats.files}


def test_missing_inputs_name_the_stage_to_run(tmp_path):
    from rruffgeo.workdir import WorkDir

    with pytest.raises(FileNotFoundError, match="rruffgeo ingest"):
        compute_stats(WorkDir(tmp_path))


def test_markdown_escapes_pipes_and_formats_numbers():
    md = to_markdown(pd.DataFrame({"name": ["a|b"], "n": [12345]}))
    assert "a\\|b" in md and "12,345" in md and "---:" in md


def test_cli_stats_prints_and_writes_tables(wd, monkeypatch, capsys):
    from rruffgeo.cli import main

    monkeypatch.setattr(rruffgeo.report.stats, "learning_table", broken_learning_table)
    assert main(["stats", "--workdir", str(wd.root)]) == 0
    out = capsys.readouterr().out
    assert "Table 1: top-20 countries" in out and "| 1 | Quartz | 5 |" in out
    assert "Table 3 skipped" in out
    assert (wd.root / "tables" / "table2_minerals.md").exists()


def test_cli_stats_without_catalog_is_a_clear_error(tmp_path, capsys):
    from rruffgeo.cli import main

    assert main(["stats", "--workdir", str(tmp_path)]) == 1
    assert "run `rruffgeo ingest" in capsys.readouterr().err


def test_exclusions_counted_per_reason(wd):
    ex = compute_stats(wd).exclusions
    assert ex.to_dict("records") == [{"reason": "synthetic", "spectra": 2, "specimens": 1}]
