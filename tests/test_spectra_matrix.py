import numpy as np
import pytest

from rruffgeo.config import SpectraSettings
from rruffgeo.spectra import build_matrix, clean_axis, make_grid, resample_many, resample_spectrum
from synthetic_learn import make_workdir


def test_resample_many_matches_single_spectrum_rules():
    rng = np.random.default_rng(1)
    grid = make_grid(0, 1500, 200)
    shared = np.linspace(100, 1200, 400)
    spectra = [clean_axis(shared, rng.random(400)) for _ in range(3)]
    spectra.append(clean_axis(np.linspace(300, 1400, 250), rng.random(250)))
    spectra.append(clean_axis(np.array([2000.0, 2001, 2002, 2003]), np.arange(4.0)))
    X, errors = resample_many(spectra, grid)
    assert errors[:4] == [None] * 4 and "does not overlap" in errors[4]
    for i in range(4):
        ref = resample_spectrum(*spectra[i], grid)
        np.testing.assert_allclose(X[i], ref, atol=1e-5)
    assert X.dtype == np.float32 and not X[4].any()


def test_matrix_global_window_cache_and_failures(tmp_path, monkeypatch):
    bad = [
        {"spectrum_id": "set/short.txt", "specimen_id": "RBAD", "mineral": "Q", "kind": "raw",
         "laser_nm": 532.0, "wavenumber_cm1": [1.0, 2.0], "intensity": [1.0, 2.0]},
        {"spectrum_id": "set/nan.txt", "specimen_id": "RBAD", "mineral": "Q", "kind": "raw",
         "laser_nm": 532.0, "wavenumber_cm1": [1.0, 2.0, 3.0, 4.0, 5.0],
         "intensity": [float("nan")] * 5},
    ]
    wd = make_workdir(tmp_path, extra_rows=bad)
    m = build_matrix(wd, SpectraSettings(grid_points=128))
    assert m.X.shape == (len(m.index), 128)
    assert set(m.failures["spectrum_id"]) == {"set/short.txt", "set/nan.txt"}
    assert all("points" in r for r in m.failures["reason"])
    # Global window: the smallest and largest wavenumber of the usable spectra.
    assert m.grid_cm1[0] == pytest.approx(100.0) and m.grid_cm1[-1] == pytest.approx(1300.0)
    assert np.isclose(m.X.max(axis=1), 1).all() and (np.asarray(m.X) >= 0).all()
    assert isinstance(m.X, np.memmap)

    import rruffgeo.spectra.matrix as mod

    def boom(*a, **k):
        raise AssertionError("rebuilt although catalog and settings are unchanged")

    monkeypatch.setattr(mod, "resample_many", boom)
    again = build_matrix(wd, SpectraSettings(grid_points=128))
    np.testing.assert_array_equal(again.X, m.X)
    with pytest.raises(AssertionError, match="rebuilt"):
        build_matrix(wd, SpectraSettings(grid_points=64))


def test_matrix_needs_catalog(tmp_path):
    from rruffgeo.workdir import WorkDir

    with pytest.raises(FileNotFoundError, match="rruffgeo ingest"):
        build_matrix(WorkDir(tmp_path))


@pytest.mark.shared
def test_real_rruff_spectra_resample_like_the_reference(shared_rruff):
    import zipfile

    from rruffgeo.data.rruff_file import parse_rruff_bytes

    with zipfile.ZipFile(shared_rruff / "excellent_oriented.zip") as zf:
        names = [n for n in zf.namelist() if n.endswith(".txt")][:40]
        records = [parse_rruff_bytes(zf.read(n), n) for n in names]
    cleaned = [clean_axis(r.wavenumber_cm1, r.intensity) for r in records]
    grid = make_grid(0, 4250, 2048)
    X, errors = resample_many(cleaned, grid)
    assert errors == [None] * len(records)
    for i in (0, len(records) // 2, len(records) - 1):
        np.testing.assert_allclose(X[i], resample_spectrum(*cleaned[i], grid), atol=1e-5)


def test_matrix_rows_get_the_auto_rule_of_user_spectra(tmp_path):
    """A reference spectrum with the laser line and a background is stored as ``--preprocess
    auto`` leaves a user's spectrum: cropped below the minimum shift, background removed."""
    from rruffgeo.spectra.preprocess import AUTO_MIN_SHIFT_CM1

    x = np.linspace(-100, 1300, 1400)
    y = (50_000 * np.exp(-0.5 * (x / 15) ** 2) + 1000 * np.exp(-0.5 * ((x - 700) / 8) ** 2)
         + 3000 + 2 * x)
    row = {"spectrum_id": "set/laser.txt", "specimen_id": "RLAS", "mineral": "Q", "kind": "raw",
           "laser_nm": 532.0, "wavenumber_cm1": x.tolist(), "intensity": y.tolist()}
    wd = make_workdir(tmp_path, extra_rows=[row])
    m = build_matrix(wd, SpectraSettings(grid_points=512))
    values = np.asarray(m.X[m.rows_of(["set/laser.txt"])[0]])
    assert not values[m.grid_cm1 < AUTO_MIN_SHIFT_CM1].any()
    assert m.grid_cm1[np.argmax(values)] == pytest.approx(700, abs=6)
    assert np.median(values[m.grid_cm1 >= AUTO_MIN_SHIFT_CM1]) < 0.05
