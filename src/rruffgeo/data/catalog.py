"""Ingestion: every RRUFF file of a source -> ``catalog.parquet`` + ``rejects.csv``.

Each unit of the source (a zip, or a folder's loose ``.txt`` files) is parsed in parallel worker
processes under a key made of its files' names, sizes and modification times and the parser
version. The catalog records each unit's key (Parquet metadata), so a second run re-parses only
the units that changed, takes the other rows from the catalog, and gives the identical catalog
(rows sorted by ``spectrum_id``); when nothing changed it leaves the catalog untouched. When
every unit is parsed, the catalog is streamed to disk while parsing goes on, holding only the
rows not yet written (``catalog_write``); otherwise it is sorted and written in memory. While a
run parses, each finished unit is cached in the work folder (``cache/ingest/``, Arrow IPC), so
an interrupted run resumes from the units it finished; the caches go once the catalog holds
them. Every file is written atomically: an interrupted run never leaves a corrupt output.

Columns: those listed in ``rruffgeo.workdir`` plus ``laser_line_nm`` (the laser's emission
line: 514 and 514.5 nm are both 514.5, see ``rruffgeo.data.lasers``; ``laser_nm`` stays as
written), ``orientation_angle_deg`` (NaN when unoriented), ``orientation_rotation`` ("ccw" /
"cw" / ""), ``polarization`` ("depolarized" for 2019 names that say so, else ""),
``file_name_id`` (the RRUFF ID as the file name writes it, e.g. ``R050016_b``), ``file_id``
(the name's last field), ``technique`` (the name's technique field: ``Raman``, or ``Broad_Scan``
for the low-resolution instrument of ``LR-Raman``; "" where the name does not say) and
``is_reference_compound`` (an ``XD`` RRUFF ID: a pharmaceutical reference compound, not a
mineral; see ``naming.is_reference_compound_id``). ``category`` is the source set: the zip's
name, or the RRUFF category a folder is named after. Stages that read the catalog take these
through ``rruffgeo.data.columns``, which derives them for catalogs of older versions.

A source of which no file can be read fails (``NoSpectraError``) and leaves the catalog as it
was. Folders, zips and files that cannot be read are rejects, each with its reason.
``orientation`` is "unoriented", "oriented" or "" (unknown); ``kind`` is "raw", "processed"
or "unknown".
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.context import BaseContext
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rruffgeo.config import DATA_ENV, RRUFF_RAMAN_URL, IngestSettings
from rruffgeo.data import parse
from rruffgeo.data.catalog_write import CatalogStream, UnitCache, read_unit_cache, write_table
from rruffgeo.data.lasers import laser_line_nm
from rruffgeo.data.parse import ChunkResult
from rruffgeo.data.rruff_file import PARSER_VERSION
from rruffgeo.data.sources import Unit, is_url, local_units, zip_members
from rruffgeo.parallel import usable_cores
from rruffgeo.workdir import CATALOG, REJECTS, WorkDir, atomic_path, write_csv_atomic

log = logging.getLogger(__name__)

CACHE_DIR = ("cache", "ingest")
#: Files per worker task: small enough for a smooth progress bar and an even finish, large
#: enough to amortise each task's fixed costs (measured: 200 files take ~13% less CPU per file
#: than 100; 300 no less than 200).
CHUNK_FILES = 200
#: Below this many files, parse in this process (starting workers would cost more).
MIN_FILES_FOR_POOL = 400

#: Spool folders are named ``rruffgeo-spool-<pid>-<random>`` so that a later run can tell
#: those of killed runs; unnamed ones (older versions) are stale once untouched this long.
SPOOL_PREFIX = "rruffgeo-spool-"
LEGACY_SPOOL_STALE_S = 3600.0

#: Rows per Parquet row group of the catalog. Arrow reads a list column a whole row group at a
#: time, so this bounds the memory of every batch-wise reader (the matrix builder): 1,024
#: spectra of a few thousand points are ~30 MB, where one row group per file would be the
#: whole catalog (GBs at the official set's size).
ROW_GROUP_ROWS = 1024

_META_UNITS = b"rruffgeo.ingest.units"

#: Bumped whenever the catalog's columns or the rules that fill them change: part of every
#: unit's key, so a catalog or resume cache of an earlier version is parsed again (a changed
#: schema alone would be caught by the schema check; a changed rule would not).
CATALOG_VERSION = "2"

#: Stream the catalog while parsing when every unit is parsed (see ``catalog_write``); off,
#: every catalog is sorted and written in memory at the end (the tests compare the two).
STREAM_CATALOG = True


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
    """``source`` > ``$RRUFFGEO_DATA`` > the RRUFF URL (the command line adds its own default
    folder before these: ``cli.common.data_of``)."""
    if source is None or str(source) == "":
        source = os.environ.get(DATA_ENV) or RRUFF_RAMAN_URL
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
    return f"{unit.key}:{PARSER_VERSION}:{CATALOG_VERSION}:{unit.kind}"


def _read_cache(path: Path, key: str) -> tuple[pa.Table, Rejects] | None:
    """The cached table of a unit when its key matches, else None (stale or unreadable)."""
    if not path.exists():
        return None
    return read_unit_cache(path, key, catalog_schema())


def _catalog_units(path: Path) -> dict[str, dict]:
    """Units recorded in an existing catalog: ``{label: {"key": ..., "rejects": [...]}}``."""
    if not path.exists():
        return {}
    try:
        schema = pq.read_schema(path)
        # The file's key-value metadata (a streamed catalog adds it at the end, where the
        # Arrow schema stored in the file, written first, cannot hold it).
        raw = (pq.read_metadata(path).metadata or {}).get(_META_UNITS)
    except (OSError, pa.ArrowException):
        return {}
    if not raw or schema.remove_metadata() != catalog_schema():
        return {}
    return {k: {"key": v["key"], "rejects": [tuple(r) for r in v["rejects"]]}
            for k, v in json.loads(raw).items()}


def _write_cache(path: Path, key: str, table: pa.Table, rejects: Rejects) -> None:
    """A finished unit's resume cache, when it was not streamed (see ``UnitCache``)."""
    cache = UnitCache(path, key, catalog_schema())
    try:
        for batch in table.to_batches():
            cache.write(batch)
    except BaseException:
        cache.abort()
        raise
    cache.close(rejects)


def _batch_of(result: ChunkResult, schema: pa.Schema) -> pa.RecordBatch:
    """One chunk's rows as an Arrow batch (mapped from the worker's file when it wrote one).

    The worker's file is removed at once: the mapping keeps its pages until the batch is
    dropped, so the spool (in shared memory) holds only the rows not yet written.
    """
    batch = parse.record_batch(result, schema)
    if result.spool_path:
        with contextlib.suppress(OSError):
            os.unlink(result.spool_path)
        result.spool_path = ""
    return batch


def _table_of(results: Sequence[ChunkResult]) -> pa.Table:
    """Chunk results (in order) -> one Arrow table with the catalog schema."""
    schema = catalog_schema()
    return pa.Table.from_batches([_batch_of(r, schema) for r in results], schema=schema)


def _chunks(sizes: Sequence[int], max_bytes: int) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges of at most ``CHUNK_FILES`` files and ``max_bytes`` of text
    (a worker's rows are bounded too, not only what it reads at once)."""
    ranges: list[tuple[int, int]] = []
    start, total = 0, 0
    for k, size in enumerate(sizes):
        if k > start and (k - start >= CHUNK_FILES or total + size > max_bytes):
            ranges.append((start, k))
            start, total = k, 0
        total += size
    if start < len(sizes):
        ranges.append((start, len(sizes)))
    return ranges


def _tasks(unit: Unit, max_bytes: int) -> tuple[list[tuple], list[tuple[str, str]], int]:
    """Worker tasks of one unit, rejects found while listing it, and its number of files."""
    if unit.kind == "zip":
        members, rejects = zip_members(unit.path, max_bytes)
        tasks = [("zip", str(unit.path), members[a:b], unit.category, max_bytes)
                 for a, b in _chunks([m.size for m in members], max_bytes)]
        return tasks, rejects, len(members)
    rejects = list(unit.rejects)
    keep = []
    for k, size in enumerate(unit.file_sizes):
        if size > max_bytes:
            rejects.append((str(unit.path / unit.files[k]),
                            f"file too large ({size} bytes; the limit is {max_bytes} bytes, "
                            "set by the worker memory limit)"))
        else:
            keep.append(k)
    files = [unit.files[k] for k in keep]
    cats = [unit.file_categories[k] for k in keep]
    tasks = [("files", str(unit.path), files[a:b], cats[a:b], max_bytes)
             for a, b in _chunks([unit.file_sizes[k] for k in keep], max_bytes)]
    return tasks, rejects, len(files)


def _n_workers(settings: IngestSettings) -> int:
    return settings.workers if settings.workers > 0 else usable_cores()


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
        _start_forkserver_here()
        return ctx
    return get_context("spawn")


def _start_forkserver_here() -> None:
    """Start the forkserver so that it imports this copy of rruffgeo.

    Python 3.11's forkserver ignores the parent's ``sys.path`` when it preloads modules, so
    where another copy is installed (a source checkout beside an installed package) workers
    would run the other copy's parser. The server is started with this copy's folder first on
    ``PYTHONPATH`` (only for its start: the environment is restored at once).
    """
    from multiprocessing import forkserver

    import rruffgeo

    root = str(Path(rruffgeo.__file__).resolve().parents[1])
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [before])])
    try:
        forkserver.ensure_running()
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


def _spool_root(wd: WorkDir) -> Path:
    """Where workers write their rows: shared memory where there is some (no disk writeback,
    which a loaded disk turns into stalls), else the work folder's cache."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return wd.dir(*CACHE_DIR)


def _spool_owner(name: str) -> int | None:
    """The process id in a spool folder's name (``rruffgeo-spool-<pid>-<random>``); None for
    names without one (spools of versions before the id was added)."""
    m = re.fullmatch(re.escape(SPOOL_PREFIX) + r"(\d+)-.*", name)
    return int(m.group(1)) if m else None


def remove_stale_spools(root: Path) -> list[Path]:
    """Remove spool folders under ``root`` left by an ingest that was killed (its process is
    gone; unnamed ones untouched for ``LEGACY_SPOOL_STALE_S``); returns those removed."""
    removed = []
    for path in sorted(root.glob(SPOOL_PREFIX + "*")):
        pid = _spool_owner(path.name)
        try:
            stale = (not parse.process_alive(pid) if pid is not None
                     else time.time() - path.stat().st_mtime > LEGACY_SPOOL_STALE_S)
        except OSError:
            continue
        if stale and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
            if not path.exists():
                log.info("removed %s, left by an interrupted ingest", path)
                removed.append(path)
    return removed


@contextlib.contextmanager
def _spool_dir(wd: WorkDir) -> Iterator[str]:
    """A folder for the workers' rows, named after this process; stale ones go first."""
    root = _spool_root(wd)
    remove_stale_spools(root)
    with tempfile.TemporaryDirectory(prefix=f"{SPOOL_PREFIX}{os.getpid()}-", dir=root,
                                     ignore_cleanup_errors=True) as spool:
        yield spool


def _run_pool(futures: dict[Future, tuple[int, int]],
              flat: list[tuple[int, int, tuple]]) -> Iterator[tuple[int, int, ChunkResult]]:
    """Results ``(i, j, chunk)`` of the pool's tasks as they complete; meanwhile this process
    runs tasks too, taking the first one no worker has started yet.

    Workers take a while to start (seconds on a loaded machine) and this process would only
    wait for them: this way it parses from the first moment. Taking from the front keeps the
    tasks finishing about in order, so that few finished chunks wait for an earlier one
    before the catalog stream can take them. A task taken here is cancelled in the pool first,
    so it runs exactly once.
    """
    tasks = {(i, j): task for i, j, task in flat}
    pending = set(futures)
    order = collections.deque(futures)  # submission order: workers start at the front
    while pending:
        for fut in [f for f in pending if f.done()]:
            pending.discard(fut)
            i, j = futures[fut]
            yield i, j, fut.result()
        while order and (order[0].done() or order[0].running()):
            order.popleft()
        if order and order[0].cancel():
            fut = order.popleft()
            pending.discard(fut)
            i, j = futures[fut]
            res = parse.run_task(tasks[(i, j)])
            res.cpu_s = 0.0  # already in this process's CPU time
            yield i, j, res
        elif pending:
            wait(pending, return_when=FIRST_COMPLETED)


Rejects = list[tuple[str, str]]


class _Sink:
    """Where a streaming run's chunks go, in (unit, chunk) order: the catalog stream while the
    ids keep increasing; after a batch that breaks the order, memory (what was streamed is read
    back), to be sorted at the end as when nothing streams."""

    def __init__(self, stream: CatalogStream) -> None:
        self.stream: CatalogStream | None = stream
        self.kept: list[pa.Table | pa.RecordBatch] = []

    def put(self, i: int, batch: pa.RecordBatch) -> None:
        if self.stream is not None:
            if self.stream.add(batch, i):
                return
            log.info("catalog ids out of order at %s: sorting in memory",
                     batch.column(0)[0].as_py())
            self.kept.append(self.stream.read_back())
            self.stream = None
        self.kept.append(batch)

    def table(self) -> pa.Table:
        """The rows kept in memory (after a fallback), in arrival order."""
        tables = [t if isinstance(t, pa.Table) else pa.Table.from_batches([t])
                  for t in self.kept]
        return pa.concat_tables(tables) if tables else catalog_schema().empty_table()


class _Collector:
    """Chunk results of the units being parsed.

    Without a sink, a unit's table is built (and, while other units are still running, cached
    so that an interrupted run resumes) once all its chunks are in. With one, chunks go to it
    in (unit, chunk) order as soon as all before them are in, and are dropped here; the
    stream's thread writes each unit but the last to its resume cache as well.
    """

    def __init__(self, units: list[Unit], plan: list[tuple[list[tuple], Rejects]],
                 wd: WorkDir, sink: _Sink | None = None) -> None:
        self.units, self.plan, self.wd, self.sink = units, plan, wd, sink
        self.results: list[list[ChunkResult | None]] = [[None] * len(t) for t, _ in plan]
        self.remaining = [len(t) for t, _ in plan]
        self.done: dict[int, tuple[pa.Table | None, Rejects]] = {}
        self.worker_cpu = 0.0
        self.bar = None
        self.cursor = (0, 0)  # the next chunk the sink takes
        self.caching: set[int] = set()
        if sink is not None:
            self._emit_ready()
            return
        for i, n in enumerate(self.remaining):
            if n == 0:
                self._finish(i)

    def missing(self, i: int, j: int) -> bool:
        return self.remaining[i] > 0 and self.results[i][j] is None

    def record(self, i: int, j: int, result: ChunkResult, in_worker: bool = False) -> None:
        """Keep a finished task's result; hand on what is complete."""
        self.results[i][j] = result
        if in_worker:
            self.worker_cpu += result.cpu_s
        if self.bar is not None:
            self.bar.update(result.n_files)
        self.remaining[i] -= 1
        if self.sink is not None:
            self._emit_ready()
        elif self.remaining[i] == 0:
            self._finish(i)

    def _emit_ready(self) -> None:
        """Hand the sink every chunk whose predecessors have all gone to it."""
        i, j = self.cursor
        schema = catalog_schema()
        while i < len(self.plan):
            if j == 0:
                self._open_cache(i)
            if j == len(self.results[i]):
                self._close_unit(i)
                i, j = i + 1, 0
                continue
            res = self.results[i][j]
            if res is None:
                break
            self.sink.put(i, _batch_of(res, schema))  # type: ignore[union-attr]
            self.results[i][j] = ChunkResult(rejects=res.rejects, n_files=res.n_files)
            j += 1
        self.cursor = (i, j)

    def _open_cache(self, i: int) -> None:
        """Cache unit ``i`` while it streams, unless it is the last (it goes straight into
        the catalog). Called again while the unit's first chunk is awaited: opens once."""
        stream = self.sink.stream  # type: ignore[union-attr]
        if stream is None or i == len(self.plan) - 1 or i in self.caching:
            return
        self.caching.add(i)
        stream.open_cache(i, _cache_path(self.wd, self.units[i]), _unit_key(self.units[i]))

    def _close_unit(self, i: int) -> None:
        rejects = list(self.plan[i][1]) + [rj for r in self.results[i] if r for rj in r.rejects]
        stream = self.sink.stream  # type: ignore[union-attr]
        if stream is not None and i < len(self.plan) - 1:
            stream.close_cache(i, rejects)
        self.done[i] = (None, rejects)
        self.results[i] = []

    def _finish(self, i: int) -> None:
        chunks = [r for r in self.results[i] if r is not None]
        rejects = list(self.plan[i][1]) + [rj for r in chunks for rj in r.rejects]
        table = _table_of(chunks)
        if any(self.remaining):
            # Only needed to resume an interrupted run: the last unit to finish goes straight
            # into the catalog.
            unit = self.units[i]
            _write_cache(_cache_path(self.wd, unit), _unit_key(unit), table, rejects)
        self.done[i] = (table, rejects)
        self.results[i] = []


def _parse_serial(flat: list[tuple[int, int, tuple]], collector: _Collector) -> None:
    for i, j, task in flat:
        if collector.missing(i, j):
            collector.record(i, j, parse.run_task(task))


def _parse_in_pool(flat: list[tuple[int, int, tuple]], collector: _Collector, workers: int,
                   spool: str) -> None:
    """Parse in worker processes (and this one); workers exit if this process dies."""
    with ProcessPoolExecutor(workers, mp_context=_mp_context(), initializer=parse.watch_parent,
                             initargs=(os.getpid(), spool)) as pool:
        futures = {pool.submit(parse.run_task, task, spool): (i, j) for i, j, task in flat}
        try:
            for i, j, res in _run_pool(futures, flat):
                # Tasks this process took report 0 CPU s (it is in this process's time already).
                collector.record(i, j, res, in_worker=True)
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def _parse_units(units: list[Unit], wd: WorkDir, settings: IngestSettings, progress: bool,
                 sink: _Sink | None = None,
                 ) -> tuple[dict[int, tuple[pa.Table | None, Rejects]], float]:
    """Parse the units (in parallel), caching each one as soon as it is complete; returns the
    tables (None where they went to ``sink``) and rejects by unit, and the CPU seconds the
    parser processes spent."""
    from tqdm.auto import tqdm

    max_bytes = parse.text_budget(settings.worker_memory_mb)
    listed = [_tasks(unit, max_bytes) for unit in units]
    total = sum(n for _, _, n in listed)
    collector = _Collector(units, [(t, rj) for t, rj, _ in listed], wd, sink)
    flat = [(i, j, t) for i, (tasks, _, _) in enumerate(listed) for j, t in enumerate(tasks)]
    workers = min(_n_workers(settings), len(flat))
    use_pool = workers > 1 and total >= MIN_FILES_FOR_POOL
    collector.bar = tqdm(total=total, desc="ingest", unit="file", disable=not progress)
    try:
        if use_pool:
            # Workers write their rows to the spool (see parse._spool); removed when all is read.
            with _spool_dir(wd) as spool:
                try:
                    _parse_in_pool(flat, collector, workers, spool)
                except BrokenProcessPool as exc:
                    # Worker processes cannot start here (e.g. a script read from stdin): go
                    # on in this process with what is left.
                    log.warning("parser processes failed (%s); parsing in this process", exc)
        _parse_serial(flat, collector)
    finally:
        collector.bar.close()
    return collector.done, collector.worker_cpu


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
            note = (f"duplicate spectrum_id {sid} (the same member name twice in a zip, or "
                    "in two sources of the same category)")
            defects[k] = f"{defects[k]}; {note}" if defects[k] else note
    table = table.set_column(table.schema.get_field_index("spectrum_id"), "spectrum_id",
                             pa.array(ids, pa.string()))
    return table.set_column(table.schema.get_field_index("defects"), "defects",
                            pa.array(defects, pa.string()))


class NoSpectraError(ValueError):
    """A source in which no file could be read as a spectrum (the catalog is left as it was)."""


@dataclass
class _Gathered:
    """The catalog's parts: tables of units re-used or parsed, and each unit's rejects; or,
    where the rows were streamed, the stream that holds them (``tables`` then empty)."""

    tables: list[pa.Table] = field(default_factory=list)
    unit_rejects: dict[str, Rejects] = field(default_factory=dict)
    n_parsed: int = 0
    worker_cpu: float = 0.0
    stream: CatalogStream | None = None


def _reuse_from_catalog(wd: WorkDir, units: list[Unit], keys: dict[str, str],
                        known: dict[str, dict], got: _Gathered) -> set[int]:
    """Take the rows of units unchanged since the catalog was written; returns their indices."""
    reused = {i for i, u in enumerate(units) if known.get(u.label, {}).get("key") == keys[u.label]}
    if not reused:
        return reused
    labels = [units[i].label for i in sorted(reused)]
    try:
        old = pq.read_table(wd.catalog).replace_schema_metadata(None)
    except (OSError, pa.ArrowException) as exc:
        log.warning("%s is unreadable (%s); parsing everything again", wd.catalog, exc)
        return set()
    got.tables.append(old.filter(pc.is_in(old.column("source"), value_set=pa.array(labels))))
    for label in labels:
        got.unit_rejects[label] = list(known[label]["rejects"])
    return reused


def _gather(wd: WorkDir, units: list[Unit], keys: dict[str, str], known: dict[str, dict],
            settings: IngestSettings, progress: bool, stream_to: Path) -> _Gathered:
    """Every unit's rows and rejects: from the catalog, from a unit cache, else parsed.

    When every unit is parsed, the rows stream into the catalog file ``stream_to`` as they
    come (see ``catalog_write``): ``got.stream`` holds them unless the order broke.
    """
    got = _Gathered()
    reused = _reuse_from_catalog(wd, units, keys, known, got)
    todo: list[int] = []
    for i, unit in enumerate(units):
        if i in reused:
            continue
        cached = _read_cache(_cache_path(wd, unit), keys[unit.label])
        if cached is None:
            todo.append(i)
        else:
            got.tables.append(cached[0])
            got.unit_rejects[unit.label] = cached[1]
    if todo:
        stream = STREAM_CATALOG and len(todo) == len(units)
        _parse_todo(wd, [units[i] for i in todo], settings, progress,
                    stream_to if stream else None, got)
    got.n_parsed = len(todo)
    return got


def _parse_todo(wd: WorkDir, units: list[Unit], settings: IngestSettings, progress: bool,
                stream_to: Path | None, got: _Gathered) -> None:
    """Parse ``units`` into ``got``: streamed into ``stream_to`` when given (``got.stream``
    then holds the rows, unless their order broke and they went to ``got.tables``)."""
    sink = None
    if stream_to is not None:
        sink = _Sink(CatalogStream(stream_to, catalog_schema(), ROW_GROUP_ROWS))
    try:
        parsed, got.worker_cpu = _parse_units(units, wd, settings, progress, sink)
    except BaseException:
        if sink is not None and sink.stream is not None:
            sink.stream.abort()
        raise
    for k, unit in enumerate(units):
        if parsed[k][0] is not None:
            got.tables.append(parsed[k][0])
        got.unit_rejects[unit.label] = parsed[k][1]
    if sink is not None:
        got.stream = sink.stream
        if sink.stream is None:
            got.tables.append(sink.table())


def _sorted_catalog(tables: list[pa.Table]) -> pa.Table:
    """One table, rows sorted by ``spectrum_id`` (then source), ids made unique."""
    table = pa.concat_tables(tables) if tables else catalog_schema().empty_table()
    order = pc.sort_indices(table, sort_keys=[("spectrum_id", "ascending"),
                                              ("source", "ascending")]).to_numpy()
    if not np.array_equal(order, np.arange(table.num_rows)):
        table = table.take(order)
    return _deduplicate_ids(table)


def _refuse_empty(n_rows: int, rejects: Rejects, src: str | Path, wd: WorkDir) -> None:
    """No spectrum read at all: say so (with the first reject) rather than write an empty
    catalog over the one there."""
    if n_rows:
        return
    first = f", e.g. {rejects[0][0]}: {rejects[0][1]}" if rejects else ""
    kept = (f"; {wd.catalog} left as it was" if wd.catalog.exists()
            else "; no catalog written")
    raise NoSpectraError(f"no readable spectrum in {src}: {len(rejects)} file(s) rejected"
                         f"{first}{kept}")


def _write_catalog(tmp: Path, got: _Gathered, meta: dict[bytes, bytes], rejects: Rejects,
                   src: str | Path, wd: WorkDir) -> int:
    """Complete the catalog at ``tmp``: close the stream, or sort the tables and write them;
    returns its number of rows."""
    if got.stream is not None:
        try:
            _refuse_empty(got.stream.n_rows, rejects, src, wd)
            got.stream.finish(meta)
        except BaseException:
            got.stream.abort()
            raise
        return got.stream.n_rows
    table = _sorted_catalog(got.tables)
    _refuse_empty(table.num_rows, rejects, src, wd)
    write_table(tmp, table, meta, ROW_GROUP_ROWS)
    return table.num_rows


def _unchanged(wd: WorkDir, units: list[Unit], keys: dict[str, str],
               known: dict[str, dict]) -> bool:
    """Whether the catalog holds exactly these units, none changed since."""
    return (len(units) == len(known) and wd.rejects.exists()
            and all(known.get(u.label, {}).get("key") == keys[u.label] for u in units))


def ingest(source: str | os.PathLike[str] | None = None, workdir: WorkDir | None = None,
           settings: IngestSettings | None = None, progress: bool = True) -> IngestResult:
    """Read every RRUFF spectrum of ``source`` into ``catalog.parquet`` and ``rejects.csv``.

    Parameters
    ----------
    source : folder (of ``.txt`` files and/or RRUFF zips), ``.zip``, ``.txt`` or the RRUFF URL;
        None resolves ``$RRUFFGEO_DATA``, then downloads (the CLI adds ``../shared/rruff``).
    workdir : work folder (default ``./rruffgeo-work``).
    settings : categories (for URL sources and mirror folders), cache folder, workers, memory.
    progress : show progress bars.

    Raises
    ------
    NoSpectraError
        No file of the source could be read (an existing catalog is kept).
    """
    t0, c0 = time.perf_counter(), time.process_time()
    wd = workdir if workdir is not None else WorkDir()
    settings = settings or IngestSettings()
    src = resolve_source(source)
    units = source_units(src, settings, progress)
    keys = {u.label: _unit_key(u) for u in units}
    known = _catalog_units(wd.catalog)

    def result(n_spectra: int, n_rejects: int, n_parsed: int, worker_cpu: float) -> IngestResult:
        return IngestResult(
            catalog_path=wd.catalog, rejects_path=wd.path(REJECTS), n_spectra=n_spectra,
            n_rejects=n_rejects, n_units_parsed=n_parsed, n_units_cached=len(units) - n_parsed,
            source=str(src), elapsed_s=time.perf_counter() - t0,
            cpu_s=time.process_time() - c0 + worker_cpu)

    if _unchanged(wd, units, keys, known):
        # Nothing changed since the catalog was written: keep it as it is.
        n_rejects = sum(len(known[u.label]["rejects"]) for u in units)
        return result(pq.read_metadata(wd.catalog).num_rows, n_rejects, 0, 0.0)
    with atomic_path(wd.catalog) as tmp:
        got = _gather(wd, units, keys, known, settings, progress, tmp)
        rejects = sorted({tuple(r) for rj in got.unit_rejects.values() for r in rj})
        meta = {_META_UNITS: json.dumps(
            {u.label: {"key": keys[u.label], "rejects": got.unit_rejects[u.label]}
             for u in units}, sort_keys=True).encode()}
        n_rows = _write_catalog(tmp, got, meta, rejects, src, wd)
    write_csv_atomic(wd.path(REJECTS), pd.DataFrame(rejects, columns=["file", "reason"]))
    # The catalog now holds every unit (and its key): the per-unit caches, which only serve to
    # resume an interrupted run, are no longer needed.
    for unit in units:
        _cache_path(wd, unit).unlink(missing_ok=True)
    res = result(n_rows, len(rejects), got.n_parsed, got.worker_cpu)
    log.debug("ingest: %s", res)
    return res


def load_catalog(workdir: WorkDir | str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The catalog as a DataFrame (spectra columns hold float64 NumPy arrays)."""
    wd = workdir if isinstance(workdir, WorkDir) else WorkDir(workdir or WorkDir().root)
    return pd.read_parquet(wd.require(CATALOG, "ingest"))


def load_rejects(workdir: WorkDir | str | os.PathLike[str] | None = None) -> pd.DataFrame:
    wd = workdir if isinstance(workdir, WorkDir) else WorkDir(workdir or WorkDir().root)
    p = wd.require(REJECTS, "ingest")
    return pd.read_csv(p, keep_default_na=False, dtype=str)


def summary(workdir: WorkDir | str | os.PathLike[str] | None = None) -> dict:
    """Counts of the catalog: spectra, specimens, minerals, reference compounds, kinds,
    lasers, techniques, categories, rejects."""
    from rruffgeo.data.columns import read_catalog_columns

    wd = workdir if isinstance(workdir, WorkDir) else WorkDir(workdir or WorkDir().root)
    cat = read_catalog_columns(
        wd.require(CATALOG, "ingest"),
        ["specimen_id", "mineral", "kind", "laser_nm", "technique", "is_reference_compound",
         "category", "defects", "encoding_repair"])
    rejects = load_rejects(wd)
    # By laser line: files writing one laser two ways (514 / 514.5 nm) count once (derived
    # here, so that catalogs written before the laser_line_nm column count the same way).
    lasers = cat["laser_nm"].map(
        lambda v: "unknown" if pd.isna(v) else f"{laser_line_nm(float(v)):g} nm")
    reference = cat[cat["is_reference_compound"]]
    return {
        "spectra": int(len(cat)),
        "specimens": int(cat["specimen_id"].replace("", pd.NA).nunique()),
        "minerals": int(cat.loc[~cat["is_reference_compound"], "mineral"]
                        .replace("", pd.NA).nunique()),
        "reference_compounds": {"spectra": int(len(reference)),
                                "specimens": int(reference["specimen_id"].nunique())},
        "kinds": _counts(cat["kind"]),
        "lasers": _counts(lasers),
        "techniques": _counts(cat["technique"]),
        "categories": _counts(cat["category"]),
        "with_defects": int((cat["defects"] != "").sum()),
        "encoding_repaired": int((cat["encoding_repair"] != "").sum()),
        "rejects": int(len(rejects)),
    }


def _counts(values: pd.Series) -> dict[str, int]:
    """Rows per value, sorted by value ("(none)" for empty)."""
    return {str(k or "(none)"): int(v) for k, v in values.value_counts().sort_index().items()}
