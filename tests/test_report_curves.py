"""Figure 10: learning curves per split protocol, from metrics/curves_*.csv."""

from __future__ import annotations

from report_fixtures import write_catalog_and_geocoded, write_curves, write_metrics
from rruffgeo.report.curves import STEM
from rruffgeo.report.figures import FIGURES, figures_of, make_evaluation_figures


def test_learning_curves_drawn_per_split_beside_the_majority_rate(tmp_path):
    wd = write_catalog_and_geocoded(tmp_path / "work")
    write_metrics(wd, "cv", "spectrum", 0.9)
    write_metrics(wd, "train", "specimen", 0.5)
    write_curves(wd, "cv", "spectrum", folds=5, with_val=False)
    write_curves(wd, "train", "specimen", folds=1, with_val=True)
    res = make_evaluation_figures(wd, progress=False)
    assert STEM in res.written and STEM in FIGURES
    assert STEM in [f.stem for f in figures_of("evaluation")]
    svg = res.written[STEM][1].read_text()
    assert "split by spectrum" in svg and "grouped by specimen" in svg
    assert "majority-class rate 0.55" in svg  # 6 of 11 spectra in the fixture's table
    assert "inner validation loss" in svg and "test macro-F1" in svg


def test_learning_curves_skipped_with_a_reason_when_no_curves(tmp_path):
    wd = write_catalog_and_geocoded(tmp_path / "work")
    write_metrics(wd, "cv", "spectrum", 0.9)
    res = make_evaluation_figures(wd, progress=False)
    assert "fig9_overall_metrics" in res.written
    assert "no learning curves" in res.skipped[STEM]

