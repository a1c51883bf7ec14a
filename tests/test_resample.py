import numpy as np
import pytest

from rruffgeo.spectra.resample import make_grid, resample_spectrum


def test_zero_outside_measured_range_and_minmax_inside():
    grid = make_grid(0, 1000, 101)
    x = np.linspace(200, 600, 300)
    y = 5 + np.sin(x / 50)
    out = resample_spectrum(x, y, grid)
    assert np.all(out[grid < 200] == 0) and np.all(out[grid > 600] == 0)
    inside = out[(grid >= 200) & (grid <= 600)]
    assert inside.min() == pytest.approx(0) and inside.max() == pytest.approx(1)


def test_unsorted_and_duplicate_wavenumbers_are_handled():
    grid = make_grid(0, 100, 51)
    x = np.array([50.0, 10, 20, 20, 30, 40, 60, 70])
    y = np.array([5.0, 1, 2, 4, 3, 4, 6, 7])
    out = resample_spectrum(x, y, grid)
    assert np.isfinite(out).all()


def test_no_overlap_is_refused():
    with pytest.raises(ValueError, match="does not overlap"):
        resample_spectrum(np.arange(5000, 5010.0), np.arange(10.0), make_grid(0, 100, 11))
