"""Training-time augmentation of resampled spectra: wavenumber shift, intensity scale, noise.

Each transform mimics a real difference between two measurements of one specimen: a calibration
offset moves every band by a few cm-1, laser power and integration time scale the intensities,
and detector noise sits on the measured range only. The zero padding outside a spectrum's
measured range is kept zero by the scale and the noise (it marks where the spectrum starts and
ends) and moves with the spectrum under a shift. Every draw comes from the caller's
``torch.Generator``, so the same seed and epoch give the same augmented batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rruffgeo.config import TrainSettings


@dataclass(frozen=True)
class Augmentation:
    """The three augmentation strengths; all zero = identity (the paper)."""

    #: Largest shift in grid points (fractions allowed: linear interpolation between points).
    shift_points: float = 0.0
    scale: float = 0.0
    noise: float = 0.0

    @property
    def active(self) -> bool:
        return self.shift_points > 0 or self.scale > 0 or self.noise > 0


def augmentation_from_settings(ts: TrainSettings, grid_step_cm1: float | None) -> Augmentation:
    """The settings' augmentation, with the shift converted from cm-1 to grid points
    (``TrainSettings`` has already checked the ranges)."""
    shift = 0.0
    if ts.aug_shift_cm1 > 0:
        if not grid_step_cm1 or grid_step_cm1 <= 0:
            raise ValueError(f"aug_shift_cm1={ts.aug_shift_cm1} needs grid_step_cm1 (the "
                             "spacing of the spectra's points in cm-1); pass it, or set "
                             "aug_shift_cm1=0")
        shift = ts.aug_shift_cm1 / grid_step_cm1
    return Augmentation(shift, ts.aug_scale, ts.aug_noise)


def measured_mask(x: torch.Tensor) -> torch.Tensor:
    """Boolean mask of each row's measured range: from its first to its last non-zero point."""
    nonzero = x != 0
    length = x.shape[-1]
    pos = torch.arange(length, device=x.device)
    first = torch.where(nonzero, pos, length).amin(dim=-1, keepdim=True)
    last = torch.where(nonzero, pos, -1).amax(dim=-1, keepdim=True)
    return (pos >= first) & (pos <= last)


def shift_spectra(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Move each row of ``x`` (n, L) by ``shifts[i]`` points (positive: to higher wavenumber).

    Fractional shifts interpolate linearly between neighbouring points; points shifted in from
    outside the grid are zero, like the padding.
    """
    n, length = x.shape
    src = torch.arange(length, device=x.device, dtype=x.dtype)[None, :] - shifts[:, None]
    lo = torch.floor(src)
    frac = src - lo
    lo = lo.long()
    padded = torch.nn.functional.pad(x, (1, 1))  # index -1 and L read zeros

    def take(idx: torch.Tensor) -> torch.Tensor:
        return padded.gather(1, (idx.clamp(-1, length) + 1))

    return take(lo) * (1 - frac) + take(lo + 1) * frac


def augment_batch(x: torch.Tensor, aug: Augmentation, gen: torch.Generator) -> torch.Tensor:
    """An augmented copy of a batch ``x`` (n, 1, L) or (n, L); ``x`` itself is not changed."""
    if not aug.active:
        return x
    shape = x.shape
    flat = x.reshape(shape[0], shape[-1]).float()
    n = flat.shape[0]

    def uniform(size: tuple[int, ...]) -> torch.Tensor:
        return torch.rand(size, generator=gen).to(flat.device) * 2 - 1

    out = flat
    if aug.scale > 0:
        out = out * (1 + aug.scale * uniform((n, 1)))
    if aug.noise > 0:
        noise = torch.randn(flat.shape, generator=gen).to(flat.device) * aug.noise
        out = out + noise * measured_mask(flat)
    if aug.shift_points > 0:
        out = shift_spectra(out, aug.shift_points * uniform((n,)))
    return out.to(x.dtype).reshape(shape)
