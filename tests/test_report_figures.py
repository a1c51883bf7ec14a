"""Figures 1-5 and 7-9, the prediction map, and the Equal Earth projection."""

from __future__ import annotations

import numpy as np
import pytest

from report_fixtures import write_catalog_and_geocoded, write_metrics
from rruffgeo.report.figures import (
    make_dataset_figures,
    make_evaluation_figures,
    pick_example_pair,
    pick_resampling_example,
)
from rruffgeo.report.maps import equal_earth, plot_prediction_map
from rruffgeo.report.stats import load_samples

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    wd = write_catalog_and_geocoded(tmp_path_factory.mktemp("figs") / "work")
    write_metrics(wd, "cv", "spectrum", 0.9)
    write_metrics(wd, "train", "specimen", 0.5)
    return wd, make_dataset_figures(wd, progress=False), make_evaluation_figures(
        wd, progress=False)


def _check_pair(paths):
    png, svg = paths
    assert png.suffix == ".png" and png.read_bytes()[:8] == PNG_MAGIC
    assert png.stat().st_size > 10_000
    assert svg.suffix == ".svg" and b"<svg" in svg.read_bytes()[:500]


def test_dataset_figures_written_as_png_and_svg(drawn):
    _, ds, _ = drawn
    assert ds.skipped == {}
    assert list(ds.written) == ["fig1_country_map", "fig2_top_countries", "fig3_top_minerals",
                                "fig4_example_spectra", "fig5_resampling", "fig6_architecture"]
    for paths in ds.written.values():
        _check_pair(paths)


def test_evaluation_figures_show_both_protocols(drawn):
    _, _, ev = drawn
    assert set(ev.written) == {"fig7_f1_by_country", "fig8_precision_by_country",
                               "fig9_overall_metrics"}
    for paths in ev.written.values():
        _check_pair(paths)
    svg = ev.written["fig9_overall_metrics"][1].read_text()
    assert "split by spectrum" in svg and "grouped by specimen" in svg
    assert "80/20 hold-out" in svg and "5-fold CV" in svg
    assert "1-NN" in svg


def test_evaluation_figures_skipped_without_metrics(tmp_path):
    wd = write_catalog_and_geocoded(tmp_path / "work")
    res = make_evaluation_figures(wd, progress=False)
    assert res.written == {} and "rruffgeo train" in res.skipped["fig9_overall_metrics"]


def test_bad_metrics_file_is_skipped_not_fatal(tmp_path):
    wd = write_catalog_and_geocoded(tmp_path / "work")
    (wd.dir("metrics") / "cv_spectrum.json").write_text("{not json")
    assert make_evaluation_figures(wd, progress=False).written == {}


def test_examples_picked_as_in_the_paper(tmp_path):
    wd = write_catalog_and_geocoded(tmp_path / "work")
    samples = load_samples(wd)
    row = pick_resampling_example(samples)
    assert row["country_iso3"] == "MEX" and row["kind"] == "processed"
    pair = pick_example_pair(samples)
    assert len(pair) == 2 and pair["specimen_id"].nunique() == 2
    assert pair["mineral"].nunique() == 1


def test_equal_earth_known_extent():
    # Savric et al. (2018): half-width 2.7066 at the equator, half-height 1.3174 at the poles,
    # and the pole line is about 0.59 of the equator's length.
    x, y = equal_earth(np.array([180.0, -180.0, 0.0, 180.0]), np.array([0.0, 0.0, -90.0, 90.0]))
    assert x[0] == pytest.approx(2.7066, abs=1e-3) and x[1] == pytest.approx(-2.7066, abs=1e-3)
    assert y[2] == pytest.approx(-1.3173627, abs=1e-5) and y[3] == pytest.approx(1.3173627,
                                                                                   abs=1e-5)
    assert x[3] / x[0] == pytest.approx(0.5925, abs=2e-3)


def test_prediction_map_writes_png_and_svg(tmp_path):
    paths = plot_prediction_map({"USA": 0.7, "CAN": 0.2, "NAM": 0.1}, "sample.txt",
                                tmp_path / "maps" / "sample")
    assert [p.name for p in paths] == ["sample.png", "sample.svg"]
    _check_pair(paths)
    svg = paths[1].read_text()
    assert "United States" in svg and "70.0%" in svg and "Namibia" in svg


def test_prediction_map_rejects_non_probabilities(tmp_path):
    with pytest.raises(ValueError, match="probabilities"):
        plot_prediction_map({"USA": 3.0}, "x", tmp_path / "x")
