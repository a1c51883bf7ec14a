"""Preprocessing steps that make a raw lab spectrum look like RRUFF's processed spectra.

Every step has one signature, ``Spectrum -> Spectrum``, so steps compose in any order:
``despike`` (cosmic rays), ``baseline`` (pybaselines arPLS/asPLS/asLS), ``smooth``
(Savitzky-Golay) and ``crop``. ``parse_steps`` turns ``auto``, ``none`` or a list such as
``despike,baseline:arpls,smooth:9,crop:100-1400`` into the steps.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from scipy.signal import savgol_filter

from rruffgeo.spectra.resample import clean_axis
from rruffgeo.spectra.spectrum import Spectrum, file_of

Step = Callable[[Spectrum], Spectrum]
BASELINE_METHODS = ("arpls", "aspls", "asls")

#: ``--preprocess auto`` (and the reference library) crops below this Raman shift (cm-1) and
#: subtracts an asLS baseline (smoothness ``AUTO_LAMBDA``); a baseline only when it is above
#: ``AUTO_BASELINE_SHARE`` of the range, None: always (see ``AutoRule``). Chosen by top-1
#: species on an inner split of RRUFF's raw/processed twins (benchmarks/raw_vs_processed.py):
#: RRUFF's processed LR-Raman broad scans keep their fluorescence background, so the library
#: needs the baseline removed as much as a user's raw spectrum does.
AUTO_MIN_SHIFT_CM1: float = 150.0
AUTO_METHOD = "asls"
AUTO_LAMBDA = 1e6
AUTO_BASELINE_SHARE: float | None = None


def _clean(spectrum: Spectrum) -> tuple[np.ndarray, np.ndarray]:
    return clean_axis(spectrum.wavenumber_cm1, spectrum.intensity)


def despike(spectrum: Spectrum, threshold: float = 6.0, window: int = 2) -> Spectrum:
    """Cosmic-ray removal (Whitaker and Hayes 2018): points whose first difference has a
    modified z-score above ``threshold`` are replaced by the mean of their neighbours."""
    x, y = _clean(spectrum)
    return spectrum.with_values(x, despike_rows(y[None], threshold, window)[0])


def despike_rows(Y: np.ndarray, threshold: float = 6.0, window: int = 2) -> np.ndarray:
    """``despike`` of every row of ``Y`` (spectra on one cleaned axis) at once: the same
    medians, scores and replacements, each spike the mean of the unflagged points within
    ``window`` of it, summed in the order ``ndarray.mean`` sums so few values (in turn)."""
    Y = np.asarray(Y, dtype=np.float64)
    if Y.shape[1] < 2 * window + 3:
        return Y.copy()
    diff = np.diff(Y, axis=1)
    med = np.median(diff, axis=1, keepdims=True)
    mad = np.median(np.abs(diff - med), axis=1, keepdims=True)
    mad[mad == 0] = 1e-12
    spikes = np.zeros(Y.shape, dtype=bool)
    spikes[:, 1:] = np.abs(0.6745 * (diff - med) / mad) > threshold
    rows, cols = np.nonzero(spikes)
    total, count = np.zeros(len(rows)), np.zeros(len(rows), dtype=np.int64)
    for offset in range(-window, window + 1):
        at = np.clip(cols + offset, 0, Y.shape[1] - 1)
        keep = (cols + offset == at) & ~spikes[rows, at]
        total = np.where(keep, total + Y[rows, at], total)
        count += keep
    out = Y.copy()
    done = count > 0
    out[rows[done], cols[done]] = total[done] / count[done]
    return out


def fit_baseline(spectrum: Spectrum, method: str = "arpls", lam: float = 1e5
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cleaned axis, intensities and the baseline pybaselines fits under them (zeros for a
    spectrum too short to fit)."""
    x, y = _clean(spectrum)
    return x, y, fit_baseline_rows(x, y[None], method, lam, [spectrum.source])[0]


#: Fewest spectra on one axis whose asLS baselines are fitted together (``asls_many``);
#: below it one by one (``asls_one``) is quicker. All give pybaselines' baselines, bit for bit.
BATCH_MIN = 32


def fit_baseline_rows(x: np.ndarray, Y: np.ndarray, method: str, lam: float,
                      sources: Sequence[str]) -> np.ndarray:
    """Baselines of the rows of ``Y`` (spectra on the cleaned axis ``x``; ``sources`` name
    them in notes), each as pybaselines fits it alone; zeros when too short to fit."""
    if method not in BASELINE_METHODS:
        raise ValueError(f"baseline method {method!r}: choose one of "
                         f"{', '.join(BASELINE_METHODS)}")
    if Y.shape[1] < 8:
        return np.zeros_like(Y)
    if method == "asls":
        fitted = _asls_rows(Y, lam)
        left = np.flatnonzero(~np.isfinite(fitted).all(axis=1))  # pybaselines says why
    else:
        fitted, left = np.empty_like(Y), np.arange(len(Y))
    for i in left:
        fitted[i] = _fit_one(x, Y[i], method, lam, sources[i])
    return fitted


def _asls_rows(Y: np.ndarray, lam: float) -> np.ndarray:
    """pybaselines' asLS baselines of the rows of ``Y``, bit for bit: together when there are
    many (``asls_many``), else one by one without pybaselines' set-up (``asls_one``); a row
    whose fit fails comes back NaN."""
    from rruffgeo.spectra.asls import asls_many, asls_one

    if len(Y) >= BATCH_MIN:
        return asls_many(Y, lam=lam)
    fitted = np.full_like(Y, np.nan)
    with np.errstate(all="ignore"):
        for i, y in enumerate(Y):
            if np.isfinite(y).all():
                with suppress(ValueError):  # left NaN: pybaselines fits it again, says why
                    fitted[i] = asls_one(y, lam=lam)
    return fitted


def _fit_one(x: np.ndarray, y: np.ndarray, method: str, lam: float, source: str
             ) -> np.ndarray:
    """pybaselines' baseline of one spectrum; its warnings become one note per file."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted, _ = getattr(_fitter(x), method)(y, lam=lam)
    for message in {str(w.message) for w in caught}:
        _baseline_note(source, method, message)
    return fitted


def baseline(spectrum: Spectrum, method: str = "arpls", lam: float = 1e5) -> Spectrum:
    """Subtract a baseline fitted by pybaselines (arPLS by default; asPLS, asLS)."""
    x, y, fitted = fit_baseline(spectrum, method, lam)
    return spectrum.with_values(x, y - fitted)


def _fitter(x: np.ndarray) -> Any:
    """pybaselines' fitter for the axis ``x``, kept for the next spectrum on the same axis (a
    map's points): setting one up costs about as much as a fit. Same fits either way."""
    from pybaselines import Baseline

    key = x.tobytes()
    cached = getattr(_FITTER, "last", None)
    if cached is None or cached[0] != key:
        cached = _FITTER.last = (key, Baseline(x_data=x.copy()))
    return cached[1]


#: The last fitter of each thread: the web page predicts in several threads, and a fitter set
#: up for one axis must never serve another thread's spectrum.
_FITTER = threading.local()

#: Notes already given: each once per process (the catch_warnings around every fit resets
#: Python's own once-per-message registry, so it cannot do this).
_NOTED: set[str] = set()


def _baseline_note(source: str, method: str, message: str) -> None:
    """pybaselines' warnings as one line of ours, naming the file rather than the spectrum
    (``map.txt``, not ``map.txt#17``): once for a 168-spectrum series, not 168 times."""
    name = file_of(source)
    if message.startswith("almost all baseline points are"):
        text = (f"{name}: baseline ({method}) fit stopped early: it already lies on or below "
                "almost every point (flat stretches, zero padding or a step in the spectrum); "
                "that fit is subtracted")
    else:
        text = f"{name}: baseline ({method}): {message}"
    if text not in _NOTED:
        if len(_NOTED) > 100_000:
            _NOTED.clear()
        _NOTED.add(text)
        warnings.warn(text, UserWarning, stacklevel=3)


def smooth(spectrum: Spectrum, window: int = 9, polyorder: int = 3) -> Spectrum:
    """Savitzky-Golay smoothing over ``window`` points (odd, > polyorder)."""
    x, y = _clean(spectrum)
    window = min(window | 1, len(y) - (1 - len(y) % 2))
    if window <= polyorder:
        return spectrum.with_values(x, y)
    return spectrum.with_values(x, savgol_filter(y, window, polyorder))


def crop(spectrum: Spectrum, lo_cm1: float = 100.0, hi_cm1: float = 1400.0) -> Spectrum:
    """Keep the points between ``lo_cm1`` and ``hi_cm1`` (cm-1)."""
    x, y = _clean(spectrum)
    keep = (x >= lo_cm1) & (x <= hi_cm1)
    return spectrum.with_values(x[keep], y[keep])


def crop_below(spectrum: Spectrum, min_shift_cm1: float) -> Spectrum:
    """Drop the points below ``min_shift_cm1``: the laser (Rayleigh) line and the anti-Stokes
    side, whose height would otherwise set the min-max scale of the whole spectrum. A spectrum
    with nothing above it is kept whole (better a poor match than none)."""
    x, y = _clean(spectrum)
    keep = x >= min_shift_cm1
    if keep.all() or keep.sum() < 8:
        return spectrum.with_values(x, y)
    return spectrum.with_values(x[keep], y[keep])


def baseline_share(intensity: np.ndarray, fitted: np.ndarray) -> float:
    """Mean height of a fitted baseline above the spectrum's floor, as a share of its range:
    near 0 for a spectrum already baseline-corrected (RRUFF's processed files), large for a
    raw one on a fluorescence background."""
    span = float(np.ptp(intensity))
    if span <= 0:
        return 0.0
    return float(np.mean(fitted - intensity.min()) / span)


@dataclass(frozen=True)
class AutoRule:
    """What ``--preprocess auto`` does to each spectrum, deciding from the spectrum itself:
    despike; crop below ``min_shift_cm1`` when the spectrum reaches below it (laser line,
    anti-Stokes side); subtract a ``method`` baseline (only when it holds more than ``share``
    of the range, if ``share`` is set). The reference library is built with the same rule, so
    a user's spectrum and the references are compared after the same steps."""

    min_shift_cm1: float | None = AUTO_MIN_SHIFT_CM1
    method: str = AUTO_METHOD
    lam: float = AUTO_LAMBDA
    share: float | None = AUTO_BASELINE_SHARE
    despike: bool = True

    def __call__(self, spectrum: Spectrum) -> Spectrum:
        x, y = _clean(spectrum)
        x, Y = self.rows(x, y[None], [spectrum.source])
        return spectrum.with_values(x, Y[0])

    def rows(self, x: np.ndarray, Y: np.ndarray, sources: Sequence[str]
             ) -> tuple[np.ndarray, np.ndarray]:
        """The rule applied to spectra sharing one cleaned axis ``x`` (rows of ``Y``, named
        by ``sources``): the axis and rows each spectrum alone would get, in one pass (a map's
        points are preprocessed together)."""
        if self.despike:
            Y = despike_rows(Y)
        if self.min_shift_cm1 is not None:
            keep = x >= self.min_shift_cm1
            if not keep.all() and keep.sum() >= 8:  # as crop_below
                x, Y = x[keep], Y[:, keep]
        if self.method == "none":
            return x, Y
        fitted = fit_baseline_rows(x, Y, self.method, self.lam, sources)
        out = Y - fitted
        if self.share is not None:
            for i in range(len(Y)):
                if baseline_share(Y[i], fitted[i]) <= self.share:
                    out[i] = Y[i]
        return x, out


def _number(text: str, low: float, what: str, whole: bool = False) -> float:
    """``text`` as a finite number of at least ``low``; ValueError saying what is expected."""
    value = float(text)
    if not math.isfinite(value) or value < low or (whole and value != int(value)):
        kind = "a whole number" if whole else "a finite number"
        raise ValueError(f"{what} must be {kind} of at least {low:g}")
    return int(value) if whole else value


def _parse_one(token: str) -> Step:
    """One step, its arguments checked now (a bad one would otherwise fail on every file)."""
    name, _, arg = token.strip().partition(":")
    try:
        if name == "despike":
            return partial(despike, threshold=_number(arg, 1e-6, "THRESHOLD")) if arg \
                else despike
        if name == "baseline":
            method, _, lam = arg.partition(":")
            if (method or "arpls") not in BASELINE_METHODS:
                raise ValueError(f"method {method!r}: choose one of "
                                 f"{', '.join(BASELINE_METHODS)}")
            return partial(baseline, method=method or "arpls",
                           lam=_number(lam, 1e-6, "LAMBDA") if lam else 1e5)
        if name == "smooth":
            return partial(smooth, window=_number(arg, 5, "WINDOW", whole=True)) if arg \
                else smooth
        if name == "crop":
            lo, _, hi = arg.partition("-")
            low, high = _number(lo, 0, "LO"), _number(hi, 0, "HI")
            if high <= low:
                raise ValueError(f"HI ({high:g}) must be above LO ({low:g})")
            return partial(crop, lo_cm1=low, hi_cm1=high)
    except ValueError as exc:
        reason = str(exc) if "must" in str(exc) or "choose" in str(exc) else "bad argument"
        raise ValueError(f"--preprocess step {token!r}: {reason}") from None
    raise ValueError(f"--preprocess step {token!r}: choose from despike[:THRESHOLD], "
                     "baseline[:arpls|aspls|asls[:LAMBDA]], smooth[:WINDOW], crop:LO-HI")


def parse_steps(spec: str | None) -> list[Step]:
    """Steps of ``auto``, ``none`` (or empty) or a comma-separated list of steps."""
    spec = (spec or "none").strip().lower()
    if spec == "none":
        return []
    if spec == "auto":
        return [AutoRule()]
    return [_parse_one(t) for t in spec.split(",") if t.strip()]


def apply_steps(spectrum: Spectrum, steps: Sequence[Step]) -> Spectrum:
    for step in steps:
        spectrum = step(spectrum)
    return spectrum


def library_ready(wavenumber: np.ndarray, intensity: np.ndarray, source: str = "reference"
                  ) -> tuple[np.ndarray, np.ndarray]:
    """A reference spectrum as the spectra matrix stores it: ``auto``'s rule applied (quietly:
    pybaselines' notes are for a user's files), so that ``--preprocess auto`` compares like
    with like; the cleaned axis and values, ready for ``resample_many``. Where the rule
    cannot run (values that overflow it) the spectrum goes on as it is, so the resampler
    keeps or refuses it for its own reason."""
    spectrum = Spectrum(wavenumber, intensity, {"source": source})
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            ready = AutoRule()(spectrum)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError):
            ready = spectrum
    if not np.isfinite(ready.intensity).all():
        ready = spectrum
    return _clean(ready)
