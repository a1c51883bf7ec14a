"""The global grid's window: one spectrum in the wrong units must not stretch it (issue 11.2)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from report_fixtures import write_catalog_and_geocoded
from rruffgeo.config import Settings, SpectraSettings
from rruffgeo.report.figures import grid_window, make_dataset_figures
from rruffgeo.report.stats import load_samples
from rruffgeo.spectra import build_matrix
from rruffgeo.spectra.window import RAMAN_SHIFT_MAX_CM1, global_window
from synthetic_learn import make_workdir


def _far_row(sid: str = "set/far.txt") -> dict:
    x = np.linspace(10_000.0, 99_950.0, 1800)
    return {"spectrum_id": sid, "specimen_id": "RFAR01", "mineral": "Quartz",
            "kind": "processed", "laser_nm": 532.0, "wavenumber_cm1": x.tolist(),
            "intensity": (np.sin(x / 500.0) + 2).tolist()}


def test_one_far_spectrum_leaves_the_grid_of_the_others_unchanged(tmp_path):
    clean = build_matrix(make_workdir(tmp_path / "clean"), SpectraSettings(grid_points=256))
    wd = make_workdir(tmp_path / "far", extra_rows=[_far_row()])
    m = build_matrix(wd, SpectraSettings(grid_points=256))
    np.testing.assert_allclose(m.grid_cm1, clean.grid_cm1)
    assert m.grid_cm1[0] == pytest.approx(100.0) and m.grid_cm1[-1] == pytest.approx(1300.0)
    assert "set/far.txt" not in set(m.index["spectrum_id"])
    reason = m.failures.set_index("spectrum_id").loc["set/far.txt", "reason"]
    assert "10000.0-99950.0 cm-1" in reason and "plausible Raman shift" in reason
    on_disk = pd.read_csv(wd.root / "spectra" / "failures.csv")
    assert "set/far.txt" in set(on_disk["spectrum_id"])
    nonzero = (np.asarray(m.X) > 0).sum(axis=1)
    assert np.median(nonzero) > 0.8 * 256


def test_window_rule_bounds_and_overhang():
    w = global_window([100.0, 150.0, 10_000.0], [1300.0, 4000.0, 99_950.0])
    assert w.bounds == (100.0, 4000.0) and w.outlier_rows() == [2]
    # Overhanging the physical bound: kept, the window is clipped to the bound.
    w = global_window([100.0, 120.0], [1300.0, 5600.0])
    assert w.outlier_rows() == [] and w.bounds == (100.0, RAMAN_SHIFT_MAX_CM1)
    # Anti-Stokes side kept; mostly-outside ranges flagged, wherever they lie.
    w = global_window([-300.0, 3000.0, -9000.0], [1200.0, 9000.0, -100.0])
    assert w.outlier_rows() == [1, 2] and w.bounds == (-300.0, 1200.0)
    # A configured window wins; outliers are flagged all the same.
    w = global_window([100.0, 10_000.0], [1300.0, 99_950.0], configured=(0.0, 2000.0))
    assert w.bounds == (0.0, 2000.0) and w.outlier_rows() == [1]
    with pytest.raises(ValueError, match="plausible Raman-shift"):
        global_window([10_000.0], [99_950.0])


def test_figure5_and_the_matrix_use_the_same_window(tmp_path):
    wd = write_catalog_and_geocoded(tmp_path / "work")
    cat = pd.read_parquet(wd.catalog)
    far = cat.iloc[[0]].copy()
    x = np.linspace(10_000.0, 99_950.0, 500)
    far["spectrum_id"] = "excellent_unoriented/Far__R000001__9.txt"
    far["wavenumber_cm1"] = [x.tolist()]
    far["intensity"] = [(x * 0 + 1 + np.sin(x)).tolist()]
    far["wavenumber_min_cm1"], far["wavenumber_max_cm1"], far["n_points"] = x[0], x[-1], 500
    pd.concat([cat, far], ignore_index=True).to_parquet(wd.catalog, index=False)
    settings = Settings(spectra=SpectraSettings(grid_points=512))
    m = build_matrix(wd, settings)
    window, inside = grid_window(load_samples(wd), settings)
    assert window.bounds == (m.grid_cm1[0], m.grid_cm1[-1])
    assert window.bounds[1] < 5000.0
    assert far["spectrum_id"].iloc[0] not in set(inside["spectrum_id"])
    res = make_dataset_figures(wd, settings, progress=False)
    svg = res.written["fig5_resampling"][1].read_text()
    assert f"{window.bounds[0]:.0f}-{window.bounds[1]:.0f} cm" in svg
