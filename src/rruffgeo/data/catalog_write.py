"""Writing the catalog: at once from a sorted table, or streamed while the files are parsed.

Streaming is what keeps ingest's memory bounded and its time short: chunks are handed over in
(unit, chunk) order as they complete, a thread writes them as Parquet row groups (Arrow
releases the GIL, so writing overlaps parsing) and only what is not yet written stays in
memory. The catalog's rows are sorted by ``spectrum_id`` (then source) with ids made unique;
where the ids arrive strictly increasing, that order is the arrival order and no id repeats, so
the stream is the catalog. ``CatalogStream.add`` checks that batch by batch and refuses a batch
that breaks it; the caller then reads back what was written and sorts in memory as before.

The same thread writes the units' resume caches (Arrow IPC, in the work folder's cache, see
``catalog``), so that an interrupted run resumes from the units it finished, off the parsing
path.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from rruffgeo.data.parse import SCALAR_COLUMNS
from rruffgeo.workdir import atomic_path

#: Columns written with dictionary encoding (few distinct values).
DICTIONARY_COLUMNS = ["specimen_id", "mineral", "locality", "kind", "orientation",
                      "orientation_rotation", "polarization", "technique", "category", "source"]


def parquet_options(schema: pa.Schema) -> dict:
    """Writer options of the catalog (the same whether written at once or streamed).

    Spectra arrays barely compress (float64 noise); compressing only the text columns halves
    the write time for a ~20% larger file.
    """
    compression = {c: "none" if c in ("wavenumber_cm1", "intensity") else "snappy"
                   for c in schema.names}
    return {"compression": compression, "use_dictionary": DICTIONARY_COLUMNS,
            "write_statistics": list(SCALAR_COLUMNS)}


def write_table(path: Path, table: pa.Table, meta: dict[bytes, bytes],
                row_group_rows: int) -> None:
    """Write a whole (sorted) catalog table with its metadata to ``path``.

    Written as the stream writes (the metadata added at the end, in the file's key-value
    metadata only), so that a catalog is the same file, byte for byte, whichever way it was
    written: a resumed run writes what a fresh run writes.
    """
    schema = table.schema.remove_metadata()
    with pq.ParquetWriter(str(path), schema, **parquet_options(schema)) as writer:
        writer.write_table(table.replace_schema_metadata(None), row_group_size=row_group_rows)
        writer.add_key_value_metadata(meta)


def increasing_after(ids: pa.Array, last: str | None) -> bool:
    """Whether ``ids`` are strictly increasing and all after ``last`` (byte order of UTF-8,
    which is the order of ``pc.sort_indices`` and of Python's ``str``)."""
    n = len(ids)
    if n == 0:
        return True
    if last is not None and not ids[0].as_py() > last:
        return False
    return n == 1 or bool(pc.all(pc.less(ids.slice(0, n - 1), ids.slice(1))).as_py())


#: Schema metadata key of a resume cache: the unit's key.
CACHE_KEY = b"rruffgeo.ingest.key"
#: Custom metadata key of a resume cache's last (empty) batch: the unit's rejects.
CACHE_REJECTS = b"rruffgeo.ingest.rejects"


class UnitCache:
    """One unit's resume cache (Arrow IPC), written batch by batch: the unit's key in the
    schema metadata, its rows, then an empty batch carrying its rejects (known only once the
    unit is complete). Written atomically: a cache file is always a complete one."""

    def __init__(self, path: Path, key: str, schema: pa.Schema) -> None:
        self.schema = schema
        self._atomic = atomic_path(path)
        tmp = self._atomic.__enter__()
        self._writer = ipc.new_file(str(tmp), schema.with_metadata({CACHE_KEY: key.encode()}))

    def write(self, batch: pa.RecordBatch) -> None:
        self._writer.write_batch(batch)

    def close(self, rejects: list) -> None:
        """Write the rejects, close, and move the file into place."""
        self._writer.write_batch(pa.RecordBatch.from_pylist([], self.schema),
                                 custom_metadata={CACHE_REJECTS: json.dumps(rejects).encode()})
        self._writer.close()
        self._atomic.__exit__(None, None, None)

    def abort(self) -> None:
        """Close and remove the unfinished file."""
        self._writer.close()
        self._atomic.__exit__(RuntimeError, RuntimeError("aborted"), None)


def read_unit_cache(path: Path, key: str, schema: pa.Schema) -> tuple[pa.Table, list] | None:
    """The rows and rejects of a resume cache when it is one of this unit's current key
    (else None: stale, of another version, or unreadable)."""
    try:
        with pa.memory_map(str(path)) as source:
            reader = ipc.open_file(source)
            n = reader.num_record_batches
            if (reader.schema.metadata or {}).get(CACHE_KEY, b"").decode() != key or n == 0:
                return None
            last = reader.get_batch_with_custom_metadata(n - 1)
            raw = (last.custom_metadata or {}).get(CACHE_REJECTS)
            if raw is None or reader.schema.remove_metadata() != schema:
                return None
            table = pa.Table.from_batches([reader.get_batch(k) for k in range(n - 1)], schema)
    except (OSError, pa.ArrowException, ValueError):
        return None
    return table, [tuple(r) for r in json.loads(raw)]


class CatalogStream:
    """The catalog written row group by row group from a thread, as batches arrive in order.

    Row groups hold exactly ``row_group_rows`` rows (the last fewer), as when the whole table
    is written at once. ``add`` queues a batch (blocking while ``max_queued`` wait: memory stays
    bounded); ``finish`` adds the metadata and closes the file; ``abort`` stops without it.
    """

    def __init__(self, path: Path, schema: pa.Schema, row_group_rows: int,
                 max_queued: int = 8) -> None:
        self.path, self.schema, self.row_group_rows = path, schema, row_group_rows
        self.n_rows = 0
        self._last: str | None = None
        self._queue: queue.Queue = queue.Queue(max_queued)
        self._error: BaseException | None = None
        self._writer = pq.ParquetWriter(str(path), schema, **parquet_options(schema))
        self._caches: dict[int, UnitCache] = {}
        self._thread = threading.Thread(target=self._run, name="rruffgeo-catalog-writer",
                                        daemon=True)
        self._thread.start()

    def add(self, batch: pa.RecordBatch, unit: int = -1) -> bool:
        """Queue a batch (and into ``unit``'s cache when one is open); False, queuing nothing,
        when its ids do not continue the strictly increasing order."""
        ids = batch.column(self.schema.get_field_index("spectrum_id"))
        if not increasing_after(ids, self._last):
            return False
        if len(ids):
            self._last = ids[-1].as_py()
            self.n_rows += len(ids)
            self._put(("rows", unit, batch))
        return True

    def open_cache(self, unit: int, path: Path, key: str) -> None:
        """Write the rows of ``unit`` to its resume cache too (from the next batch on)."""
        self._put(("open", unit, (path, key)))

    def close_cache(self, unit: int, rejects: list) -> None:
        """The unit is complete: finish its resume cache with its rejects."""
        self._put(("close", unit, rejects))

    def finish(self, meta: dict[bytes, bytes]) -> None:
        """Write what is left, the metadata, and close the file (raises the writer's error)."""
        self._stop()
        self._writer.add_key_value_metadata(meta)
        self._writer.close()

    def read_back(self) -> pa.Table:
        """Close the file as it is and read its rows (for the in-memory fallback)."""
        self._stop()
        self._abort_caches()
        self._writer.close()
        return pq.read_table(self.path, schema=self.schema)

    def abort(self) -> None:
        """Stop the thread and close the files, keeping no cache that is not complete."""
        with contextlib.suppress(BaseException):  # aborting anyway: the caller's error counts
            self._stop()
        self._abort_caches()
        self._writer.close()

    def _abort_caches(self) -> None:
        """Remove the resume caches not yet complete (those complete stay)."""
        for cache in self._caches.values():
            cache.abort()
        self._caches.clear()

    def _put(self, item: tuple) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(item)

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        """The writer thread: take items until ``None``; after an error, only drain the queue
        (so that ``add`` never blocks on it) and keep the error for the caller."""
        pending: list[pa.RecordBatch] = []
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    pending = self._handle(item, pending)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    self._error = exc
        if self._error is None and pending:
            try:
                self._write_groups(pending, final=True)
            except BaseException as exc:  # noqa: BLE001
                self._error = exc

    def _handle(self, item: tuple, pending: list[pa.RecordBatch]) -> list[pa.RecordBatch]:
        kind, unit, arg = item
        if kind == "open":
            self._caches[unit] = UnitCache(arg[0], arg[1], self.schema)
        elif kind == "close":
            self._caches.pop(unit).close(arg)
        else:
            if unit in self._caches:
                self._caches[unit].write(arg)
            pending.append(arg)
            if sum(b.num_rows for b in pending) >= self.row_group_rows:
                pending = self._write_groups(pending, final=False)
        return pending

    def _write_groups(self, pending: list[pa.RecordBatch], final: bool) -> list[pa.RecordBatch]:
        """Write the full row groups of ``pending`` (all of it when ``final``); returns the
        rest."""
        table = pa.Table.from_batches(pending, schema=self.schema)
        n = table.num_rows if final else table.num_rows - table.num_rows % self.row_group_rows
        self._writer.write_table(table.slice(0, n), row_group_size=self.row_group_rows)
        return table.slice(n).to_batches()
