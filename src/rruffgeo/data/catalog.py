"""Ingestion: every RRUFF file of a source -> ``catalog.parquet`` + ``rejects.csv``.

Each unit of the source (a zip, or a folder's loose ``.txt`` files) is parsed in parallel worker
processes under a key made of its files' names, sizes and modification times and the parser
version. The catalog records each unit's key (Parquet metadata), so a second run re-parses only
the units that changed, takes the other rows from the catalog, and gives the identical catalog
(rows sorted by ``spectrum_id``); when nothing changed it leaves the catalog untouched. While a
run parses, each finished unit is cached in the work folder (``cache/ingest/``, Arrow IPC), so
an interrupted run resumes from the units it finished; the caches go once the catalog holds
them. Every file is written atomically: an interrupted run never leaves a corrupt output.

Columns: those listed in ``rruffgeo.workdir`` plus ``orientation_angle_deg`` (NaN when
unoriented), ``orientation_rotation`` ("ccw" / "cw" / ""), ``file_name_id`` (the RRUFF ID as
the file name writes it, e.g. ``R050016_b``) and ``file_id`` (the name's last field).
``orientation`` is "unoriented", "oriented" or "" (unknown); ``kind`` is "raw", "processed"
or "unknown".
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.context import BaseContext
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from rruffgeo.config import DATA_ENV, RRUFF_RAMAN_URL, IngestSettings
from rruffgeo.data import parse
from rruffgeo.data.parse import SCALAR_COLUMNS, ChunkResult
from rruffgeo.data.rruff_file import PARSER_VERSION
from rruffgeo.data.sources import Unit, is_url, local_units, zip_members
from rruffgeo.workdir import CATALOG, REJECTS, WorkDir, atomic_path, write_csv_atomic

log = logging.getLogger(__name__)

CACHE_DIR = ("cache", "ingest")
#: Files per worker task: small enough for a smooth progress bar and an even finish, large
#: enough to amortise each task's fixed costs (measured: 200 files take ~13% less CPU per file
#: than 100; 300 no less than 200).
CHUNK_FILES = 200
#: Below this many files, parse in this process (starting workers would cost more).
MIN_FILES_FOR_POOL = 400

#: Rows per Parquet row group of the catalog. Arrow reads a list column a whole row group at a
#: time, so this bounds the memory of every batch-wise reader (the matrix builder): 1,024
#: spectra of a few thousand points are ~30 MB, where one row group per file would be the
#: whole catalog (GBs at the official set's size).
ROW_GROUP_ROWS = 1024

_META_KEY = b"rruffgeo.ingest.key"
_META_REJECTS = b"rruffgeo.ingest.rejects"
_META_UNITS = b"rruffgeo.ingest.units"


@dataclass(frozen=True)
class IngestResult:
    """What ``ingest`` wrote and how it got there."""

    catalog_path: Path
    rejects_path: Path
    n_spectra: int
    n_rejects: int
    #: Units (zips / folders of loose files) parsed this run, and re-used from the cache.
    n_units_parsed: int
    n_units_cached: int
    source: str
    elapsed_s: float
    #: CPU seconds: this process plus the parser processes' work on their chunks.
    cpu_s: float = 0.0


def catalog_schema() -> pa.Schema:
    """The catalog's Arrow schema."""
    return parse.catalog_schema()


def resolve_source(source: str | os.PathLike[str] | None) -> str | Path:
    """``source`` > ``$RRUFFGEO_DATA`` > ``../shared/rruff`` (from the cwd) > the RRUFF URL."""
    if source is None or str(source) == "":
        env = os.environ.get(DATA_ENV)
        if env:
            source = env
        elif (Path.cwd().parent / "shared" / "rruff").is_dir():
            source = Path.cwd().parent / "shared" / "rruff"
        else:
            source = RRUFF_RAMAN_URL
    if is_url(source):
        return str(source)
    return Path(source).expanduser().resolve()


def source_units(source: str | Path, settings: IngestSettings, progress: bool) -> list[Unit]:
    """Units to read; a URL is first downloaded (zips of ``settings.categories``) to the cache."""
    if isinstance(source, str) and is_url(source):
        from rruffgeo.data.download import download_rruff_zips

        zips = download_rruff_zips(source, settings.categories, settings.cache_dir,
                                   progress=progress)
        return local_units_of_zips(zips)
    return local_units(Path(source), settings.categories)


def local_units_of_zips(zips: Sequence[Path]) -> list[Unit]:
    from rruffgeo.data.sources import zip_unit

    return [zip_unit(z) for z in zips]


def _cache_path(wd: WorkDir, unit: Unit) -> Path:
    import hashlib

    tag = hashlib.sha256(f"{unit.kind}:{unit.path}".encode()).hexdigest()[:12]
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in unit.path.name)[:60]
    return wd.dir(*CACHE_DIR) / f"{safe}-{tag}.arrow"


def _unit_key(unit: Unit) -> str:
    return f"{unit.key}:{PARSER_VERSION}:{unit.kind}"


def _read_cache(path: Path, key: str) -> tuple[pa.Table, list[tuple[str, str]]] | None:
    """The cached table of a unit when its key matches, else None (stale or unreadable)."""
    if not path.exists():
        return None
    try:
        with pa.memory_map(str(path)) as source:
            table = ipc.open_file(source).read_all()
    except (OSError, pa.ArrowException):
        return None
    meta = table.schema.metadata or {}
    if meta.get(_META_KEY, b"").decode() != key:
        return None
    if table.schema.remove_metadata() != catalog_schema():
        return None
    rejects = [tuple(r) for r in json.loads(meta.get(_META_REJECTS, b"[]"))]
    return table.replace_schema_metadata(None), rejects  # type: ignore[return-value]


def _catalog_units(path: Path) -> dict[str, dict]:
    """Units recorded in an existing catalog: ``{label: {"key": ..., "rejects": [...]}}``."""
    if not path.exists():
        return {}
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException):
        return {}
    raw = (schema.metadata or {}).get(_META_UNITS)
    if not raw or schema.remove_metadata() != catalog_schema():
        return {}
    return {k: {"key": v["key"], "rejects": [tuple(r) for r in v["rejects"]]}
            for k, v in json.loads(raw).items()}


def _write_cache(path: Path, key: str, table: pa.Table, rejects: list[tuple[str, str]]) -> None:
    meta = {_META_KEY: key.encode(), _META_REJECTS: json.dumps(rejects).encode()}
    table = table.replace_schema_metadata(meta)
    with atomic_path(path) as tmp, ipc.new_file(str(tmp), table.schema) as writer:
        writer.write_table(table)


def _batch_of(result: ChunkResult, schema: pa.Schema) -> pa.RecordBatch:
    """One chunk's rows as an Arrow batch (mapped from the worker's file when it wrote one)."""
    return parse.record_batch(result, schema)


def _table_of(results: Sequence[ChunkResult]) -> pa.Table:
    """Chunk results (in order) -> one Arrow table with the catalog schema."""
    schema = catalog_schema()
    return pa.Table.from_batches([_batch_of(r, schema) for r in results], schema=schema)


def _tasks(unit: Unit) -> tuple[list[tuple], list[tuple[str, str]], int]:
    """Worker tasks of one unit, rejects found while listing it, and its number of files."""
    if unit.kind == "zip":
        names, rejects = zip_members(unit.path)
        tasks = [("zip", str(unit.path), names[i:i + CHUNK_FILES], unit.category)
                 for i in range(0, len(names), CHUNK_FILES)]
        return tasks, rejects, len(names)
    files, cats = unit.files, unit.file_categories
    tasks = [("files", str(unit.path), files[i:i + CHUNK_FILES], cats[i:i + CHUNK_FILES])
             for i in range(0, len(files), CHUNK_FILES)]
    return tasks, [], len(files)


def _n_workers(settings: IngestSettings) -> int:
    if settings.workers > 0:
        return settings.workers
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _mp_context() -> BaseContext:
    """How to start parser processes: ``forkserver`` (plain ``fork`` is unsafe once NumPy's and
    Arrow's threads run), else ``spawn``.

    The server imports the main module, the parser and Arrow's CSV reader once, and each worker
    is forked from it with them loaded. Without ``__main__`` in that list every worker would
    run the main module's imports again (pandas, the CLI...) before its first file, which
    costs seconds on a loaded machine.
    """
    if "forkserver" in get_all_start_methods():
        ctx = get_context("forkserver")
        ctx.set_forkserver_preload(["__main__", "rruffgeo.data.parse", "pyarrow.csv"])
        return ctx
    return get_context("spawn")


def _spool_root(wd: WorkDir) -> Path:
    """Where workers write their rows: shared memory where there is some (no disk writeback,
    which a loaded disk turns into stalls), else the work folder's cache."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return wd.dir(*CACHE_DIR)


def _run_pool(futures: dict[Future, tuple[int, int]],
              flat: list[tuple[int, int, tuple]]) -> Iterator[tuple[int, int, ChunkResult]]:
    """Results ``(i, j, chunk)`` of the pool's tasks as they complete; meanwhile this process
    runs tasks too, taking them from the end of the queue (any a worker has not started yet).

    Workers take a while to start (seconds on a loaded machine) and this process would only
    wait for them: this way it parses from the first moment, and the workers and it meet in
    the middle. A task taken here is cancelled in the pool first, so it runs exactly once.
    """
    tasks = {(i, j): task for i, j, task in flat}
    pending = set(futures)
    order = list(futures)  # submission order: workers start at the front
    while pending:
        for fut in [f for f in pending if f.done()]:
            pending.discard(fut)
            i, j = futures[fut]
            yield i, j, fut.result()
        while order and (order[-1].done() or order[-1].running()):
            order.pop()
        if order and order[-1].cancel():
            fut = order.pop()
            pending.discard(fut)
            i, j = futures[fut]
            res = parse.run_task(tasks[(i, j)])
            res.cpu_s = 0.0  # already in this process's CPU time
            yield i, j, res
        elif pending:
            wait(pending, return_when=FIRST_COMPLETED)


def _parse_units(units: list[Unit], wd: WorkDir, settings: IngestSettings, progress: bool,
                 worker_cpu: list[float]) -> dict[int, tuple[pa.Table, list[tuple[str, str]]]]:
    """Parse the units (in parallel), caching each one as soon as it is complete.

    ``worker_cpu[0]`` is increased by the CPU seconds the parser processes spent.
    """
    from tqdm.auto import tqdm

    plan: dict[int, tuple[list[tuple], list[tuple[str, str]]]] = {}
    total = 0
    for i, unit in enumerate(units):
        tasks, rejects, n = _tasks(unit)
        plan[i] = (tasks, rejects)
        total += n
    done: dict[int, tuple[pa.Table, list[tuple[str, str]]]] = {}
    results: dict[int, list[ChunkResult | None]] = {
        i: [None] * len(t) for i, (t, _) in plan.items()}
    remaining = {i: len(t) for i, (t, _) in plan.items()}

    def finish(i: int) -> None:
        chunks = [r for r in results[i] if r is not None]
        if use_pool:
            worker_cpu[0] += sum(r.cpu_s for r in chunks)
        rejects = list(plan[i][1]) + [rj for r in chunks for rj in r.rejects]
        table = _table_of(chunks)
        if any(remaining.values()):
            # Only needed to resume an interrupted run: the last unit to finish goes straight
            # into the catalog.
            _write_cache(_cache_path(wd, units[i]), _unit_key(units[i]), table, rejects)
        done[i] = (table, rejects)
        results[i] = []

    flat = [(i, j, t) for i, (tasks, _) in plan.items() for j, t in enumerate(tasks)]
    workers = min(_n_workers(settings), len(flat))
    use_pool = workers > 1 and total >= MIN_FILES_FOR_POOL
    for i in plan:
        if remaining[i] == 0:
            finish(i)
    # With a pool, the progress bar (and its monitor thread) starts after the workers do.
    bar = tqdm(total=total, desc="ingest", unit="file", disable=not progress or use_pool)

    def record(i: int, j: int, result: object, n_files: int) -> None:
        """Keep a finished task's result; finish its unit once all of the unit's tasks are in."""
        results[i][j] = result
        bar.update(n_files)
        remaining[i] -= 1
        if remaining[i] == 0:
            finish(i)

    try:
        if not use_pool:
            for i, j, task in flat:
                record(i, j, parse.run_task(task), len(task[2]))
        else:
            # Workers write their rows here (see parse._spool); removed when all is read.
            with tempfile.TemporaryDirectory(prefix="rruffgeo-spool-", dir=_spool_root(wd),
                                             ignore_cleanup_errors=True) as spool:
                try:
                    with ProcessPoolExecutor(workers, mp_context=_mp_context()) as pool:
                        futures = {pool.submit(parse.run_task, task, spool): (i, j)
                                   for i, j, task in flat}
                        bar = tqdm(total=total, desc="ingest", unit="file",
                                   disable=not progress)
                        try:
                            for i, j, res in _run_pool(futures, flat):
                                record(i, j, res, res.n_files)
                        except BaseException:
                            for f in futures:
                                f.cancel()
                            raise
                except BrokenProcessPool as exc:
                    # Worker processes cannot start here (e.g. a script read from stdin): go
                    # on in this process with what is left.
                    log.warning("parser processes failed (%s); parsing in this process", exc)
                    for i, j, task in flat:
                        if results[i][j] is None and remaining[i] > 0:
                            record(i, j, parse.run_task(task), len(task[2]))
    finally:
        bar.close()
    return done


def _deduplicate_ids(table: pa.Table) -> pa.Table:
    """Make ``spectrum_id`` unique (sorted table): later duplicates get ``#2``, ``#3``..."""
    ids = table.column("spectrum_id").to_pylist()
    if len(set(ids)) == len(ids):
        return table
    defects = table.column("defects").to_pylist()
    seen: dict[str, int] = {}
    for k, sid in enumerate(ids):
        n = seen.get(sid, 0) + 1
        seen[sid] = n
        if n > 1:
            ids[k] = f"{sid}#{n}"
            note = f"duplicate spectrum_id {sid} (same category and member name in two sources)"
            defects[k] = f"{defects[k]}; {note}" if defects[k] else note
    table = table.set_column(table.schema.get_field_index("spectrum_id"), "spectrum_id",
                             pa.array(ids, pa.string()))
    return table.set_column(table.schema.get_field_index("defects"), "defects",
                            pa.array(defects, pa.string()))


def ingest(source: str | os.PathLike[str] | None = None, workdir: WorkDir | None = None,
           settings: IngestSettings | None = None, progress: bool = True) -> IngestResult:
    """Read every RRUFF spectrum of ``source`` into ``catalog.parquet`` and ``rejects.csv``.

    Parameters
    ----------
    source : folder (of ``.txt`` files and/or RRUFF zips), ``.zip``, ``.txt`` or the RRUFF URL;
        None resolves ``$RRUFFGEO_DATA``, then ``../shared/rruff``, then downloads.
    workdir : work folder (default ``./rruffgeo-work``).
    settings : categories (for URL sources and mirror folders), cache folder, workers.
    progress : show progress bars.

    Returns
    -------
    IngestResult
    """
    t0, c0 = time.perf_counter(), time.process_time()
    worker_cpu = [0.0]
    wd = workdir if workdir is not None else WorkDir()
    settings = settings or IngestSettings()
    src = resolve_source(source)
    units = source_units(src, settings, progress)
    keys = {u.label: _unit_key(u) for u in units}
    known = _catalog_units(wd.root / CATALOG)
    reused = [i for i, u in enumerate(units) if known.get(u.label, {}).get("key") == keys[u.label]]
    if len(reused) == len(units) == len(known) and (wd.root / REJECTS).exists():
        # Nothing changed since the catalog was written: keep it as it is.
        n_rejects = sum(len(known[u.label]["rejects"]) for u in units)
        return IngestResult(
            catalog_path=wd.catalog, rejects_path=wd.path(REJECTS),
            n_spectra=pq.read_metadata(wd.catalog).num_rows, n_rejects=n_rejects,
            n_units_parsed=0, n_units_cached=len(units), source=str(src),
            elapsed_s=time.perf_counter() - t0, cpu_s=time.process_time() - c0)
    tables: list[pa.Table] = []
    rejects_set: set[tuple[str, str]] = set()
    if reused:
        labels = [units[i].label for i in reused]
        try:
            old = pq.read_table(wd.root / CATALOG).replace_schema_metadata(None)
        except (OSError, pa.ArrowException) as exc:
            log.warning("%s is unreadable (%s); parsing everything again", wd.catalog, exc)
            reused = []
        else:
            tables.append(old.filter(pc.is_in(old.column("source"), value_set=pa.array(labels))))
            rejects_set.update(tuple(r) for lb in labels for r in known[lb]["rejects"])
    unit_rejects: dict[str, list[tuple[str, str]]] = {
        units[i].label: list(known[units[i].label]["rejects"]) for i in reused}
    todo: list[int] = []
    for i, unit in enumerate(units):
        if i in reused:
            continue
        cached = _read_cache(_cache_path(wd, unit), keys[unit.label])
        if cached is None:
            todo.append(i)
        else:
            tables.append(cached[0])
            unit_rejects[unit.label] = cached[1]
    if todo:
        parsed = _parse_units([units[i] for i in todo], wd, settings, progress, worker_cpu)
        for k, i in enumerate(todo):
            tables.append(parsed[k][0])
            unit_rejects[units[i].label] = parsed[k][1]
    for rj in unit_rejects.values():
        rejects_set.update(rj)
    table = pa.concat_tables(tables) if tables else catalog_schema().empty_table()
    order = pc.sort_indices(table, sort_keys=[("spectrum_id", "ascending"),
                                              ("source", "ascending")]).to_numpy()
    if not np.array_equal(order, np.arange(table.num_rows)):
        table = table.take(order)
    table = _deduplicate_ids(table)
    rejects = sorted(rejects_set)
    meta = {_META_UNITS: json.dumps(
        {u.label: {"key": keys[u.label], "rejects": unit_rejects[u.label]} for u in units},
        sort_keys=True).encode()}
    with atomic_path(wd.catalog) as tmp:
        # Spectra arrays barely compress (float64 noise); compressing only the text columns
        # halves the write time for a ~20% larger file.
        compression = {c: "none" if c in ("wavenumber_cm1", "intensity") else "snappy"
                       for c in table.column_names}
        pq.write_table(table.replace_schema_metadata(meta), tmp, compression=compression,
                       use_dictionary=["specimen_id", "mineral", "locality", "kind", "orientation",
                                       "orientation_rotation", "category", "source"],
                       write_statistics=list(SCALAR_COLUMNS), row_group_size=ROW_GROUP_ROWS)
    write_csv_atomic(wd.path(REJECTS), pd.DataFrame(rejects, columns=["file", "reason"]))
    # The catalog now holds every unit (and its key): the per-unit caches, which only serve to
    # resume an interrupted run, are no longer needed.
    for unit in units:
        _cache_path(wd, unit).unlink(missing_ok=True)
    result = IngestResult(
        catalog_path=wd.catalog, rejects_path=wd.path(REJECTS), n_spectra=table.num_rows,
        n_rejects=len(rejects), n_units_parsed=len(todo), n_units_cached=len(units) - len(todo),
        source=str(src), elapsed_s=time.perf_counter() - t0,
        cpu_s=time.process_time() - c0 + worker_cpu[0],
    )
    log.debug("ingest: %s", result)
    return result


def load_catalog(workdir: WorkDir | str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The catalog as a DataFrame (spectra columns hold float64 NumPy arrays)."""
    wd = workdir if isinstance(workdir, WorkDir) else WorkDir(workdir or WorkDir().root)
    return pd.read_parquet(wd.require("catalog.parquet", "ingest"))


def load_rejects(workdir: WorkDir | str | os.PathLike[str] | None = None) -> pd.DataFrame:
    wd = workdir if isinstance(workdir, WorkDir) else WorkDir(workdir or WorkDir().root)
    p = wd.require(REJECTS, "ingest")
    return pd.read_csv(p, keep_default_na=False, dtype=str)


def summary(workdir: WorkDir | str | os.PathLike[str] | None = None) -> dict:
    """Counts of the catalog: spectra, specimens, minerals, kinds, lasers, categories, rejects."""
    wd = workdir if isinstance(workdir, WorkDir) else WorkDir(workdir or WorkDir().root)
    cat = pd.read_parquet(wd.require("catalog.parquet", "ingest"),
                          columns=["specimen_id", "mineral", "kind", "laser_nm", "category",
                                   "defects", "encoding_repair"])
    rejects = load_rejects(wd)
    lasers = cat["laser_nm"].map(lambda v: "unknown" if pd.isna(v) else f"{v:g} nm")
    return {
        "spectra": int(len(cat)),
        "specimens": int(cat["specimen_id"].replace("", pd.NA).nunique()),
        "minerals": int(cat["mineral"].replace("", pd.NA).nunique()),
        "kinds": {str(k): int(v) for k, v in cat["kind"].value_counts().sort_index().items()},
        "lasers": {str(k): int(v) for k, v in lasers.value_counts().sort_index().items()},
        "categories": {str(k or "(none)"): int(v)
                       for k, v in cat["category"].value_counts().sort_index().items()},
        "with_defects": int((cat["defects"] != "").sum()),
        "encoding_repaired": int((cat["encoding_repair"] != "").sum()),
        "rejects": int(len(rejects)),
    }
