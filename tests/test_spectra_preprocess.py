import numpy as np
import pytest

from rruffgeo.spectra.preprocess import (
    AUTO_BASELINE_SHARE,
    AUTO_MIN_SHIFT_CM1,
    AutoRule,
    apply_steps,
    baseline,
    baseline_share,
    crop,
    crop_below,
    despike,
    fit_baseline,
    parse_steps,
    smooth,
)
from rruffgeo.spectra.spectrum import Spectrum

X = np.linspace(100, 1300, 1200)
PEAK = 1000 * np.exp(-0.5 * ((X - 700) / 8) ** 2)


def _spectrum(y: np.ndarray) -> Spectrum:
    return Spectrum(X, y, {"source": "s.csv", "laser_nm": 532.0})


def test_despike_removes_a_cosmic_ray_and_keeps_the_raman_band():
    y = PEAK + 50
    y_spiked = y.copy()
    y_spiked[300] += 5000
    out = despike(_spectrum(y_spiked))
    assert out.intensity[300] == pytest.approx(50, abs=5)
    assert out.intensity.max() == pytest.approx(1050, rel=0.01)  # the band is not a spike
    assert out.metadata["laser_nm"] == 532.0


def test_baseline_correction_removes_a_curved_background():
    background = 2000 + 3 * (X - 100) - 0.002 * (X - 700) ** 2
    out = baseline(_spectrum(PEAK + background), method="arpls")
    away = np.abs(X - 700) > 60
    assert np.abs(out.intensity[away]).max() < 0.05 * 1000
    assert out.intensity.max() == pytest.approx(1000, rel=0.05)
    with pytest.raises(ValueError, match="choose one of arpls, aspls, asls"):
        baseline(_spectrum(PEAK), method="magic")


def test_smooth_reduces_noise_and_crop_keeps_the_range():
    noisy = PEAK + np.random.default_rng(0).normal(0, 20, len(X))
    out = smooth(_spectrum(noisy), window=11)
    assert np.std(out.intensity - PEAK) < 0.6 * np.std(noisy - PEAK)
    cut = crop(_spectrum(PEAK), 200, 400)
    assert cut.wavenumber_cm1.min() >= 200 and cut.wavenumber_cm1.max() <= 400


def test_steps_compose_and_parse():
    assert parse_steps("none") == [] and parse_steps(None) == []
    assert len(parse_steps("auto")) == 1 and isinstance(parse_steps("auto")[0], AutoRule)
    steps = parse_steps("despike:5,baseline:aspls:1e6,smooth:7,crop:150-1200")
    out = apply_steps(_spectrum(PEAK + 100 + 0.5 * X), steps)
    assert isinstance(out, Spectrum) and out.source == "s.csv"
    assert out.wavenumber_cm1[0] >= 150 and out.wavenumber_cm1[-1] <= 1200
    with pytest.raises(ValueError, match="--preprocess step 'wavelet'"):
        parse_steps("despike,wavelet")
    with pytest.raises(ValueError, match="bad argument"):
        parse_steps("crop:abc")


def _with_laser_line(baseline_height: float) -> Spectrum:
    """A raw-looking spectrum: the laser (Rayleigh) line at 0 cm-1 with its anti-Stokes side,
    one Raman band at 700 cm-1, on a sloping background of ``baseline_height``."""
    x = np.linspace(-150, 1300, 1500)
    laser = 50_000 * np.exp(-0.5 * (x / 15) ** 2)
    band = 1000 * np.exp(-0.5 * ((x - 700) / 8) ** 2)
    background = baseline_height * (1 + (x + 150) / 1450)
    return Spectrum(x, laser + band + background, {"source": "raw.txt"})


def test_auto_crops_the_laser_line_and_the_anti_stokes_side():
    out = apply_steps(_with_laser_line(2000.0), parse_steps("auto"))
    assert out.wavenumber_cm1.min() >= AUTO_MIN_SHIFT_CM1
    assert out.wavenumber_cm1[np.argmax(out.intensity)] == pytest.approx(700, abs=3)


def test_auto_subtracts_the_background_and_keeps_a_corrected_spectrum():
    raw = AutoRule()(_with_laser_line(2000.0))
    assert np.median(raw.intensity) < 0.05 * raw.intensity.max()
    processed = Spectrum(X, PEAK, {"source": "processed.txt"})
    out = AutoRule()(processed)
    kept = X >= AUTO_MIN_SHIFT_CM1
    assert np.abs(out.intensity - PEAK[kept]).max() < 0.02 * PEAK.max()
    if AUTO_BASELINE_SHARE is not None:  # a threshold leaves it exactly as it was
        np.testing.assert_array_equal(out.intensity, PEAK[kept])


def test_auto_rule_decides_per_spectrum():
    """Cropping only where the spectrum reaches below the minimum shift; a threshold on the
    baseline's share subtracts it from the raw spectrum only."""
    starts_late = Spectrum(X[X >= 400], PEAK[X >= 400], {"source": "late.txt"})
    assert AutoRule()(starts_late).wavenumber_cm1[0] == starts_late.wavenumber_cm1[0]
    rule = AutoRule(share=0.05, despike=False)
    flat = Spectrum(X, PEAK, {"source": "processed.txt"})
    np.testing.assert_array_equal(rule(flat).intensity, PEAK[X >= AUTO_MIN_SHIFT_CM1])
    assert rule(_with_laser_line(2000.0)).intensity.min() < 500  # background removed


def test_crop_below_and_baseline_share():
    s = _spectrum(PEAK)
    assert crop_below(s, 50.0).wavenumber_cm1.size == X.size  # nothing below: unchanged
    assert crop_below(s, 5000.0).wavenumber_cm1.size == X.size  # nothing left: kept whole
    assert crop_below(s, 700.0).wavenumber_cm1.min() >= 700
    flat = fit_baseline(_spectrum(PEAK))[2]
    sloped = fit_baseline(_spectrum(PEAK + 3000 + 2 * X))[2]
    assert baseline_share(PEAK, flat) < 0.02
    assert baseline_share(PEAK + 3000 + 2 * X, sloped) > 0.3


def test_the_kept_baseline_fitter_belongs_to_one_thread():
    import threading

    from rruffgeo.spectra import preprocess

    x1, x2 = np.linspace(100, 1000, 50), np.linspace(100, 2000, 80)
    mine = preprocess._fitter(x1)
    other = []
    worker = threading.Thread(target=lambda: other.append(preprocess._fitter(x2)))
    worker.start()
    worker.join()
    assert preprocess._fitter(x1) is mine  # another thread's axis did not replace it
    assert len(other[0].x) == 80 and other[0] is not mine
