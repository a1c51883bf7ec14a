"""The streamed catalog is the catalog sorted in memory: same rows, order, row groups and
metadata, whether the ids arrive in order or not (then the stream falls back to sorting)."""

import warnings

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rruffgeo.config import IngestSettings
from rruffgeo.data import catalog, catalog_write, ingest, load_catalog, load_rejects
from rruffgeo.workdir import WorkDir
from test_data_catalog import rruff_text, write_zip


def _name(k: int) -> str:
    return f"M{k}__R0{k:05d}__Raman__532__0__unoriented__Raman_Data_Processed__{k}.txt"


def _members(ks) -> dict[str, bytes]:
    return {_name(k): rruff_text(f"M{k}", f"R0{k:05d}", n=8 + k % 5) for k in ks}


def _ingest_both(src, tmp_path, monkeypatch, workers=1) -> list[int]:
    """Ingest ``src`` streamed and in memory; assert both catalogs are the same; returns how
    often the stream fell back to memory."""
    monkeypatch.setattr(catalog, "CHUNK_FILES", 2)
    monkeypatch.setattr(catalog, "MIN_FILES_FOR_POOL", 0)
    monkeypatch.setattr(catalog, "ROW_GROUP_ROWS", 3)
    fallbacks = []
    real = catalog_write.CatalogStream.read_back

    def read_back(self):
        fallbacks.append(self.n_rows)
        return real(self)

    monkeypatch.setattr(catalog_write.CatalogStream, "read_back", read_back)
    settings = IngestSettings(cache_dir=tmp_path / "cache", workers=workers)
    streamed, memory = WorkDir(tmp_path / "streamed"), WorkDir(tmp_path / "memory")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile's "Duplicate name" when a test writes one
        ingest(src, streamed, settings, progress=False)
        monkeypatch.setattr(catalog, "STREAM_CATALOG", False)
        ingest(src, memory, settings, progress=False)
    pd.testing.assert_frame_equal(load_catalog(streamed), load_catalog(memory))
    assert streamed.catalog.read_bytes() == memory.catalog.read_bytes()  # the very same file
    pd.testing.assert_frame_equal(load_rejects(streamed), load_rejects(memory))
    a, b = pq.ParquetFile(streamed.catalog), pq.ParquetFile(memory.catalog)
    assert ([a.metadata.row_group(k).num_rows for k in range(a.num_row_groups)]
            == [b.metadata.row_group(k).num_rows for k in range(b.num_row_groups)])
    assert a.schema_arrow.remove_metadata() == catalog.catalog_schema()
    units = catalog._catalog_units(streamed.catalog)
    assert units and units == catalog._catalog_units(memory.catalog)
    for wd in (streamed, memory):
        assert not list((wd.root / "cache" / "ingest").glob("*"))  # caches gone
    return fallbacks


@pytest.mark.parametrize("workers", [1, 2])
def test_ids_in_order_stream_without_fallback(tmp_path, monkeypatch, workers):
    folder = tmp_path / "mirror"
    folder.mkdir()
    write_zip(folder / "excellent_oriented.zip", _members(range(7)))
    write_zip(folder / "excellent_unoriented.zip",
              {**_members(range(10, 21)), "bad.txt": b"no numbers here\n"})
    assert _ingest_both(folder, tmp_path, monkeypatch, workers) == []


def test_repeated_member_falls_back_to_the_sorted_catalog(tmp_path, monkeypatch):
    """The same member twice in a zip: ids repeat after rows were streamed; the catalog is
    the sorted one with the repeat renamed ``#2``."""
    z = write_zip(tmp_path / "excellent_unoriented.zip", _members(range(9)))
    with warnings.catch_warnings(), __import__("zipfile").ZipFile(z, "a") as zf:
        warnings.simplefilter("ignore")
        zf.writestr(_name(7), rruff_text("M7", "R000007", n=4))
    fallbacks = _ingest_both(z, tmp_path, monkeypatch)
    assert len(fallbacks) == 1 and fallbacks[0] > 0  # some rows were streamed first
    ids = load_catalog(tmp_path / "streamed")["spectrum_id"]
    assert ids.str.endswith("#2").sum() == 1 and ids.is_unique


def test_units_out_of_order_fall_back_to_the_sorted_catalog(tmp_path, monkeypatch):
    """Loose files (the last unit) whose ids sort before the zip's: rows are reordered."""
    folder = tmp_path / "mirror"
    (folder / "excellent_unoriented").mkdir(parents=True)
    write_zip(folder / "excellent_unoriented.zip", {"zz" + _name(k): rruff_text() for k in
                                                    range(5)})
    for k in range(3):
        (folder / "excellent_unoriented" / _name(k)).write_bytes(rruff_text(n=6 + k))
    fallbacks = _ingest_both(folder, tmp_path, monkeypatch)
    assert fallbacks == [5]
    ids = load_catalog(tmp_path / "streamed")["spectrum_id"].tolist()
    assert ids == sorted(ids) and len(ids) == 8


def test_stream_checks_order_batch_by_batch(tmp_path):
    schema = pa.schema([("spectrum_id", pa.string())])
    stream = catalog_write.CatalogStream(tmp_path / "c.parquet", schema, row_group_rows=2)
    assert stream.add(pa.record_batch([pa.array(["a", "b", "c"])], schema=schema))
    assert not stream.add(pa.record_batch([pa.array(["c", "d"])], schema=schema))
    assert not stream.add(pa.record_batch([pa.array(["d", "f", "e"])], schema=schema))
    assert stream.add(pa.record_batch([pa.array(["d"])], schema=schema))
    stream.finish({b"k": b"v"})
    assert pq.read_table(tmp_path / "c.parquet").column(0).to_pylist() == ["a", "b", "c", "d"]
    assert pq.read_metadata(tmp_path / "c.parquet").metadata[b"k"] == b"v"
    assert pq.ParquetFile(tmp_path / "c.parquet").num_row_groups == 2
