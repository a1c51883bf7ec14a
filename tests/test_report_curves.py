"""Figure 10: learning curves per split protocol, from metrics/curves_*.csv."""

from __future__ import annotations

from report_fixtures import write_catalog_and_geocoded, write_metrics
from rruffgeo.network.curves import curves_table
from rruffgeo.report.curves import STEM
from rruffgeo.report.figures import FIGURES, figures_of, make_evaluation_figures


def _history(epochs: int, with_val: bool) -> list[dict]:
    rows = []
    for e in range(1, epochs + 1):
        row = {"epoch": e, "step": 10 * e, "train_loss": 3 / e, "test_loss": 3.2 / e ** 0.5,
               "test_accuracy": 0.3 + 0.05 * e, "test_f1_macro": 0.01 * e, "epoch_s": 1.0}
        if with_val:
            row.update(val_loss=3.1 / e ** 0.5, val_accuracy=0.3 + 0.04 * e, val_f1_macro=0.02)
        rows.append(row)
    return rows


def test_learning_curves_drawn_per_split_beside_the_majority_rate(tmp_path):
    wd = write_catalog_and_geocoded(tmp_path / "work")
    write_metrics(wd, "cv", "spectrum", 0.9)
    write_metrics(wd, "train", "specimen", 0.5)
    mdir = wd.root / "metrics"
    curves_table([(k, _history(4, False)) for k in range(5)]).to_csv(
        mdir / "curves_cv_spectrum.csv", index=False)
    curves_table([(0, _history(4, True))]).to_csv(mdir / "curves_train_specimen.csv",
                                                  index=False)
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

