"""The resampled spectrum matrix: every catalog spectrum on one global grid, cached on disk.

``build_matrix`` reads ``catalog.parquet`` in batches of spectra (twice: to find the window,
then to resample), resamples every spectrum with the rules of :mod:`rruffgeo.spectra.resample`
and appends each batch to ``spectra/matrix.npy`` (float32, read back memory-mapped), so memory
does not grow with the catalog. It also writes ``spectra/index.parquet`` (row -> spectrum),
``spectra/grid.npy``, ``spectra/failures.csv`` (spectra that could not be resampled, with the
reason) and ``spectra/meta.json`` (the fingerprint of catalog + settings, written last). A later
call with the same catalog file and settings loads the cache instead of rebuilding.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rruffgeo.config import Settings, SpectraSettings, fingerprint, to_dict
from rruffgeo.spectra.integrity import mark_verified, matrix_problem
from rruffgeo.spectra.preprocess import library_ready
from rruffgeo.spectra.resample import clean_axis, make_grid, resample_many
from rruffgeo.spectra.window import GridWindow, global_window
from rruffgeo.workdir import (
    CATALOG,
    MATRIX,
    SPECTRA_DIR,
    WorkDir,
    atomic_path,
    file_key,
    read_json,
    write_csv_atomic,
    write_json_atomic,
    write_parquet_atomic,
)
from rruffgeo.workdir import MATRIX_FAILURES as FAILURES
from rruffgeo.workdir import MATRIX_GRID as GRID
from rruffgeo.workdir import MATRIX_INDEX as INDEX
from rruffgeo.workdir import MATRIX_META as META

log = logging.getLogger(__name__)

#: Bump when the resampling rules change, so old caches are rebuilt.
FORMAT_VERSION = 3  # 3: rows built with --preprocess auto's rule (library_ready)
#: Spectra per batch when reading the catalog and writing the matrix: one row group of the
#: catalog (``rruffgeo.data.catalog.ROW_GROUP_ROWS``), small enough to keep memory bounded
#: (docs/guide.md, "Why the defaults").
BATCH_ROWS = 1024


@dataclass
class SpectraMatrix:
    """Resampled spectra.

    Attributes
    ----------
    X : (n_spectra, grid_points) float32 array (memory-mapped when loaded from the cache).
    index : DataFrame with ``row``, ``spectrum_id``, ``specimen_id`` for each row of ``X``.
    grid_cm1 : the wavenumber grid (cm-1) shared by every row.
    failures : DataFrame ``spectrum_id, reason`` of spectra that could not be resampled.
    fingerprint : key of the catalog file and settings the matrix was built from.
    """

    X: np.ndarray
    index: pd.DataFrame
    grid_cm1: np.ndarray
    failures: pd.DataFrame
    fingerprint: str

    def rows_of(self, spectrum_ids: Sequence[str]) -> np.ndarray:
        """Row numbers of ``spectrum_ids`` in ``X`` (KeyError naming the first missing one)."""
        pos = pd.Series(self.index["row"].to_numpy(), index=self.index["spectrum_id"])
        missing = [s for s in spectrum_ids if s not in pos.index]
        if missing:
            raise KeyError(f"{len(missing)} spectra not in the matrix, e.g. {missing[0]!r}")
        return pos.loc[list(spectrum_ids)].to_numpy()


class MatrixRows:
    """Some rows of a (memory-mapped) matrix, read only when an array is asked for.

    Indexing with an array of positions or a slice gives another ``MatrixRows`` and reads
    nothing; ``np.asarray(view)`` (or ``view.read()``) reads its rows, in file order so that a
    memory map is read forward. Training and the baselines take their batches this way, so a
    fold never holds more than a batch of spectra besides the mapped matrix.
    """

    def __init__(self, source: np.ndarray, rows: np.ndarray | None = None) -> None:
        self.source = source
        self.rows = (np.arange(len(source), dtype=np.int64) if rows is None
                     else np.asarray(rows, dtype=np.int64))

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.rows), int(self.source.shape[1]))

    @property
    def dtype(self) -> np.dtype:
        return self.source.dtype

    ndim = 2

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: object) -> MatrixRows | np.ndarray:
        if isinstance(key, (int, np.integer)):
            return np.asarray(self.source[self.rows[key]])
        return MatrixRows(self.source, self.rows[key])  # type: ignore[index]

    def read(self, dtype: np.dtype | type | None = None) -> np.ndarray:
        """The rows as one in-memory array."""
        order = np.argsort(self.rows, kind="stable")
        out = np.empty(self.shape, dtype=dtype or self.source.dtype)
        out[order] = self.source[self.rows[order]]
        return out

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        return self.read(dtype)


def matrix_fingerprint(catalog: Path, settings: SpectraSettings) -> str:
    return fingerprint({"catalog": file_key(catalog), "version": FORMAT_VERSION}, settings)


def read_catalog_spectra(catalog: Path) -> tuple[pd.DataFrame, list[np.ndarray], list[np.ndarray]]:
    """IDs plus each spectrum's wavenumber and intensity arrays, all in memory at once.

    For small catalogs and tools; the matrix builder reads batches (``iter_catalog_spectra``).
    """
    parts = list(iter_catalog_spectra(catalog))
    if not parts:
        return pd.DataFrame(columns=["spectrum_id", "specimen_id"]), [], []
    ids = pd.concat([p.ids for p in parts], ignore_index=True)
    return ids, [x for p in parts for x in p.wavenumbers], [y for p in parts for y in p.intensities]


@dataclass
class CatalogBatch:
    """A run of consecutive catalog rows: IDs and each spectrum's two arrays."""

    ids: pd.DataFrame
    wavenumbers: list[np.ndarray]
    intensities: list[np.ndarray]


def iter_catalog_spectra(catalog: Path, batch_rows: int = BATCH_ROWS) -> Iterator[CatalogBatch]:
    """The catalog's spectra, ``batch_rows`` rows at a time, in file order.

    Only the four columns needed are read, batch by batch with a buffered stream (no
    pre-buffering of whole column chunks), so memory stays near one batch whatever the
    catalog's size; the list columns are flattened by Arrow, not by Python.
    """
    columns = ["spectrum_id", "specimen_id", "wavenumber_cm1", "intensity"]
    with pq.ParquetFile(catalog, buffer_size=1 << 20, pre_buffer=False) as pf:
        # One thread: parallel column decoding holds several row groups' buffers at once.
        for batch in pf.iter_batches(batch_size=batch_rows, columns=columns, use_threads=False):
            ids = pa.Table.from_batches([batch.select(columns[:2])]).to_pandas()
            arrays: list[list[np.ndarray]] = []
            for name in columns[2:]:
                col = batch.column(name)
                offsets = col.offsets.to_numpy()
                values = col.values.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
                arrays.append([values[offsets[i]:offsets[i + 1]] for i in range(len(col))])
            yield CatalogBatch(ids, arrays[0], arrays[1])


def _checked_axis(x: np.ndarray, y: np.ndarray
                  ) -> tuple[tuple[np.ndarray, np.ndarray] | None, str | None]:
    """The cleaned spectrum (``clean_axis``), or None and why it cannot be resampled."""
    if len(x) != len(y):
        return None, f"{len(x)} wavenumbers but {len(y)} intensities"
    cx, cy = clean_axis(x, y)
    if len(cx) < 4:
        return None, f"only {len(cx)} distinct finite points; need at least 4"
    return (cx, cy), None


@dataclass
class CatalogScan:
    """First pass over the catalog: which spectra can be resampled, and their ranges."""

    n_rows: int
    usable: np.ndarray  # bool per catalog row
    starts: np.ndarray  # first and last cleaned wavenumber of each usable spectrum
    ends: np.ndarray
    failures: list[tuple[str, str]]


def scan_catalog(catalog: Path, progress: bool = False) -> CatalogScan:
    """Check every spectrum and record its cleaned range, one batch in memory at a time."""
    from tqdm.auto import tqdm

    usable: list[bool] = []
    starts: list[float] = []
    ends: list[float] = []
    failures: list[tuple[str, str]] = []
    n_rows = pq.read_metadata(catalog).num_rows
    with tqdm(total=n_rows, desc="spectra: scan", unit="spectrum", disable=not progress) as bar:
        for part in iter_catalog_spectra(catalog):
            for sid, x, y in zip(part.ids["spectrum_id"], part.wavenumbers, part.intensities,
                                 strict=True):
                cleaned, reason = _checked_axis(x, y)
                usable.append(cleaned is not None)
                if cleaned is None:
                    failures.append((sid, str(reason)))
                    continue
                starts.append(float(cleaned[0][0]))
                ends.append(float(cleaned[0][-1]))
            bar.update(len(part.ids))
    return CatalogScan(len(usable), np.array(usable, dtype=bool), np.array(starts),
                       np.array(ends), failures)


def cached_grid(workdir: WorkDir, settings: Settings | SpectraSettings | None = None
                ) -> np.ndarray | None:
    """The matrix's grid when the matrix is built from the current catalog with ``settings``,
    else None (nothing is built)."""
    folder = workdir.spectra_dir
    meta = read_json(folder / META)
    if not isinstance(meta, dict) or not (folder / GRID).exists():
        return None
    catalog = workdir.catalog  # the work folder exists: the spectra folder is in it
    if not catalog.exists():
        return None
    if meta.get("fingerprint") != matrix_fingerprint(catalog, _spectra_settings(settings)):
        return None
    return np.load(folder / GRID)


def build_matrix(
    workdir: WorkDir, settings: Settings | SpectraSettings | None = None, force: bool = False,
    progress: bool = False,
) -> SpectraMatrix:
    """Resample the catalog onto the global grid, or load the cached matrix when still valid.

    Two passes over the catalog, each holding one batch of spectra: the first checks every
    spectrum and finds the global window, the second resamples ``BATCH_ROWS`` spectra at a
    time and appends them to ``matrix.npy`` (read back memory-mapped). Memory therefore does
    not grow with the catalog.

    Parameters
    ----------
    workdir : work folder holding ``catalog.parquet`` (from ``rruffgeo ingest``).
    settings : ``Settings`` or its ``spectra`` section (grid length, window, min-max).
    force : rebuild even when the cache matches.
    progress : show progress bars.

    Returns
    -------
    SpectraMatrix; spectra that cannot be resampled are left out and listed in ``failures``.
    """
    sp = _spectra_settings(settings)
    catalog = workdir.require(CATALOG, "ingest")
    key = matrix_fingerprint(catalog, sp)
    folder = workdir.dir(SPECTRA_DIR)
    if not force:
        cached = load_matrix(folder, expect=key, verify=True)
        if cached is not None:
            log.info("spectra: using cached matrix %s (%d x %d)", folder / MATRIX,
                     *cached.X.shape)
            return cached

    scan = scan_catalog(catalog, progress)
    if not scan.usable.any():
        raise ValueError(f"{catalog}: no spectrum can be resampled ({len(scan.failures)} "
                         "failures)")
    failures = list(scan.failures)
    window = _window_dropping_outliers(catalog, scan, failures, sp.window_cm1)
    grid = make_grid(window.start_cm1, window.stop_cm1, sp.grid_points)
    with atomic_path(folder / MATRIX) as tmp:
        index, sha256 = _write_rows(catalog, scan, grid, sp.minmax, tmp, failures, progress)
    with atomic_path(folder / GRID) as tmp, open(tmp, "wb") as fh:
        np.save(fh, grid)
    write_parquet_atomic(folder / INDEX, index)
    fail_df = pd.DataFrame(failures, columns=["spectrum_id", "reason"])
    write_csv_atomic(folder / FAILURES, fail_df)
    write_json_atomic(folder / META, {
        "fingerprint": key, "n_spectra": int(len(index)), "grid_points": int(len(grid)),
        "window_cm1": [float(grid[0]), float(grid[-1])], "n_failures": int(len(fail_df)),
        "settings": to_dict(sp), "catalog": file_key(catalog),
        "matrix_sha256": sha256,
    })
    mark_verified(folder / MATRIX, sha256)
    log.info("spectra: %d resampled onto %d points over %.1f-%.1f cm-1, %d failures",
             len(index), len(grid), grid[0], grid[-1], len(fail_df))
    matrix = load_matrix(folder, expect=key)
    if matrix is None:  # pragma: no cover - just written
        raise RuntimeError(f"{folder}: the matrix just written cannot be read back")
    return matrix


def _write_rows(catalog: Path, scan: CatalogScan, grid: np.ndarray, minmax: bool, path: Path,
                failures: list[tuple[str, str]], progress: bool) -> tuple[pd.DataFrame, str]:
    """Resample the usable spectra batch by batch into a new ``.npy`` at ``path``.

    Each batch is appended to the file as it is resampled (a plain sequential write, not a
    writable memory map, whose written pages would stay in this process's resident memory).
    Returns the index (row -> spectrum) and the SHA-256 of the rows written. Spectra that fail
    here (non-finite values) are appended to ``failures`` and leave no row.
    """
    from tqdm.auto import tqdm

    n_alloc = int(scan.usable.sum())
    digest = hashlib.sha256()
    kept: list[pd.DataFrame] = []
    n_rows = row = 0
    with open(path, "wb") as fh, tqdm(total=n_alloc, desc="spectra: resample",
                                      unit="spectrum", disable=not progress) as bar:
        fh.write(_npy_header(n_alloc, len(grid)))
        for part in iter_catalog_spectra(catalog):
            mask = scan.usable[n_rows:n_rows + len(part.ids)]
            n_rows += len(part.ids)
            ids = part.ids[mask].reset_index(drop=True)
            spectra = [library_ready(x, y, sid) for x, y, m, sid in
                       zip(part.wavenumbers, part.intensities, mask, part.ids["spectrum_id"],
                           strict=True) if m]
            if not spectra:
                continue
            values, errors = resample_many(spectra, grid, minmax=minmax)
            ok = np.array([e is None for e in errors])
            failures.extend((sid, str(e)) for sid, e in zip(ids["spectrum_id"], errors,
                                                            strict=True) if e is not None)
            data = np.ascontiguousarray(values[ok], dtype="<f4").tobytes()
            fh.write(data)
            digest.update(data)
            kept.append(ids[ok])
            row += int(ok.sum())
            bar.update(len(spectra))
    if row < n_alloc:
        _shrink_rows(path, row, len(grid))
    index = (pd.concat(kept, ignore_index=True) if kept
             else pd.DataFrame(columns=["spectrum_id", "specimen_id"]))
    index.insert(0, "row", np.arange(len(index), dtype=np.int64))
    return index, digest.hexdigest()


def _npy_header(n_rows: int, n_cols: int, size: int = 0) -> bytes:
    """The ``.npy`` (version 1.0) header of a C-order float32 (n_rows, n_cols) array, padded
    to a multiple of 64 bytes and to at least ``size`` bytes."""
    text = repr({"descr": "<f4", "fortran_order": False, "shape": (n_rows, n_cols)})
    total = max(size, -(-(10 + len(text) + 1) // 64) * 64)
    text = text.ljust(total - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")


def _shrink_rows(path: Path, n_rows: int, n_cols: int) -> None:
    """Make the ``.npy`` at ``path`` (written with more rows reserved) hold its first
    ``n_rows`` rows: the header is rewritten in place (same length) and the file cut."""
    with open(path, "r+b") as fh:
        np.lib.format.read_magic(fh)
        np.lib.format.read_array_header_1_0(fh)
        data_start = fh.tell()
        fh.seek(0)
        fh.write(_npy_header(n_rows, n_cols, size=data_start))
        fh.truncate(data_start + n_rows * n_cols * 4)


def _window_dropping_outliers(catalog: Path, scan: CatalogScan,
                              failures: list[tuple[str, str]],
                              configured: Sequence[float] | None) -> GridWindow:
    """The global window of the usable spectra; those it leaves out are marked unusable in
    ``scan`` and listed with the reason in ``failures`` (hence in ``failures.csv``)."""
    window = global_window(scan.starts, scan.ends, configured)
    outliers = window.outlier_rows()
    if outliers:
        catalog_rows = np.flatnonzero(scan.usable)
        ids = pq.read_table(catalog, columns=["spectrum_id"]).column("spectrum_id").to_pylist()
        for pos in outliers:
            failures.append((ids[catalog_rows[pos]], window.outliers[pos] or ""))
            scan.usable[catalog_rows[pos]] = False
        log.warning("spectra: %d spectra left out of the grid window (implausible Raman-shift "
                    "range), listed in %s", len(outliers), FAILURES)
    return window


def load_matrix(folder: Path, expect: str | None = None, verify: bool = False
                ) -> SpectraMatrix | None:
    """The cached matrix in ``folder`` (memory-mapped), or None when absent or stale.

    With ``verify``, also None (and a warning saying why) when ``matrix.npy`` no longer has the
    SHA-256 recorded in ``meta.json`` or holds NaN/inf (``rruffgeo.spectra.integrity``).
    """
    meta = read_json(folder / META)
    if not isinstance(meta, dict):
        return None
    if expect is not None and meta.get("fingerprint") != expect:
        return None
    if not all((folder / n).exists() for n in (MATRIX, INDEX, GRID)):
        return None
    X = np.load(folder / MATRIX, mmap_mode="r")
    index = pd.read_parquet(folder / INDEX)
    grid = np.load(folder / GRID)
    fail = (pd.read_csv(folder / FAILURES, keep_default_na=False) if (folder / FAILURES).exists()
            else pd.DataFrame(columns=["spectrum_id", "reason"]))
    if X.shape != (len(index), len(grid)):
        return None
    problem = matrix_problem(folder / MATRIX, X, meta.get("matrix_sha256")) if verify else None
    if problem is not None:
        log.warning("spectra: cached matrix not trusted, rebuilding it: %s", problem)
        return None
    return SpectraMatrix(X, index, grid, fail, meta["fingerprint"])


def _spectra_settings(settings: Settings | SpectraSettings | None) -> SpectraSettings:
    if settings is None:
        return SpectraSettings()
    if isinstance(settings, Settings):
        return settings.spectra
    return settings
