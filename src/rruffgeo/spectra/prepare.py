"""Spectra made ready for a model: read, checked, preprocessed and resampled onto its grid.

The one loop every prediction goes through (read -> check -> preprocess -> check -> resample),
whatever the model: the network's predictor, the provenance predictor and ``rruffgeo.predict``
all call it, so they refuse the same bad spectra with the same reasons
(`rruffgeo.spectra.checks`). One bad spectrum is refused with its reason and never stops the
others."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rruffgeo.spectra.checks import Verdict, check_spectrum, values_ok_rows
from rruffgeo.spectra.spectrum import Spectrum
from rruffgeo.textsafe import terminal_safe

#: (source, reason) of a spectrum or file that could not be predicted; the reason names it.
Refusal = tuple[str, str]


def as_path_list(paths: Any, what: str = "paths") -> list[str | os.PathLike[str]]:
    """``paths`` as a list, refusing one string or Path where a list belongs (a string would
    be read character by character, and "/" walks the whole disk)."""
    if isinstance(paths, str | bytes | os.PathLike):
        raise TypeError(f"{what}: expected a list of files or folders, got one "
                        f"{type(paths).__name__} ({str(paths)[:80]!r}); wrap it: [{what}]")
    if not isinstance(paths, Iterable):
        raise TypeError(f"{what}: expected a list of files or folders, got "
                        f"{type(paths).__name__}")
    out = list(paths)
    wrong = [p for p in out if not isinstance(p, str | os.PathLike)]
    if wrong:
        raise TypeError(f"{what}: every item must be a str or Path, got "
                        f"{type(wrong[0]).__name__}")
    return out


def _key(name: str) -> str:
    """What makes two inputs the same file (a path given twice, or by two spellings)."""
    return os.path.normcase(os.path.realpath(name))


def read_paths(paths: Sequence[str | os.PathLike[str]], laser_nm: float | None = None
               ) -> Iterator[Spectrum | Refusal | str]:
    """Spectra of files, folders and zips; a `Refusal` for each input that cannot be read,
    and a warning (str) for an input given twice (read once, so it is listed once)."""
    from rruffgeo.spectra.readers import iter_inputs
    from rruffgeo.spectra.readers.inputs import read_input

    seen: set[str] = set()
    for raw in as_path_list(paths):
        found = False
        for item in iter_inputs([raw]):
            found = True
            if _key(item.name) in seen:
                yield f"{item.name}: given more than once; predicted once"
                continue
            seen.add(_key(item.name))
            try:
                yield from read_input(item, laser_nm)
            except ValueError as exc:  # RruffFormatError is a ValueError
                yield (item.name, str(exc))
        if not found:
            yield (str(raw), f"{raw}: no spectrum files in this folder (hidden files and "
                   "folders are skipped)")


def as_spectra(objects: Sequence[Any]) -> Iterator[Spectrum | Refusal]:
    """In-memory spectra (Spectrum, (x, y) pairs, DataFrames, RamanSPy or ramanchada2
    objects), named ``spectrum 1``, ... unless they carry a source."""
    from rruffgeo.spectra.interop import as_spectrum

    for i, obj in enumerate(objects, 1):
        try:
            yield as_spectrum(obj, f"spectrum {i}")
        except ValueError as exc:
            yield (f"spectrum {i}", str(exc))


@dataclass
class Prepared:
    """Spectra on a model's grid, ready to predict, and what was refused or warned about."""

    names: list[str] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)
    spectra: list[Spectrum] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def matrix(self, points: int) -> np.ndarray:
        return np.stack(self.rows).astype(np.float32) if self.rows \
            else np.zeros((0, points), np.float32)


def _checked(spectrum: Spectrum, grid: np.ndarray, steps: Sequence[Any]
             ) -> tuple[Spectrum, list[str]]:
    """One spectrum checked and preprocessed (not yet resampled), with its warnings;
    ValueError naming the spectrum when it is refused."""
    from rruffgeo.spectra.preprocess import apply_steps

    source = spectrum.source
    verdict = check_spectrum(spectrum, grid)  # the raw spectrum: axis, values, range
    if verdict.refusal is None and steps:
        spectrum = apply_steps(spectrum, steps)
        verdict = check_spectrum(spectrum, grid)  # what is left after cropping
    if verdict.refusal is not None:
        raise ValueError(f"{source}: {verdict.refusal}")
    return spectrum, _notes(spectrum, verdict)


def _checked_or_reason(spectrum: Spectrum, grid: np.ndarray, steps: Sequence[Any]
                       ) -> tuple[Spectrum, list[str]] | str:
    """``_checked``, a refusal given as its reason."""
    try:
        return _checked(spectrum, grid, steps)
    except ValueError as exc:
        return str(exc)


def _group_rule(steps: Sequence[Any]) -> Any:
    """The rule a group of spectra is preprocessed with together: None for no steps, the
    ``auto`` rule, or False (other steps: one spectrum at a time)."""
    from rruffgeo.spectra.preprocess import AutoRule

    if not steps:
        return None
    return steps[0] if len(steps) == 1 and isinstance(steps[0], AutoRule) else False


def _plain_axis(x: np.ndarray) -> bool:
    """Finite and strictly monotonic: sorting is the only cleaning it needs."""
    step = np.diff(x)
    return len(x) >= 2 and bool(np.isfinite(x).all()) and bool(
        (step > 0).all() or (step < 0).all())


def _verdicts(spectra: Sequence[Spectrum], Y: np.ndarray, grid: np.ndarray
              ) -> list[Verdict]:
    """``check_spectrum`` of spectra sharing one plain axis (their intensities the rows of
    ``Y``): the values row by row at once, the axis once (it is all the rest looks at)."""
    ok = values_ok_rows(Y)
    shared = check_spectrum(spectra[int(np.argmax(ok))], grid) if ok.any() else None
    return [shared if good else check_spectrum(sp, grid)
            for sp, good in zip(spectra, ok, strict=True)]


def checked_group(spectra: Sequence[Spectrum], grid: np.ndarray, steps: Sequence[Any]
                  ) -> list[tuple[Spectrum, list[str]] | str]:
    """``_checked`` of each spectrum (a refusal as its reason) for spectra on one axis: what
    one by one would give, with the checks and the ``auto`` rule run on them together."""
    rule = _group_rule(steps)
    if len(spectra) < 2 or rule is False or not _plain_axis(spectra[0].wavenumber_cm1):
        return [_checked_or_reason(sp, grid, steps) for sp in spectra]
    first = _verdicts(spectra, np.stack([sp.intensity for sp in spectra]), grid)
    out: list[tuple[Spectrum, list[str]] | str] = [
        f"{sp.source}: {v.refusal}" if v.refusal else (sp, _notes(sp, v))
        for sp, v in zip(spectra, first, strict=True)]
    todo = [i for i, v in enumerate(first) if v.refusal is None]
    if rule is None or not todo:
        return out
    x = spectra[0].wavenumber_cm1
    order = np.argsort(x, kind="stable")
    try:
        xs, Ys = rule.rows(x[order], np.stack([spectra[i].intensity[order] for i in todo]),
                           [spectra[i].source for i in todo])
    except ValueError:  # a fit that fails: each spectrum alone says which and why
        return [_checked_or_reason(sp, grid, steps) for sp in spectra]
    after = [spectra[i].with_values(xs, y) for i, y in zip(todo, Ys, strict=True)]
    for i, sp, v in zip(todo, after, _verdicts(after, Ys, grid), strict=True):
        out[i] = f"{sp.source}: {v.refusal}" if v.refusal else (sp, _notes(sp, v))
    return out


def _notes(spectrum: Spectrum, verdict: Verdict) -> list[str]:
    return [f"{spectrum.source}: {w}" for w in verdict.warnings]


def _window_refusal(source: str, reason: str) -> str:
    return f"{source}: {reason} (the model's window)"


def prepare_row(spectrum: Spectrum, grid: np.ndarray, minmax: bool = True,
                steps: Sequence[Any] = ()) -> tuple[np.ndarray, list[str]]:
    """One spectrum checked, preprocessed and resampled onto ``grid``, with its warnings;
    ValueError naming the spectrum when it is refused."""
    from rruffgeo.spectra.resample import resample_spectrum

    checked, notes = _checked(spectrum, grid, steps)
    try:
        row = resample_spectrum(checked.wavenumber_cm1, checked.intensity, grid, minmax)
    except ValueError as exc:
        raise ValueError(_window_refusal(spectrum.source, str(exc))) from None
    return row, notes


def prepare_all(items: Iterable[Spectrum | Refusal | str], grid: np.ndarray,
                minmax: bool = True, steps: Sequence[Any] = ()) -> Prepared:
    """The one loop every prediction goes through: each item checked and put on ``grid``;
    one bad spectrum is refused with its reason and never stops the others. Spectra sharing
    an axis (a map's points) are checked, preprocessed (`checked_group`) and resampled
    (`resample_rows`) together, with the same rows, refusals and warnings, in the same
    order, as ``prepare_row`` one by one."""
    from rruffgeo.spectra.resample import resample_rows

    events: list[tuple[str, Any]] = []  # ("warn", text), ("refuse", refusal), ("row", k)
    kept: list[tuple[Spectrum, Spectrum, list[str]]] = []
    for run in _runs(items):
        if isinstance(run, str):
            events.append(("warn", run))
            continue
        if isinstance(run, tuple):
            events.append(("refuse", run))
            continue
        for item, done in zip(run, checked_group(run, grid, steps), strict=True):
            if isinstance(done, str):
                events.append(("refuse", (item.source, done)))
            else:
                events.append(("row", len(kept)))
                kept.append((item, *done))
    rows = resample_rows([(c.wavenumber_cm1, c.intensity) for _, c, _ in kept], grid, minmax)
    return _collect(events, kept, rows)


def _collect(events: list[tuple[str, Any]], kept: list[tuple[Spectrum, Spectrum, list[str]]],
             rows: list[np.ndarray | str]) -> Prepared:
    """The events in order as a `Prepared`, its warnings issued."""
    out = Prepared()
    for kind, value in events:
        if kind == "warn":
            out.warnings.append(value)
        elif kind == "refuse":
            out.refused.append(value)
        elif isinstance(rows[value], str):
            out.refused.append((kept[value][0].source,
                                _window_refusal(kept[value][0].source, rows[value])))
        else:
            out.names.append(kept[value][0].source)
            out.rows.append(rows[value])
            out.spectra.append(kept[value][0])
            out.warnings.extend(kept[value][2])
    for note in out.warnings:
        warnings.warn(terminal_safe(note), UserWarning, stacklevel=4)
    return out


def _axis_key(spectrum: Spectrum) -> tuple[bytes, str]:
    return spectrum.wavenumber_cm1.tobytes(), str(spectrum.metadata.get("x_units", "") or "")


def _runs(items: Iterable[Spectrum | Refusal | str]
          ) -> Iterator[list[Spectrum] | Refusal | str]:
    """The items in order, consecutive spectra on one axis (same values and units) as one
    list: what can be checked and preprocessed together."""
    run: list[Spectrum] = []
    key: tuple[bytes, str] | None = None
    for item in items:
        if isinstance(item, str | tuple):
            if run:
                yield run
            run, key = [], None
            yield item
            continue
        this = _axis_key(item)
        if run and this != key:
            yield run
            run = []
        run.append(item)
        key = this
    if run:
        yield run


def check_rows(rows: Any, points: int, grid: np.ndarray) -> np.ndarray:
    """Spectra already on the model's grid as a float32 (n, G) array; TypeError/ValueError
    saying what was expected otherwise."""
    arr = np.asarray(rows, dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] == points:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != points:
        raise ValueError(f"spectra: expected (n, G) with G = {points} (the model's grid, "
                         f"{grid[0]:.0f}-{grid[-1]:.0f} cm-1), got shape {arr.shape}; pass "
                         "(wavenumber, intensity) pairs to have them resampled")
    bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
    if len(bad):
        raise ValueError(f"spectra: rows {', '.join(map(str, bad[:10]))} hold NaN or infinite "
                         "values; drop or fill them first")
    return arr.astype(np.float32)
