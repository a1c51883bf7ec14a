import pandas as pd
import pytest

from rruffgeo.workdir import WorkDir, atomic_path, write_parquet_atomic


def test_atomic_path_leaves_target_untouched_on_error(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_parquet_written_atomically_opens_with_pandas(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "arr": [[1.0, 2.0], [3.0]]})
    write_parquet_atomic(tmp_path / "t.parquet", df)
    back = pd.read_parquet(tmp_path / "t.parquet")
    assert back["a"].tolist() == [1, 2]
    assert list(back["arr"][0]) == [1.0, 2.0]


def test_require_names_the_stage_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="rruffgeo ingest"):
        WorkDir(tmp_path).require("catalog.parquet", "ingest")


def test_atomic_write_gives_ordinary_permissions(tmp_path):
    write_parquet_atomic(tmp_path / "t.parquet", pd.DataFrame({"a": [1]}))
    assert (tmp_path / "t.parquet").stat().st_mode & 0o044 == 0o044


def test_read_json_treats_missing_and_broken_files_as_absent(tmp_path):
    from rruffgeo.workdir import read_json, write_json_atomic

    assert read_json(tmp_path / "missing.json") is None
    (tmp_path / "cut.json").write_text('{"key": "ab')  # an interrupted non-atomic write
    assert read_json(tmp_path / "cut.json") is None
    write_json_atomic(tmp_path / "ok.json", {"key": "ab", "n": [1, 2]})
    assert read_json(tmp_path / "ok.json") == {"key": "ab", "n": [1, 2]}


def test_run_settings_round_trip_and_unreadable_ones_are_absent(tmp_path):
    from rruffgeo.config import ProvenanceSettings, Settings, replace

    wd = WorkDir(tmp_path / "w")
    assert wd.load_run_settings() is None
    s = replace(Settings(), provenance=ProvenanceSettings(knn_k=(5,), seed=3))
    wd.save_run_settings(s)
    assert wd.run_settings == tmp_path / "w" / "run_settings.json"
    assert wd.load_run_settings() == s
    wd.run_settings.write_text('{"train": {"epochs": 0}}')  # no longer valid settings
    assert wd.load_run_settings() is None
    wd.run_settings.write_text("{broken")
    assert wd.load_run_settings() is None


def test_paths_are_pure_and_keep_their_file_names(tmp_path):
    from rruffgeo.workdir import FIG_COUNTRY_MAP

    wd = WorkDir(tmp_path / "w")
    assert wd.figure(FIG_COUNTRY_MAP, ".png") == tmp_path / "w" / "figures" / "fig1_country_map.png"
    assert wd.model_metas() == []
    assert not wd.root.exists()  # naming a path creates nothing
    assert wd.catalog == tmp_path / "w" / "catalog.parquet"  # the data files: their folder too
    assert wd.geocoded.name == "geocoded.parquet" and wd.rejects.name == "rejects.csv"
    meta = wd.model_dir("holdout", "specimen") / "model.json"
    meta.parent.mkdir(parents=True)
    meta.write_text("{}")
    assert wd.model_metas() == [meta]
