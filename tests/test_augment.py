"""Augmentation: wavenumber shift, intensity scale and noise keep the padding and the seed."""

import numpy as np
import pytest
import torch

from rruffgeo.config import TrainSettings
from rruffgeo.network.augment import (
    Augmentation,
    augment_batch,
    augmentation_from_settings,
    measured_mask,
    shift_spectra,
)


def _padded_band(length: int = 64, centre: int = 30) -> torch.Tensor:
    """A spectrum measured on points 10-49 (zero padding outside) with one band."""
    x = torch.zeros(length)
    pos = torch.arange(10, 50, dtype=torch.float32)
    x[10:50] = 0.1 + torch.exp(-0.5 * ((pos - centre) / 2.0) ** 2)
    return x


def test_shift_moves_a_band_by_whole_and_fractional_points():
    x = _padded_band().repeat(3, 1)
    out = shift_spectra(x, torch.tensor([3.0, -2.0, 0.5]))
    assert out[0].argmax() == 33 and out[1].argmax() == 28
    assert torch.allclose(out[2, 1:], 0.5 * (x[2, 1:] + x[2, :-1]))  # half a point: the mean
    assert out[0, :13].eq(0).all() and out[0, 53:].eq(0).all()  # padding moves along


def test_shift_in_cm1_is_converted_with_the_grid_step():
    ts = TrainSettings(aug_shift_cm1=4.0)
    assert augmentation_from_settings(ts, 2.0).shift_points == 2.0
    with pytest.raises(ValueError, match="grid_step_cm1"):
        augmentation_from_settings(ts, None)
    with pytest.raises(ValueError, match="aug_noise -0.1: must be in"):
        TrainSettings(aug_noise=-0.1)  # refused where settings are made


def test_scale_and_noise_leave_the_zero_padding_alone():
    x = _padded_band().repeat(8, 1).unsqueeze(1)
    out = augment_batch(x, Augmentation(scale=0.2, noise=0.05), torch.Generator().manual_seed(1))
    assert out.shape == x.shape
    assert out[:, 0, :10].eq(0).all() and out[:, 0, 50:].eq(0).all()
    inside = out[:, 0, 10:50] - x[:, 0, 10:50]
    assert inside.abs().max() > 0.01  # something happened inside the measured range
    ratio = out[:, 0, 30] / x[:, 0, 30]
    assert ratio.min() >= 0.7 and ratio.max() <= 1.3 and ratio.std() > 0.01
    assert measured_mask(x[:, 0]).sum(1).eq(40).all()


def test_augmentation_is_reproducible_from_the_generator_and_off_by_default():
    x = torch.rand(4, 1, 64)
    aug = Augmentation(shift_points=1.5, scale=0.1, noise=0.01)
    a = augment_batch(x, aug, torch.Generator().manual_seed(3))
    b = augment_batch(x, aug, torch.Generator().manual_seed(3))
    c = augment_batch(x, aug, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert augment_batch(x, Augmentation(), torch.Generator()) is x
    off = TrainSettings(aug_shift_cm1=0.0, aug_scale=0.0, aug_noise=0.0)
    assert not augmentation_from_settings(off, None).active
    assert augmentation_from_settings(TrainSettings(), 2.0).active  # on by default


def test_training_with_augmentation_still_learns_the_synthetic_bands():
    from rruffgeo.config import replace
    from rruffgeo.network.runtime import predict_proba
    from rruffgeo.network.train import fit_network
    from synthetic_learn import tiny_settings

    rng = np.random.default_rng(0)
    grid = np.arange(64, dtype=np.float32)
    y = np.arange(48) % 3
    X = np.stack([np.exp(-0.5 * ((grid - 12 - 18 * c) / 2) ** 2) + rng.normal(0, 0.02, 64)
                  for c in y]).astype(np.float32)
    s = tiny_settings(epochs=25, grid=64)
    s = replace(s, model=replace(s.model, drop_path_rate=0.0, head_dropout=0.0),
                train=replace(s.train, batch_size=16, lr=1e-2, weight_decay=0.0,
                              aug_shift_cm1=2.0, aug_scale=0.1, aug_noise=0.01))
    model, history = fit_network(X, y, 3, s, progress=False, device=torch.device("cpu"),
                                 grid_step_cm1=1.0)
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert (predict_proba(model, X, torch.device("cpu")).argmax(1) == y).mean() > 0.9
