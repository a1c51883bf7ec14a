"""One way to predict: open a model folder, give it files or spectra, get answers and refusals.

``open_model(folder)`` returns a `NetworkModel` for a network folder (``model.json``, e.g.
``models/holdout_specimen``) or a `ProvenanceModel` for the final provenance folder
(``provenance.json``, ``models/final``). Both predict through the same loop, read -> check ->
preprocess -> prepare, so both refuse the same bad spectra with the same reasons
(`rruffgeo.spectra.checks`). Torch is imported only when a network model is opened.

>>> model = open_model("rruffgeo-work/models/final")            # doctest: +SKIP
>>> result = model.predict_files(["my_spectrum.txt"])            # doctest: +SKIP
>>> result.table(top_k=3); result.refused                         # doctest: +SKIP
"""

from __future__ import annotations

import os
import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rruffgeo.errors import UserError
from rruffgeo.results import top_k_table
from rruffgeo.spectra.prepare import (
    Prepared,
    Refusal,
    as_path_list,
    as_spectra,
    check_rows,
    prepare_all,
    read_paths,
)
from rruffgeo.spectra.spectrum import Spectrum, file_of
from rruffgeo.textsafe import terminal_safe


@dataclass
class Predictions:
    """The answer of one call: per predicted spectrum (``names``) the country probabilities
    (``proba``, columns ``classes``); ``details`` holds the provenance model's species,
    specimens and conformal set per spectrum (None for a network model)."""

    names: list[str]
    proba: np.ndarray
    classes: list[str]
    class_names: list[str]
    refused: list[Refusal]
    warnings: list[str]
    details: list[Any] | None = None
    #: One pooled answer per sample when asked for (``sample_by``), else None.
    samples: list[SampleAnswer] | None = None

    def table(self, top_k: int = 3) -> pd.DataFrame:
        """The ``top_k`` countries per spectrum (file, rank, country_iso3, country_name,
        probability), most probable first."""
        return top_k_table(self.names, self.proba, self.classes, self.class_names, top_k)

    def __len__(self) -> int:
        return len(self.names)


@dataclass
class SampleAnswer:
    """The pooled answer for the spectra of one sample: ``result`` is a provenance result
    (countries with the pooled set, species, specimens); ``members`` index ``names``."""

    name: str
    members: list[int]
    result: Any


#: How ``sample_by`` names a spectrum's sample, from the spectrum's name.
SAMPLE_KEYS = ("file", "folder", "all")


def sample_of(name: str, how: str) -> str:
    """The sample of one spectrum: its file, its file's folder (a zip counts as a folder
    of its members), or one sample for everything (``all``)."""
    if how == "all":
        return "all"
    file = file_of(name)
    return file if how == "file" else (os.path.dirname(file) or ".")


def sample_groups(names: Sequence[str], sample_by: Any) -> dict[str, list[int]]:
    """Sample name -> indices of its spectra, in first-seen order. ``sample_by`` is one of
    ``SAMPLE_KEYS`` or a mapping from spectrum name to sample ID (a spectrum it does not name
    is a sample of its own)."""
    out: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        key = (str(sample_by.get(name, name)) if isinstance(sample_by, dict)
               else sample_of(name, sample_by))
        out.setdefault(key, []).append(i)
    return out


def check_sample_by(sample_by: Any) -> Any:
    """``sample_by`` as given when valid; UserError saying what is accepted otherwise."""
    if sample_by is None or isinstance(sample_by, dict) or sample_by in SAMPLE_KEYS:
        return sample_by
    raise UserError(f"--sample-by {sample_by!r}: use {', '.join(SAMPLE_KEYS)}, "
                    "column:NAME (a CSV), or a mapping from spectrum name to sample ID")


def read_sample_table(path: str | os.PathLike[str], column: str
                      ) -> tuple[list[Spectrum], dict[str, str]]:
    """Spectra of a CSV/TSV with one spectrum per row: the columns whose headers are numbers
    are the wavenumbers (cm-1), ``column`` names each row's sample; other columns are
    ignored. Returns the spectra (named ``path#row``) and spectrum name -> sample ID."""
    sep = "\t" if str(path).lower().endswith((".tsv", ".tab")) else None
    try:
        table = pd.read_csv(path, sep=sep, engine="python", dtype={column: str})
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: cannot read as a table ({exc})") from None
    if column not in table.columns:
        raise UserError(f"--sample-by column:{column}: {path} has no column {column!r} "
                        f"(columns: {', '.join(map(str, table.columns[:8]))} ...)")
    axis = {c: float(c) for c in table.columns if _is_number(c)}
    if len(axis) < 2:
        raise UserError(f"{path}: no wavenumber columns (headers that are numbers)")
    x = np.array(list(axis.values()))
    values = table[list(axis)].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    spectra, samples = [], {}
    for i, (sample, y) in enumerate(zip(table[column].fillna(""), values, strict=True), 1):
        name = f"{path}#{i}"
        spectra.append(Spectrum(x, y, {"source": name, "sample": sample}))
        samples[name] = str(sample)
    return spectra, samples


def _is_number(text: Any) -> bool:
    try:
        float(str(text))
    except ValueError:
        return False
    return True


def _refuse_one(spectra: Any) -> None:
    """TypeError for one spectrum or one path where a list of spectra belongs (iterating it
    would read characters, columns or values as spectra)."""
    if isinstance(spectra, str | bytes | os.PathLike):
        raise TypeError(f"spectra: expected a list of spectra or an (n, G) array, got one "
                        f"{type(spectra).__name__}; for files use predict_files([...])")
    if isinstance(spectra, Spectrum | tuple) or hasattr(spectra, "columns") \
            or hasattr(spectra, "spectral_axis"):
        raise TypeError(f"spectra: expected a list of spectra, got one "
                        f"{type(spectra).__name__}; wrap one spectrum: [spectrum]")


def _steps_and_laser(preprocess: str | None, laser_nm: float | None) -> tuple[list[Any],
                                                                              float | None]:
    """Preprocessing steps and laser wavelength, checked once before any file is read."""
    from rruffgeo.spectra.preprocess import parse_steps
    from rruffgeo.spectra.readers.units import check_laser

    return parse_steps(preprocess), check_laser(laser_nm, "--laser-nm")


class Model(ABC):
    """A model folder opened once: ``predict_files`` and ``predict_spectra`` share one loop.

    Subclasses set ``folder``, ``classes``, ``class_names``, ``grid_cm1`` and ``minmax`` and
    implement ``check_options`` and ``_predict``.
    """

    kind = "model"
    folder: Path
    classes: list[str]
    class_names: list[str]
    grid_cm1: np.ndarray
    minmax: bool = True

    def predict_files(self, paths: Sequence[str | os.PathLike[str]], *,
                      laser_nm: float | None = None, preprocess: str | None = "auto",
                      **options: Any) -> Predictions:
        """Predict every spectrum of files, folders (recursively) and zips; unreadable or
        unusable ones are listed in ``refused`` with their reasons. ``preprocess``: ``auto``
        (default: the rule the library and the network's inputs are built with), ``none`` or
        steps such as ``despike,baseline:arpls``."""
        paths = as_path_list(paths)
        steps, laser = _steps_and_laser(preprocess, laser_nm)
        options = self.check_options(**options)
        prepared = prepare_all(read_paths(paths, laser), self.grid_cm1, self.minmax, steps)
        return self._predict(prepared, **options)

    def predict_spectra(self, spectra: Any, *, preprocess: str | None = "auto",
                        **options: Any) -> Predictions:
        """Predict in-memory spectra: a list of Spectrum objects, (wavenumber, intensity)
        pairs, DataFrames or RamanSPy/ramanchada2 spectra (resampled here), or an (n, G)
        array already on the model's grid ``grid_cm1``."""
        options = self.check_options(**options)
        if isinstance(spectra, np.ndarray):
            rows = check_rows(spectra, len(self.grid_cm1), self.grid_cm1)
            names = [f"spectrum {i}" for i in range(1, len(rows) + 1)]
            return self._predict(Prepared(names, list(rows)), **options)
        _refuse_one(spectra)
        steps, _ = _steps_and_laser(preprocess, None)
        prepared = prepare_all(as_spectra(list(spectra)), self.grid_cm1, self.minmax, steps)
        return self._predict(prepared, **options)

    @abstractmethod
    def check_options(self, **options: Any) -> dict[str, Any]:
        """The options of this kind of model, checked before anything is read."""

    @abstractmethod
    def _predict(self, prepared: Prepared, **options: Any) -> Predictions:
        """Probabilities (and details) of the prepared spectra."""

    def _answer(self, prepared: Prepared, proba: np.ndarray,
                details: list[Any] | None = None) -> Predictions:
        return Predictions(prepared.names, proba, list(self.classes), list(self.class_names),
                           prepared.refused, prepared.warnings, details)


class NetworkModel(Model):
    """A network folder (``model.json`` + ``model.safetensors``): country probabilities."""

    kind = "network"

    def __init__(self, folder: str | os.PathLike[str], device: str = "cpu",
                 precision: str = "fp32") -> None:
        from rruffgeo.network.predict import Predictor

        self.folder = Path(folder)
        self.predictor = Predictor(self.folder, device=device, precision=precision)
        self.classes, self.class_names = self.predictor.classes, self.predictor.class_names
        self.grid_cm1 = self.predictor.grid_cm1
        self.minmax = bool(self.predictor.bundle.spectra.minmax)

    def check_options(self, **options: Any) -> dict[str, Any]:
        if options.get("sample_by") is None:
            options.pop("sample_by", None)
        if options:
            raise TypeError(f"a network model takes no option {', '.join(options)} (those are "
                            "for the provenance model, models/final)")
        return {}

    def _predict(self, prepared: Prepared, **options: Any) -> Predictions:
        rows = prepared.matrix(len(self.grid_cm1))
        proba = self.predictor.predict_proba(rows) if len(rows) \
            else np.zeros((0, len(self.classes)), np.float32)
        return self._answer(prepared, proba)


def _fold(text: str) -> str:
    """A species name without accents or case, to match 'Quártz' with 'quartz'."""
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", " ".join(str(text).split()).lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _whole(value: Any, option: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise UserError(f"{option} {value}: must be a whole number of at least {low}")
    return int(value)


class ProvenanceModel(Model):
    """The final provenance folder (``provenance.json`` + reference library): calibrated
    country probabilities, the conformal set, species matches and nearest specimens."""

    kind = "provenance"

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        from rruffgeo.provenance.final import ProvenancePredictor

        self.folder = Path(folder)
        self.predictor = ProvenancePredictor(self.folder)
        self.classes, self.class_names = self.predictor.classes, self.predictor.class_names
        self.grid_cm1 = self.predictor.grid_cm1
        self.minmax = bool(self.predictor.spec.get("minmax", True))

    @property
    def coverages(self) -> list[str]:
        return list(self.predictor.spec["models"]["spectrum"]["set_thresholds"])

    def match_mineral(self, name: str | None) -> str | None:
        """The library species ``name`` means (case and accents aside), ``auto``, or None;
        `UserError` with the closest species when it names none."""
        if not name or name == "auto":
            return name or None
        from difflib import get_close_matches

        from rruffgeo.provenance.library import species_key

        species = {_fold(s): s for s in self.predictor.library.meta["mineral"].unique()}
        found = species.get(_fold(name))
        if found is None:
            close = get_close_matches(_fold(name), list(species), n=3, cutoff=0.75)
            hint = f"; closest: {', '.join(species[c] for c in close)}" if close else ""
            raise UserError(f"--mineral {name!r}: not a species of the reference library "
                            f"({len(species)} species){hint}")
        if species_key(found) != species_key(name):
            warnings.warn(f"--mineral {terminal_safe(name)!r} taken as {found!r}", UserWarning,
                          stacklevel=3)
        return found

    def _say_unused_names(self, names: list[str], minerals: list[str]) -> None:
        """With ``--mineral auto``, warn where a file's name gives no mineral evidence, so that
        a misspelt ##NAMES is not silently ignored."""
        from rruffgeo.provenance.library import species_key

        known = {species_key(s) for s in self.predictor.library.meta["mineral"].unique()}
        for name, mineral in zip(names, minerals, strict=True):
            if species_key(mineral) not in known:
                warnings.warn(terminal_safe(_unused_name_note(name, mineral)), UserWarning,
                              stacklevel=4)

    def check_options(self, *, coverage: float | str = 0.9, species: int = 5,
                      neighbours: int = 10, mineral: str | None = None,
                      sample_by: Any = None) -> dict[str, Any]:
        """``coverage`` of the conformal set, ``species`` and ``neighbours`` listed,
        ``mineral`` (a species name or ``auto``: each RRUFF file's ##NAMES) as evidence, and
        ``sample_by`` (``file``, ``folder``, ``all`` or {spectrum name: sample ID}): one
        pooled answer per sample besides the per-spectrum ones (``Predictions.samples``)."""
        if str(coverage) not in self.coverages:
            raise UserError(f"--coverage {coverage}: the model has sets for "
                            f"{', '.join(self.coverages)} only")
        return {"coverage": float(coverage), "species": _whole(species, "--species", 1),
                "neighbours": _whole(neighbours, "--neighbours", 1),
                "mineral": self.match_mineral(mineral),
                "sample_by": check_sample_by(sample_by)}

    def _predict(self, prepared: Prepared, **options: Any) -> Predictions:
        rows = prepared.matrix(len(self.grid_cm1))
        if not len(rows):
            empty = self._answer(prepared, np.zeros((0, len(self.classes))), [])
            empty.samples = [] if options.get("sample_by") is not None else None
            return empty
        given = options["mineral"]
        minerals = [_mineral_of(sp, given) for sp in prepared.spectra] if prepared.spectra \
            else [given or ""] * len(rows)
        if given == "auto":
            self._say_unused_names(prepared.names, minerals)
        results, proba = self.predictor.predict_with_proba(
            rows, minerals, options["coverage"], options["species"], options["neighbours"])
        answer = self._answer(prepared, proba, results)
        if options.get("sample_by") is not None:
            answer.samples = self._pool(prepared.names, rows, minerals, options)
        return answer

    def _pool(self, names: list[str], rows: np.ndarray, minerals: list[str],
              options: dict[str, Any]) -> list[SampleAnswer]:
        """One pooled answer per sample (``options["sample_by"]``)."""
        out = []
        for sample, members in sample_groups(names, options["sample_by"]).items():
            result = self.predictor.predict_pooled(
                rows[members], [minerals[i] for i in members], options["coverage"],
                options["species"], options["neighbours"])
            out.append(SampleAnswer(sample, members, result))
        return out


def _unused_name_note(name: str, mineral: str) -> str:
    what = f"##NAMES {mineral!r} is not a species of the reference library" if mineral \
        else "no ##NAMES header"
    return f"{name}: --mineral auto: {what}; predicted from the spectrum alone"


def _mineral_of(spectrum: Spectrum, option: str | None) -> str:
    """The mineral evidence of one spectrum: the given name, or its file's ##NAMES (auto)."""
    if not option:
        return ""
    if option != "auto":
        return option
    return str(spectrum.metadata.get("names", "")).split(",")[0].strip()


def open_model(folder: str | os.PathLike[str], device: str = "cpu",
               precision: str = "fp32") -> NetworkModel | ProvenanceModel:
    """The model in ``folder``: a `ProvenanceModel` for ``models/final`` (provenance.json),
    a `NetworkModel` for a network folder (model.json). ``device`` and ``precision`` apply to
    a network. `UserError` naming the folder when it holds neither, or a damaged model."""
    if not isinstance(folder, str | os.PathLike):
        raise TypeError(f"folder: expected a str or Path, got {type(folder).__name__}")
    path = Path(folder)
    if not path.is_dir():
        raise UserError(f"{path}: no such model folder")
    if (path / "provenance.json").is_file():
        return ProvenanceModel(path)
    if (path / "model.json").is_file():
        return NetworkModel(path, device=device, precision=precision)
    raise UserError(f"{path}: not a model folder (no provenance.json or model.json); use "
                    "WORKDIR/models/final or WORKDIR/models/holdout_<split>")


__all__ = ["Model", "NetworkModel", "Predictions", "ProvenanceModel", "SampleAnswer",
           "open_model"]
