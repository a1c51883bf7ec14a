"""Ingest on small sources the tests write: every kind of source, rejects, incremental runs."""

import os
import zipfile

import numpy as np
import pandas as pd
import pytest

from helpers import run_cli
from rruffgeo.config import IngestSettings
from rruffgeo.data import ingest, load_catalog, load_rejects, summary
from rruffgeo.data.sources import member_reject, unsafe_member_reason
from rruffgeo.workdir import WorkDir

OLD_NAME = "Abelsonite__R070007__Raman__532__0__unoriented__Raman_Data_Processed__27040.txt"
RAW_NAME = "Abelsonite__R070007__Raman__532__0__unoriented__Raman_Data_RAW__27041.txt"
NEW_NAME = ("Actinolite__R040063-4__Raman__514__45-000__ccw__Raman_Data_Processed__"
            "c801aaca84d830ae65447fa8483e.txt")


def rruff_text(name="Abelsonite", rid="R070007", locality="Green River, Utah, USA", n=20,
               start=100.0, extra="") -> bytes:
    w = start + np.arange(n) * 1.5
    rows = "".join(f"{x:.4f}, {i * 2.5:.6g}\r\n" for i, x in enumerate(w))
    head = f"##NAMES={name}\r\n##RRUFFID={rid}\r\n##LOCALITY={locality}\r\n{extra}"
    return (head + rows + "##END=\r\n").encode()


def good_files() -> dict[str, bytes]:
    return {
        OLD_NAME: rruff_text(),
        RAW_NAME: rruff_text(n=30, start=90.0),
        NEW_NAME: rruff_text("Actinolite", "R040063", "Harford County, Maryland, USA",
                             extra="##FILETYPE=Raman Processed\r\n##RAMAN WAVELENGTH=514\r\n"),
    }


def write_zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def settings(tmp_path):
    return IngestSettings(cache_dir=tmp_path / "cache", workers=1)


def test_zip_source_rows_and_columns(tmp_path):
    z = write_zip(tmp_path / "excellent_unoriented.zip", good_files())
    res = ingest(z, WorkDir(tmp_path / "w"), settings(tmp_path), progress=False)
    assert res.n_spectra == 3 and res.n_rejects == 0
    cat = load_catalog(tmp_path / "w")
    assert cat["spectrum_id"].tolist() == sorted(
        f"excellent_unoriented/{n}" for n in good_files())
    row = cat.set_index("member").loc[NEW_NAME]
    assert row["specimen_id"] == "R040063" and row["sample_id"] == "R040063-4"
    assert row["mineral"] == "Actinolite" and row["kind"] == "processed"
    assert row["laser_nm"] == 514 and row["category"] == "excellent_unoriented"
    assert row["orientation"] == "unoriented"  # the zip's category is the authority
    assert row["n_points"] == 20 and row["wavenumber_min_cm1"] == 100.0
    assert row["wavenumber_max_cm1"] == pytest.approx(128.5)
    assert row["wavenumber_step_median_cm1"] == pytest.approx(1.5)
    assert isinstance(row["wavenumber_cm1"], np.ndarray) and len(row["intensity"]) == 20
    assert '"RAMAN WAVELENGTH": "514"' in row["headers_json"]
    raw = cat.set_index("member").loc[RAW_NAME]
    assert raw["kind"] == "raw" and raw["laser_nm"] == 532 and raw["n_points"] == 30
    assert raw["source"] == str(z)


def test_folder_of_txt_files_and_single_file(tmp_path):
    folder = tmp_path / "excellent_oriented"
    folder.mkdir()
    for name, data in good_files().items():
        (folder / name).write_bytes(data)
    res = ingest(folder, WorkDir(tmp_path / "w"), settings(tmp_path), progress=False)
    cat = load_catalog(tmp_path / "w")
    assert res.n_spectra == 3
    assert set(cat["category"]) == {"excellent_oriented"}
    new = cat.set_index("member").loc[NEW_NAME]
    assert (new["orientation"], new["orientation_angle_deg"], new["orientation_rotation"]) == (
        "oriented", 45.0, "ccw")
    res = ingest(folder / OLD_NAME, WorkDir(tmp_path / "w1"), settings(tmp_path), progress=False)
    assert res.n_spectra == 1
    assert load_catalog(tmp_path / "w1")["member"].tolist() == [OLD_NAME]


def test_mirror_folder_filters_categories(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    write_zip(mirror / "excellent_unoriented.zip", {OLD_NAME: rruff_text()})
    write_zip(mirror / "poor_unoriented.zip", {RAW_NAME: rruff_text()})
    s = IngestSettings(categories=("poor_unoriented",), cache_dir=tmp_path / "c", workers=1)
    ingest(mirror, WorkDir(tmp_path / "w"), s, progress=False)
    assert load_catalog(tmp_path / "w")["category"].tolist() == ["poor_unoriented"]


def test_every_bad_file_is_rejected_with_reason_and_the_rest_goes_on(tmp_path):
    members = dict(good_files())
    members.update({
        "empty.txt": b"",
        "headers_only.txt": b"##NAMES=X\n##RRUFFID=R1\n##END=\n",
        "binary.txt": b"\x00\x01\x02PK\x00",
        "truncated.txt": rruff_text()[:-40],
        "malformed.txt": b"##NAMES=X\n1, 2\n3, four\n##END=\n",
        "../escape.txt": rruff_text(),
        "/etc/absolute.txt": rruff_text(),
        "notes.csv": b"a,b\n",
    })
    z = write_zip(tmp_path / "fair_unoriented.zip", members)
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    folder = tmp_path / "src"
    folder.mkdir()
    os.replace(z, folder / z.name)
    os.replace(tmp_path / "broken.zip", folder / "broken.zip")
    res = ingest(folder, WorkDir(tmp_path / "w"), settings(tmp_path), progress=False)
    assert res.n_spectra == 3
    rej = load_rejects(tmp_path / "w")
    reasons = {f.rsplit("/", 1)[-1]: r for f, r in zip(rej["file"], rej["reason"], strict=True)}
    assert reasons["empty.txt"] == "empty file"
    assert "no data rows" in reasons["headers_only.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "truncated" in reasons["truncated.txt"]
    assert "malformed number 'four'" in reasons["malformed.txt"].replace("' four'", "'four'")
    assert "escapes the archive folder" in reasons["escape.txt"]
    assert "escapes the archive folder" in reasons["absolute.txt"]
    assert "not a .txt" in reasons["notes.csv"]
    assert "corrupt zip" in reasons["broken.zip"]
    assert res.n_rejects == len(rej) == 9


def test_corrupt_member_crc_is_rejected(tmp_path):
    z = write_zip(tmp_path / "x.zip", {OLD_NAME: rruff_text(n=200), RAW_NAME: rruff_text()})
    with zipfile.ZipFile(z) as zf:
        info = zf.getinfo(OLD_NAME)
    data = bytearray(z.read_bytes())
    body = info.header_offset + 30 + len(OLD_NAME) + 10
    data[body] ^= 0xFF
    z.write_bytes(bytes(data))
    res = ingest(z, WorkDir(tmp_path / "w"), settings(tmp_path), progress=False)
    rej = load_rejects(tmp_path / "w")
    assert res.n_spectra == 1
    assert rej["file"].tolist() == [f"{z}/{OLD_NAME}"]
    assert "corrupt zip member" in rej["reason"][0]


def test_unsafe_member_names():
    assert unsafe_member_reason("a/b.txt") is None
    assert unsafe_member_reason("a/../../b.txt")
    assert unsafe_member_reason("..\\b.txt")
    assert unsafe_member_reason("C:/x.txt")
    assert unsafe_member_reason("/x.txt")


def _info(name: str, size: int = 10, flags: int = 0, method: int = zipfile.ZIP_DEFLATED
          ) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.file_size, info.flag_bits, info.compress_type = size, flags, method
    return info


def test_member_reject_checks_in_one_order_for_every_reader():
    def reject(info):
        return member_reject(info, lambda n: n.endswith(".txt"), "wrong type", 100, "; note")

    # an escaping name wins over every other fault; a wrong type over an unreadable member
    assert reject(_info("../x.pdf", size=10**9, flags=1)).startswith("unsafe member path")
    assert reject(_info("x.pdf", size=10**9, flags=1)) == "wrong type"
    assert reject(_info("x.txt", size=10**9, flags=1)).startswith("encrypted member")
    assert reject(_info("x.txt", size=10**9, method=9)).startswith("compression method 9 "
                                                                   "(Deflate64)")
    assert reject(_info("x.txt", size=101)) == "member too large (101 bytes uncompressed; note)"
    assert reject(_info("a/x.txt", size=100)) is None


def test_rerun_is_incremental_and_identical(tmp_path):
    folder = tmp_path / "mirror"
    folder.mkdir()
    write_zip(folder / "excellent_unoriented.zip", good_files())
    write_zip(folder / "fair_unoriented.zip", {OLD_NAME: rruff_text(n=5)})
    wd = WorkDir(tmp_path / "w")
    first = ingest(folder, wd, settings(tmp_path), progress=False)
    cat1 = load_catalog(wd)
    second = ingest(folder, wd, settings(tmp_path), progress=False)
    assert (first.n_units_parsed, second.n_units_parsed, second.n_units_cached) == (2, 0, 2)
    pd.testing.assert_frame_equal(cat1, load_catalog(wd))
    # Changing one zip re-parses that zip only.
    write_zip(folder / "fair_unoriented.zip", {OLD_NAME: rruff_text(n=7)})
    third = ingest(folder, wd, settings(tmp_path), progress=False)
    assert (third.n_units_parsed, third.n_units_cached) == (1, 1)
    cat3 = load_catalog(wd).set_index("spectrum_id")
    assert cat3.loc[f"fair_unoriented/{OLD_NAME}", "n_points"] == 7


def test_parallel_workers_match_serial(tmp_path, monkeypatch):
    import rruffgeo.data.catalog as catalog

    monkeypatch.setattr(catalog, "MIN_FILES_FOR_POOL", 0)
    monkeypatch.setattr(catalog, "CHUNK_FILES", 2)
    files = {f"M{i}__R0{i:05d}__Raman__532__0__unoriented__Raman_Data_Processed__{i}.txt":
             rruff_text(f"M{i}", f"R0{i:05d}", n=10 + i) for i in range(7)}
    z = write_zip(tmp_path / "excellent_unoriented.zip", files)
    ingest(z, WorkDir(tmp_path / "a"), IngestSettings(workers=1), progress=False)
    ingest(z, WorkDir(tmp_path / "b"), IngestSettings(workers=2), progress=False)
    pd.testing.assert_frame_equal(load_catalog(tmp_path / "a"), load_catalog(tmp_path / "b"))


@pytest.mark.parametrize("streamed", [True, False])
def test_interrupted_write_keeps_previous_catalog(tmp_path, monkeypatch, streamed):
    """Streamed (every unit parsed again) or written at once (one unit re-used)."""
    import pyarrow.parquet as pq

    import rruffgeo.data.catalog_write as catalog_write

    folder = tmp_path / "mirror"
    folder.mkdir()
    write_zip(folder / "excellent_unoriented.zip", good_files())
    write_zip(folder / "fair_unoriented.zip", {RAW_NAME: rruff_text(n=5)})
    wd = WorkDir(tmp_path / "w")
    ingest(folder, wd, settings(tmp_path), progress=False)
    before = wd.catalog.read_bytes()
    write_zip(folder / "excellent_unoriented.zip", {OLD_NAME: rruff_text(n=3)})
    if streamed:
        write_zip(folder / "fair_unoriented.zip", {RAW_NAME: rruff_text(n=6)})
    streams = []
    monkeypatch.setattr(catalog_write.CatalogStream, "add",
                        lambda self, *a, _add=catalog_write.CatalogStream.add:
                        streams.append(self) or _add(self, *a))

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(pq.ParquetWriter, "write_table", boom)
    with pytest.raises(KeyboardInterrupt):
        ingest(folder, wd, settings(tmp_path), progress=False)
    assert bool(streams) == streamed
    assert wd.catalog.read_bytes() == before
    assert not [p for p in wd.root.rglob("*.tmp")]


def test_source_resolution_env_and_missing(tmp_path, monkeypatch):
    z = write_zip(tmp_path / "excellent_unoriented.zip", {OLD_NAME: rruff_text()})
    monkeypatch.setenv("RRUFFGEO_DATA", str(z))
    assert ingest(None, WorkDir(tmp_path / "w"), settings(tmp_path), progress=False).n_spectra == 1
    with pytest.raises(FileNotFoundError, match="not found"):
        ingest(tmp_path / "missing", WorkDir(tmp_path / "w"), settings(tmp_path), progress=False)


def test_cli_ingest_and_summary(tmp_path):
    z = write_zip(tmp_path / "excellent_unoriented.zip", {**good_files(), "bad.txt": b"x"})
    out = run_cli("ingest", "--data", str(z), "--workdir", str(tmp_path / "w"), "--no-progress")
    assert "spectra:  3" in out.stdout and "rejects:  1" in out.stdout
    out = run_cli("summary", "--workdir", str(tmp_path / "w"))
    assert "spectra" in out.stdout and "specimens" in out.stdout and "rejects" in out.stdout
    counts = summary(tmp_path / "w")
    assert counts["spectra"] == 3 and counts["specimens"] == 2 and counts["minerals"] == 2
    assert counts["kinds"] == {"processed": 2, "raw": 1} and counts["rejects"] == 1
    bad = run_cli("ingest", "--data", str(tmp_path / "nothing"), "--workdir",
                  str(tmp_path / "w"), check=False)
    assert bad.returncode == 1 and "not found" in bad.stderr


def test_source_resolution_order(tmp_path, monkeypatch):
    from rruffgeo.cli import build_parser
    from rruffgeo.cli.common import data_of
    from rruffgeo.config import RRUFF_RAMAN_URL
    from rruffgeo.data.catalog import resolve_source

    monkeypatch.delenv("RRUFFGEO_DATA", raising=False)
    (tmp_path / "repo").mkdir()
    monkeypatch.chdir(tmp_path / "repo")
    assert resolve_source(None) == RRUFF_RAMAN_URL  # nothing local: download
    (tmp_path / "shared" / "rruff").mkdir(parents=True)
    # The library never looks around the current folder; the command line does.
    assert resolve_source(None) == RRUFF_RAMAN_URL
    args = build_parser().parse_args(["ingest"])
    assert data_of(args) == str(tmp_path / "shared" / "rruff")
    monkeypatch.setenv("RRUFFGEO_DATA", str(tmp_path / "elsewhere.zip"))
    assert data_of(args) is None
    assert resolve_source(None) == (tmp_path / "elsewhere.zip").resolve()
    assert resolve_source("http://127.0.0.1:1/raman/") == "http://127.0.0.1:1/raman/"


def test_interrupted_parse_resumes_from_finished_units(tmp_path, monkeypatch):
    import rruffgeo.data.parse as parse

    folder = tmp_path / "mirror"
    folder.mkdir()
    write_zip(folder / "excellent_unoriented.zip", good_files())
    write_zip(folder / "fair_unoriented.zip", {OLD_NAME: rruff_text(n=5)})
    wd = WorkDir(tmp_path / "w")
    real = parse.run_task

    def interrupted(task):
        if task[1].endswith("fair_unoriented.zip"):
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(parse, "run_task", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ingest(folder, wd, settings(tmp_path), progress=False)
    assert not wd.catalog.exists()
    assert len(list((wd.root / "cache" / "ingest").iterdir())) == 1  # the finished zip
    monkeypatch.setattr(parse, "run_task", real)
    res = ingest(folder, wd, settings(tmp_path), progress=False)
    assert (res.n_units_parsed, res.n_units_cached, res.n_spectra) == (1, 1, 4)
    assert list((wd.root / "cache" / "ingest").iterdir()) == []  # the catalog holds them now
    fresh = WorkDir(tmp_path / "fresh")
    ingest(folder, fresh, settings(tmp_path), progress=False)
    pd.testing.assert_frame_equal(load_catalog(wd), load_catalog(fresh))
    # Nothing changed: the catalog file is left as it is.
    mtime = wd.catalog.stat().st_mtime_ns
    assert ingest(folder, wd, settings(tmp_path), progress=False).n_units_parsed == 0
    assert wd.catalog.stat().st_mtime_ns == mtime
