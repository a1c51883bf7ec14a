"""One spectrum as the tool uses it: Raman shift (cm-1), intensity and where it came from."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Spectrum:
    """A Raman spectrum on a Raman-shift axis.

    ``metadata`` holds at least ``source`` (file or ``archive.zip/member``) and ``format``;
    readers add ``laser_nm`` and ``x_units`` (as the file wrote them) where known.
    """

    wavenumber_cm1: np.ndarray
    intensity: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        x = np.asarray(self.wavenumber_cm1, dtype=np.float64).ravel()
        y = np.asarray(self.intensity, dtype=np.float64).ravel()
        if len(x) != len(y):
            raise ValueError(f"{self.source}: {len(x)} wavenumbers but {len(y)} intensities")
        object.__setattr__(self, "wavenumber_cm1", x)
        object.__setattr__(self, "intensity", y)

    @property
    def source(self) -> str:
        return str(self.metadata.get("source", "spectrum"))

    @property
    def laser_nm(self) -> float | None:
        value = self.metadata.get("laser_nm")
        return None if value is None else float(value)

    def with_values(self, wavenumber_cm1: np.ndarray | None = None,
                    intensity: np.ndarray | None = None, **metadata: Any) -> Spectrum:
        """A copy with new arrays and/or metadata entries (spectra are never changed in place)."""
        x = self.wavenumber_cm1 if wavenumber_cm1 is None else wavenumber_cm1
        y = self.intensity if intensity is None else intensity
        return replace(self, wavenumber_cm1=x, intensity=y,
                       metadata={**self.metadata, **metadata})


def file_of(name: str) -> str:
    """The file a spectrum came from: its name without the ``#N`` (N digits) that numbers the
    spectra of a map or series file. A ``#`` that is part of the file name is kept."""
    head, sep, tail = name.rpartition("#")
    return head if sep and tail.isdigit() else name
