import numpy as np
import pytest

from rruffgeo.spectra.preprocess import (
    AutoRule,
    apply_steps,
    baseline,
    crop,
    despike,
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

