"""Where each stage reads and writes inside the work folder, and how it writes safely.

The work folder is the contract between stages: each stage reads the files of the stage before
and writes its own, so any stage can be re-run alone. Every write is atomic (temporary file in
the same folder, then ``os.replace``), so an interrupted run never leaves a half-written file that
a later run would take for a whole one.

Files and their columns
-----------------------
``catalog.parquet`` (data stage), one row per spectrum:
    spectrum_id (str, unique: "<category>/<member>"), specimen_id (str, base RRUFF ID such as
    "R040063", from ``##RRUFFID``), sample_id (str, full ID as in the header, e.g. "R040063-4"),
    mineral, locality, kind ("raw" | "processed"), laser_nm (float, NaN if unknown),
    orientation (str), category (str, e.g. "excellent_unoriented"), source (str, archive or
    folder read), member (str, file name inside it), n_points (int), wavenumber_min_cm1,
    wavenumber_max_cm1, wavenumber_step_median_cm1 (float), headers_json (str: every ``##KEY=value``
    header, unknown keys too), defects (str, "; "-joined, empty when none), encoding_repair (str,
    empty when the text was valid UTF-8), wavenumber_cm1 and intensity (list<float64>, sorted by
    wavenumber, values as read).
``rejects.csv`` (data stage): file, reason.
``geocoded.parquet`` (geo stage), one row per specimen_id:
    specimen_id, mineral, locality, locality_clean, synthetic (bool), extraterrestrial (bool:
    meteorite, lunar or Martian sample; absent in files of older versions), locality_missing
    (bool), excluded_reason (str, empty when kept), lat, lon (float, NaN when none), precision
    ("place" | "district" | "state" | "country" | ""), geocoder (str), country_name,
    country_iso3, country_iso2 (str, empty when none), country_note (str: disagreement between
    the text's country and the point's, empty when none).
``spectra/`` (spectra stage): the resampled matrix (``matrix.npy``), its row index
    (``index.parquet``), ``grid.npy``, ``failures.csv`` and ``meta.json``.
``models/holdout_<split>/`` and ``models/cv_<split>/fold_<k>/`` (model stage): weights
    (safetensors), classes, grid and settings (``model_dir``); ``checkpoint.pt`` while training,
    ``result.json`` once a fold is finished.
``metrics/`` (model stage): ``{train,cv}_<split>.json`` (``metrics_file``; "train" is the
    hold-out), ``*_per_country.csv`` and ``*_curves.json`` (per-epoch learning curves).
``metrics/provenance_cv_<split>.json`` (provenance stage, ``provenance_cv_file``): every
    provenance model's metrics, the winners and the goals; beside it ``_models.csv``,
    ``_oof.parquet``, ``_oof_proba.npz`` and ``_confusion.csv`` (``provenance_cv_part``); the
    finished outer folds under ``models/provenance_cv_<split>/`` (``provenance_cv_cache``), the
    figures ``figures/provenance_<kind>_<split>.{png,svg}`` (``provenance_figure``).
``models/final/`` (final-model stage, ``final_model_dir``): the provenance model users predict
    with; ``metrics/open_set.json`` (``open_set_file``) beside it: its novelty score's
    cross-fitted curve and the reference compounds flagged.
``tables/``, ``figures/``, ``report.html`` (report stage).
``run_settings.json`` and ``stamps/`` (``rruffgeo run``): the settings of the last run, and one
stamp per stage (its inputs' sizes and times plus its settings) so unchanged stages are skipped.
``cache/`` (data stage): per-unit parse results kept until the catalog is written (resume).

Every path is a method or constant here, so no stage spells another stage's file name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from rruffgeo.config import Evaluation, Settings, Split, from_dict, to_dict

DEFAULT_WORKDIR = Path("rruffgeo-work")

CATALOG = "catalog.parquet"
REJECTS = "rejects.csv"
GEOCODED = "geocoded.parquet"
GEOCODED_CSV = "geocoded.csv"
GEOCODED_GEOJSON = "geocoded.geojson"
SPECTRA_DIR = "spectra"
MODELS_DIR = "models"
METRICS_DIR = "metrics"
TABLES_DIR = "tables"
#: Every table of ``TABLES_DIR`` in one Markdown file.
TABLES_INDEX = "tables.md"
FIGURES_DIR = "figures"
REPORT = "report.html"
STAMPS_DIR = "stamps"
RUN_SETTINGS = "run_settings.json"
TWINS = "twins_spectrum.json"
RAW_TWINS = "raw_twins.json"
CROSS_INSTRUMENT = "cross_instrument.json"
OPEN_SET = "open_set.json"
#: Files of the spectra stage, under ``SPECTRA_DIR``.
MATRIX = "matrix.npy"
MATRIX_INDEX = "index.parquet"
MATRIX_GRID = "grid.npy"
MATRIX_FAILURES = "failures.csv"
MATRIX_META = "meta.json"
#: Files of a model folder.
CHECKPOINT = "checkpoint.pt"
FOLD_RESULT = "result.json"
#: Each test spectrum's row and predicted class (network and 1-NN) of a finished fold.
FOLD_PREDICTIONS = "test_predictions.npz"
MODEL_META = "model.json"
#: The figures whose files mark the dataset and the evaluation figures as drawn (their stems,
#: under ``FIGURES_DIR``, beside a .svg of the same stem).
FIG_COUNTRY_MAP = "fig1_country_map"
FIG_OVERALL_METRICS = "fig9_overall_metrics"
#: The provenance model users predict with, under ``MODELS_DIR``.
FINAL_DIR = "final"
#: Files beside ``metrics/provenance_cv_<split>.json``: part name -> suffix of the stem.
PROVENANCE_PARTS = {"models": "_models.csv", "oof": "_oof.parquet",
                    "oof_proba": "_oof_proba.npz", "confusion": "_confusion.csv"}


class WorkDir:
    """Paths of one work folder; creates sub-folders on demand."""

    def __init__(self, root: str | os.PathLike[str] = DEFAULT_WORKDIR) -> None:
        self.root = Path(root)

    def path(self, *parts: str) -> Path:
        """Path under the work folder; its parent folder is created."""
        p = self.root.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def dir(self, *parts: str) -> Path:
        """Sub-folder of the work folder, created."""
        p = self.root.joinpath(*parts)
        p.mkdir(parents=True, exist_ok=True)
        return p

    @property
    def catalog(self) -> Path:
        return self.path(CATALOG)

    @property
    def rejects(self) -> Path:
        return self.path(REJECTS)

    @property
    def geocoded(self) -> Path:
        return self.path(GEOCODED)

    # Paths below are pure (no folder is created): writers create what they write.

    @property
    def spectra_dir(self) -> Path:
        return self.root / SPECTRA_DIR

    @property
    def metrics_dir(self) -> Path:
        return self.root / METRICS_DIR

    @property
    def figures_dir(self) -> Path:
        return self.root / FIGURES_DIR

    def figure(self, stem: str, suffix: str = "") -> Path:
        """``figures/<stem>``: the base ``save_figure`` writes .png and .svg beside, or with
        ``suffix`` (".png") one of those files."""
        return self.figures_dir / f"{stem}{suffix}"

    @property
    def models_dir(self) -> Path:
        return self.root / MODELS_DIR

    def model_metas(self) -> list[Path]:
        """``models/<name>/model.json`` of every trained single model (the hold-outs), sorted."""
        return sorted(self.models_dir.glob(f"*/{MODEL_META}"))

    @property
    def tables_dir(self) -> Path:
        return self.root / TABLES_DIR

    @property
    def report(self) -> Path:
        return self.root / REPORT

    @property
    def run_settings(self) -> Path:
        return self.root / RUN_SETTINGS

    def save_run_settings(self, settings: Settings) -> None:
        """Record the settings of ``rruffgeo run``, so ``rruffgeo report`` describes that run."""
        write_json_atomic(self.run_settings, to_dict(settings))

    def load_run_settings(self) -> Settings | None:
        """The settings ``rruffgeo run`` recorded here; None when there are none or they no
        longer make valid settings."""
        doc = read_json(self.run_settings)
        if not isinstance(doc, dict):
            return None
        try:
            return from_dict(Settings, doc)
        except (ValueError, TypeError, KeyError):
            return None

    def stamp(self, stage: str) -> Path:
        """``stamps/<stage>.json``: what the stage last ran on, for skipping it when unchanged."""
        return self.root / STAMPS_DIR / f"{stage}.json"

    def metrics_file(self, evaluation: Evaluation | str, split: Split | str) -> Path:
        """``metrics/<train|cv>_<split>.json`` of one evaluation and split protocol."""
        return self.metrics_dir / f"{Evaluation.of(evaluation).file_stem}_{Split(split)}.json"

    def per_country_file(self, evaluation: Evaluation | str, split: Split | str) -> Path:
        return per_country_of(self.metrics_file(evaluation, split))

    def curves_file(self, evaluation: Evaluation | str, split: Split | str) -> Path:
        """``metrics/curves_<train|cv>_<split>.csv``: per-epoch curves of every fold."""
        return curves_of(self.metrics_file(evaluation, split))

    def model_dir(self, evaluation: Evaluation | str, split: Split | str,
                  fold: int | None = None) -> Path:
        """``models/holdout_<split>`` (one model) or ``models/cv_<split>/fold_<k>``."""
        evaluation, split = Evaluation.of(evaluation), Split(split)
        folder = self.models_dir / f"{evaluation.value}_{split}"
        return folder if evaluation is Evaluation.HOLDOUT else folder / f"fold_{fold or 0}"

    @property
    def twins_file(self) -> Path:
        """``metrics/twins_spectrum.json``: accuracy split by spectrum by relation in training."""
        return self.metrics_dir / TWINS

    @property
    def raw_twins_file(self) -> Path:
        """``metrics/raw_twins.json``: raw spectra matched beside their processed twins."""
        return self.metrics_dir / RAW_TWINS

    @property
    def cross_instrument_file(self) -> Path:
        """``metrics/cross_instrument.json``: matching within and across the instruments."""
        return self.metrics_dir / CROSS_INSTRUMENT

    @property
    def open_set_file(self) -> Path:
        """``metrics/open_set.json``: how well the final model's novelty score tells species
        not in the library (``provenance-fit``)."""
        return self.metrics_dir / OPEN_SET

    def provenance_cv_file(self, split: Split | str) -> Path:
        """``metrics/provenance_cv_<split>.json``: the provenance models' CV report."""
        return self.metrics_dir / f"provenance_cv_{Split(split)}.json"

    def provenance_cv_part(self, split: Split | str, part: str) -> Path:
        """A table beside the provenance CV report; ``part`` is a key of ``PROVENANCE_PARTS``
        (models, oof, oof_proba, confusion)."""
        if part not in PROVENANCE_PARTS:
            raise ValueError(f"unknown provenance output {part!r}; one of "
                             f"{', '.join(PROVENANCE_PARTS)}")
        return _with_suffix(self.provenance_cv_file(split), PROVENANCE_PARTS[part])

    def provenance_cv_cache(self, split: Split | str) -> Path:
        """``models/provenance_cv_<split>/``: finished outer folds, so a run resumes."""
        return self.models_dir / f"provenance_cv_{Split(split)}"

    def provenance_figure(self, kind: str, split: Split | str, suffix: str = "") -> Path:
        """``figures/provenance_<kind>_<split>``: without ``suffix`` the base that
        ``save_figure`` writes .png and .svg beside; with it (".png") one of those files.
        The kinds are the ``provenance`` figures of ``rruffgeo.report.registry``."""
        return self.figures_dir / f"provenance_{kind}_{Split(split)}{suffix}"

    @property
    def final_model_dir(self) -> Path:
        """``models/final``: the provenance model refitted on all data, for ``predict``."""
        return self.models_dir / FINAL_DIR

    def require(self, name: str, stage: str) -> Path:
        """Path of an input file that an earlier stage must have written, or a clear error."""
        p = self.root / name
        if not p.exists():
            raise FileNotFoundError(
                f"{p} not found: run `rruffgeo {stage} --workdir {self.root}` first"
            )
        return p

    def __repr__(self) -> str:
        return f"WorkDir({str(self.root)!r})"


@contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success move it over ``target`` atomically."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The temporary name stays short, so a target whose name is near the 255-byte limit
    # still gets one; it keeps the start of the target's name to say what it is.
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:40]}.", suffix=".tmp",
                               dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    _PENDING.add(tmp_path)
    _remove_pending_on_sigterm()
    try:
        yield tmp_path
        # mkstemp makes the file owner-only; give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, target)
    finally:
        _PENDING.discard(tmp_path)
        if tmp_path.exists():
            tmp_path.unlink()


#: Temporary files of writes under way; removed if the process is terminated (SIGTERM),
#: which ends it without running ``finally`` blocks.
_PENDING: set[Path] = set()


def _remove_pending_on_sigterm() -> None:
    """Once per process, from the main thread and only where SIGTERM has its default action:
    remove the pending temporary files, then terminate as SIGTERM would have."""
    if getattr(_remove_pending_on_sigterm, "done", False) \
            or threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def on_sigterm(signum: int, frame: object) -> None:
        for path in list(_PENDING):
            with contextlib.suppress(OSError):
                path.unlink()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
    _remove_pending_on_sigterm.done = True  # type: ignore[attr-defined]


def _with_suffix(path: Path, suffix: str) -> Path:
    return path.with_name(path.stem + suffix)


def per_country_of(metrics_file: Path) -> Path:
    """The per-country table beside a metrics file: ``<stem>_per_country.csv``."""
    return _with_suffix(Path(metrics_file), "_per_country.csv")


def curves_of(metrics_file: Path) -> Path:
    """The learning-curves CSV beside a metrics file (``curves_<stem>.csv``)."""
    return metrics_file.with_name(f"curves_{metrics_file.stem}.csv")


def file_key(path: str | os.PathLike[str], name: str | None = None) -> dict[str, Any]:
    """Identity of a file for cache keys: its name (``name`` or the file's own), size and
    modification time. Cheap (one stat), and any rewrite changes it."""
    st = os.stat(path)
    return {"name": Path(path).name if name is None else name, "size": st.st_size,
            "mtime_ns": st.st_mtime_ns}


def files_digest(keys: Iterable[dict[str, Any]], length: int = 20) -> str:
    """Hash of several ``file_key`` values, in order."""
    h = hashlib.sha256()
    for k in keys:
        h.update(f"{k['name']}\0{k['size']}\0{k['mtime_ns']}\n".encode())
    return h.hexdigest()[:length]


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: str | os.PathLike[str], text: str) -> None:
    write_bytes_atomic(target, text.encode("utf-8"))


def write_json_atomic(target: str | os.PathLike[str], obj: Any) -> None:
    write_text_atomic(target, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any | None:
    """The JSON document at ``path``; None when it is missing or not valid JSON (a cache or
    stamp written by an older or interrupted run is treated as absent, not as an error)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None


def write_parquet_atomic(target: str | os.PathLike[str], df: pd.DataFrame) -> None:
    with atomic_path(target) as tmp:
        df.to_parquet(tmp, index=False)


def write_csv_atomic(target: str | os.PathLike[str], df: pd.DataFrame) -> None:
    with atomic_path(target) as tmp:
        df.to_csv(tmp, index=False)


#: First characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells cannot run as spreadsheet formulas: a cell that starts like a
    formula (``=cmd|' /C calc'!A0``) gets a leading ``'``, as OWASP recommends for CSV meant for
    spreadsheets. Numbers are left alone; the parquet files keep the text as read."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype != object and not pd.api.types.is_string_dtype(out[col]):
            continue
        out[col] = out[col].map(
            lambda v: "'" + v if isinstance(v, str) and v.startswith(FORMULA_START) else v)
    return out
