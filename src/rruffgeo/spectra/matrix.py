"""The resampled spectrum matrix: every catalog spectrum on one global grid, cached on disk.

``build_matrix`` reads ``catalog.parquet`` once (the list columns are flattened by Arrow, not by
Python), resamples every spectrum with the rules of :mod:`rruffgeo.spectra.resample` and writes
``spectra/matrix.npy`` (float32, memory-mappable), ``spectra/index.parquet`` (row -> spectrum),
``spectra/grid.npy``, ``spectra/failures.csv`` (spectra that could not be resampled, with the
reason) and ``spectra/meta.json`` (the fingerprint of catalog + settings, written last). A later
call with the same catalog file and settings loads the cache instead of rebuilding.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from rruffgeo.config import Settings, SpectraSettings, fingerprint, to_dict
from rruffgeo.spectra.integrity import mark_verified, matrix_problem
from rruffgeo.spectra.resample import clean_axis, make_grid, resample_many
from rruffgeo.spectra.window import GridWindow, global_window
from rruffgeo.workdir import (
    CATALOG,
    SPECTRA_DIR,
    WorkDir,
    atomic_path,
    read_json,
    write_csv_atomic,
    write_json_atomic,
    write_parquet_atomic,
)

log = logging.getLogger(__name__)

MATRIX = "matrix.npy"
INDEX = "index.parquet"
GRID = "grid.npy"
FAILURES = "failures.csv"
META = "meta.json"
#: Bump when the resampling rules change, so old caches are rebuilt.
FORMAT_VERSION = 2


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


def catalog_key(path: Path) -> dict[str, int | str]:
    """Identity of a catalog file for the cache key: name, size and modification time."""
    st = path.stat()
    return {"name": path.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def matrix_fingerprint(catalog: Path, settings: SpectraSettings) -> str:
    return fingerprint({"catalog": catalog_key(catalog), "version": FORMAT_VERSION}, settings)


def read_catalog_spectra(catalog: Path) -> tuple[pd.DataFrame, list[np.ndarray], list[np.ndarray]]:
    """IDs plus each spectrum's wavenumber and intensity arrays (views into two flat arrays)."""
    table = pq.read_table(
        catalog, columns=["spectrum_id", "specimen_id", "wavenumber_cm1", "intensity"]
    )
    ids = table.select(["spectrum_id", "specimen_id"]).to_pandas()
    out: list[list[np.ndarray]] = []
    for name in ("wavenumber_cm1", "intensity"):
        col = table.column(name).combine_chunks()
        offsets = col.offsets.to_numpy()
        values = col.values.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        out.append([values[offsets[i]:offsets[i + 1]] for i in range(len(col))])
    return ids, out[0], out[1]


def build_matrix(
    workdir: WorkDir, settings: Settings | SpectraSettings | None = None, force: bool = False
) -> SpectraMatrix:
    """Resample the catalog onto the global grid, or load the cached matrix when still valid.

    Parameters
    ----------
    workdir : work folder holding ``catalog.parquet`` (from ``rruffgeo ingest``).
    settings : ``Settings`` or its ``spectra`` section (grid length, window, min-max).
    force : rebuild even when the cache matches.

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

    ids, wns, ints = read_catalog_spectra(catalog)
    cleaned: list[tuple[np.ndarray, np.ndarray] | None] = []
    failures: list[tuple[str, str]] = []
    for sid, x, y in zip(ids["spectrum_id"], wns, ints, strict=True):
        if len(x) != len(y):
            failures.append((sid, f"{len(x)} wavenumbers but {len(y)} intensities"))
            cleaned.append(None)
            continue
        cx, cy = clean_axis(x, y)
        if len(cx) < 4:
            failures.append((sid, f"only {len(cx)} distinct finite points; need at least 4"))
            cleaned.append(None)
            continue
        cleaned.append((cx, cy))
    if not any(c is not None for c in cleaned):
        raise ValueError(f"{catalog}: no spectrum can be resampled ({len(failures)} failures)")
    window = _window_dropping_outliers(ids["spectrum_id"].tolist(), cleaned, failures,
                                       sp.window_cm1)
    usable = [c for c in cleaned if c is not None]
    grid = make_grid(window.start_cm1, window.stop_cm1, sp.grid_points)

    X, errors = resample_many(usable, grid, minmax=sp.minmax)
    keep_mask = np.array([c is not None for c in cleaned])
    kept_ids = ids[keep_mask].reset_index(drop=True)
    ok = np.array([e is None for e in errors])
    for sid, err in zip(kept_ids["spectrum_id"], errors, strict=True):
        if err is not None:
            failures.append((sid, err))
    X = X[ok]
    index = kept_ids[ok].reset_index(drop=True)
    index.insert(0, "row", np.arange(len(index), dtype=np.int64))
    fail_df = pd.DataFrame(failures, columns=["spectrum_id", "reason"])

    sha256 = hashlib.sha256(np.ascontiguousarray(X).tobytes()).hexdigest()
    with atomic_path(folder / MATRIX) as tmp, open(tmp, "wb") as fh:
        np.save(fh, X)
    with atomic_path(folder / GRID) as tmp, open(tmp, "wb") as fh:
        np.save(fh, grid)
    write_parquet_atomic(folder / INDEX, index)
    write_csv_atomic(folder / FAILURES, fail_df)
    write_json_atomic(folder / META, {
        "fingerprint": key, "n_spectra": int(len(index)), "grid_points": int(len(grid)),
        "window_cm1": [float(grid[0]), float(grid[-1])], "n_failures": int(len(fail_df)),
        "settings": to_dict(sp), "catalog": catalog_key(catalog),
        "matrix_sha256": sha256,
    })
    mark_verified(folder / MATRIX, sha256)
    log.info("spectra: %d resampled onto %d points over %.1f-%.1f cm-1, %d failures",
             len(index), len(grid), grid[0], grid[-1], len(fail_df))
    return load_matrix(folder, expect=key) or SpectraMatrix(X, index, grid, fail_df, key)


def _window_dropping_outliers(spectrum_ids: list[str],
                              cleaned: list[tuple[np.ndarray, np.ndarray] | None],
                              failures: list[tuple[str, str]],
                              configured: Sequence[float] | None) -> GridWindow:
    """The global window of the cleaned spectra; those it leaves out are set to None in
    ``cleaned`` and listed with the reason in ``failures`` (hence in ``failures.csv``)."""
    rows = [i for i, c in enumerate(cleaned) if c is not None]
    axes = [cleaned[i][0] for i in rows]  # type: ignore[index]
    window = global_window([x[0] for x in axes], [x[-1] for x in axes], configured)
    for pos in window.outlier_rows():
        failures.append((spectrum_ids[rows[pos]], window.outliers[pos] or ""))
        cleaned[rows[pos]] = None
    if window.outlier_rows():
        log.warning("spectra: %d spectra left out of the grid window (implausible Raman-shift "
                    "range), listed in %s", len(window.outlier_rows()), FAILURES)
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
