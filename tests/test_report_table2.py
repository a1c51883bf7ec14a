"""Table 2 ranked by specimens beside the paper's ranking by spectra (issue 13.5)."""

from __future__ import annotations

import pandas as pd

from report_fixtures import write_catalog_and_geocoded
from rruffgeo.config import Settings
from rruffgeo.report.html import render_report
from rruffgeo.report.stats import TABLE_FILES, compute_stats, mineral_table, write_stats


def _samples() -> pd.DataFrame:
    rows = [("Actinolite", "R1", 12)]  # one crystal measured in a dozen orientations
    rows += [("Quartz", f"RQ{i}", 2) for i in range(3)] + [("Beryl", f"RB{i}", 1) for i in range(4)]
    return pd.DataFrame([{"spectrum_id": f"{sid}_{k}", "specimen_id": sid, "mineral": m}
                         for m, sid, n in rows for k in range(n)])


def test_minerals_ranked_by_specimens_and_by_spectra():
    df = _samples()
    by_spectra = mineral_table(df)
    by_specimens = mineral_table(df, by="specimens")
    assert by_spectra["mineral"].tolist() == ["Actinolite", "Quartz", "Beryl"]
    assert by_specimens["mineral"].tolist() == ["Beryl", "Quartz", "Actinolite"]
    assert by_specimens.columns.tolist() == ["rank", "mineral", "specimens", "pct_specimens",
                                             "spectra", "spectra_per_specimen"]
    assert by_specimens.set_index("mineral").loc["Beryl", "pct_specimens"] == 50.0
    assert by_specimens.set_index("mineral").loc["Actinolite", "spectra_per_specimen"] == 12.0


def test_table2b_written_and_in_the_report(tmp_path):
    wd = write_catalog_and_geocoded(tmp_path / "work")
    stats = write_stats(wd)
    assert (wd.root / "tables" / f"{TABLE_FILES['table2_specimens']}.csv").exists()
    assert "table2_specimens" in compute_stats(wd).tables()
    html = render_report(wd, stats, Settings())
    assert "Table 2b: top-20 mineral species by specimens" in html
