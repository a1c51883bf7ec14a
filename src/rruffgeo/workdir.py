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
``spectra/`` (spectra stage): the resampled matrix (``.npy``) and its row index.
``models/<name>/`` (model stage): weights (safetensors), classes, grid and settings.
``metrics/`` (model stage): ``{train,cv}_{spectrum,specimen}.json`` and ``*_per_country.csv``.
``tables/``, ``figures/``, ``report.html`` (report stage).
``run_settings.json`` and ``stamps/`` (``rruffgeo run``): the settings of the last run, and one
stamp per stage (its inputs' sizes and times plus its settings) so unchanged stages are skipped.
``cache/`` (data stage): per-unit parse results kept until the catalog is written (resume).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

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
FIGURES_DIR = "figures"
REPORT = "report.html"


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
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes the file owner-only; give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


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
    except (FileNotFoundError, ValueError):
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
