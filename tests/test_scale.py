"""Bounded memory: batch-wise catalog reading, chunked matrix writing, lazy rows for training and
the baselines; and the benchmark's mirror generator (issue 14)."""

import hashlib
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

import rruffgeo.spectra.matrix as matrix_mod
from rruffgeo.config import IngestSettings, SpectraSettings
from rruffgeo.data import ingest
from rruffgeo.network.baseline import majority_scores, nn1_cosine_scores
from rruffgeo.network.train import fit_network
from rruffgeo.spectra import MatrixRows, build_matrix
from rruffgeo.spectra.matrix import iter_catalog_spectra
from rruffgeo.workdir import WorkDir
from synthetic_learn import make_workdir, tiny_settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import make_mirror  # noqa: E402


def rruff_file(rid: str, locality: str, n: int = 40, start: float = 100.0) -> bytes:
    rows = "".join(f"{start + 2.0 * i:.4f}, {abs(np.sin(i / 3)) * 100 + i:.6g}\r\n"
                   for i in range(n))
    return (f"##NAMES=Quartz\r\n##RRUFFID={rid}\r\n##LOCALITY={locality}\r\n"
            f"##URL=rruff.info/{rid}\r\n{rows}##END=\r\n").encode()


def source_folder(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    members = {
        f"Quartz__R0{k}0001__Raman__532__0__unoriented__Raman_Data_Processed__{k}.txt":
            rruff_file(f"R0{k}0001", f"Mine {k}, Brazil", start=100.0 + k)
        for k in range(3)
    }
    with zipfile.ZipFile(src / "excellent_unoriented.zip", "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return src


def test_mirror_copies_are_new_specimens_with_shifted_spectra(tmp_path):
    src = source_folder(tmp_path)
    assert make_mirror.main(["3", str(tmp_path / "out"), "--data", str(src)]) == 0
    with zipfile.ZipFile(src / "excellent_unoriented.zip") as zf:
        original = {n: zf.read(n) for n in zf.namelist()}
    with zipfile.ZipFile(tmp_path / "out" / "excellent_unoriented.zip") as zf:
        copies = {n: zf.read(n) for n in zf.namelist()}
    assert len(copies) == 9
    for name, data in original.items():
        assert copies[name] == data  # copy 0 is the file itself
    name = next(iter(original))
    twin = make_mirror.new_name(name, 2)
    assert "__R000001__" in name and "__R02000001__" in twin
    text = copies[twin].decode()
    assert "##RRUFFID=R02000001\r\n" in text and "##LOCALITY=Mine 0, Brazil" in text
    assert "##URL=rruff.info/R02000001" in text and text.endswith("##END=\r\n")

    res = ingest(tmp_path / "out", WorkDir(tmp_path / "wd"), IngestSettings(workers=1),
                 progress=False)
    assert res.n_spectra == 9 and res.n_rejects == 0
    cat = pq.read_table(res.catalog_path).to_pandas()
    assert cat["specimen_id"].nunique() == 9
    first = cat[cat["specimen_id"] == "R000001"].iloc[0]
    again = cat[cat["specimen_id"] == "R02000001"].iloc[0]
    shift = again["wavenumber_cm1"] - first["wavenumber_cm1"]
    assert np.allclose(shift, shift[0], atol=1e-3) and 0 < abs(shift[0]) <= 1.5
    assert not np.allclose(again["intensity"], first["intensity"])
    # Deterministic: the same N and seed give the same bytes.
    assert make_mirror.main(["3", str(tmp_path / "out2"), "--data", str(src)]) == 0
    assert ((tmp_path / "out2" / "excellent_unoriented.zip").read_bytes()
            == (tmp_path / "out" / "excellent_unoriented.zip").read_bytes())


def test_mirror_refuses_bad_arguments(tmp_path, capsys):
    assert make_mirror.main(["0", str(tmp_path / "o"), "--data", str(tmp_path)]) == 2
    assert make_mirror.main(["2", str(tmp_path / "o"), "--data", str(tmp_path)]) == 2
    assert "no .zip files" in capsys.readouterr().err


def test_catalog_is_written_in_small_row_groups(tmp_path, monkeypatch):
    import rruffgeo.data.catalog as catalog

    monkeypatch.setattr(catalog, "ROW_GROUP_ROWS", 2)
    src = source_folder(tmp_path)
    make_mirror.main(["2", str(tmp_path / "out"), "--data", str(src)])
    res = ingest(tmp_path / "out", WorkDir(tmp_path / "wd"), IngestSettings(workers=1),
                 progress=False)
    meta = pq.read_metadata(res.catalog_path)
    assert meta.num_rows == 6 and meta.num_row_groups == 3
    sizes = [len(b.ids) for b in iter_catalog_spectra(res.catalog_path, batch_rows=4)]
    assert sizes == [4, 2]


def test_matrix_built_in_small_batches_is_the_same_matrix(tmp_path, monkeypatch):
    wd = make_workdir(tmp_path / "a")
    whole = build_matrix(wd, SpectraSettings(grid_points=96))
    meta_whole = json.loads((wd.root / "spectra" / "meta.json").read_text())
    monkeypatch.setattr(matrix_mod, "BATCH_ROWS", 5)
    wd_b = make_workdir(tmp_path / "b")
    batched = build_matrix(wd_b, SpectraSettings(grid_points=96), progress=True)
    meta_b = json.loads((wd_b.root / "spectra" / "meta.json").read_text())
    np.testing.assert_array_equal(np.asarray(batched.X), np.asarray(whole.X))
    assert batched.index.equals(whole.index)
    assert meta_b["matrix_sha256"] == meta_whole["matrix_sha256"] == hashlib.sha256(
        np.ascontiguousarray(batched.X).tobytes()).hexdigest()


def test_spectrum_failing_at_resampling_leaves_no_row(tmp_path, monkeypatch):
    # Finite input whose spline overflows: it fails (alone, the run goes on) after its row of
    # the matrix was reserved.
    x = np.linspace(100.0, 1300.0, 50)
    huge = {"spectrum_id": "set/huge.txt", "specimen_id": "RHUGE", "mineral": "Q",
            "kind": "raw", "laser_nm": 532.0, "wavenumber_cm1": x.tolist(),
            "intensity": (np.where(np.arange(50) % 2, 1.7e308, -1.7e308)).tolist()}
    monkeypatch.setattr(matrix_mod, "BATCH_ROWS", 4)
    wd = make_workdir(tmp_path, extra_rows=[huge])
    m = build_matrix(wd, SpectraSettings(grid_points=64))
    assert list(m.failures["spectrum_id"]) == ["set/huge.txt"]
    assert "spline cannot be fitted" in m.failures["reason"].iloc[0]
    assert m.X.shape == (len(m.index), 64) and "set/huge.txt" not in set(m.index["spectrum_id"])
    assert np.isfinite(np.asarray(m.X)).all()


def test_npy_written_in_batches_shrinks_to_the_rows_kept(tmp_path):
    data = np.arange(1000 * 3, dtype=np.float32).reshape(1000, 3)
    path = tmp_path / "m.npy"
    path.write_bytes(matrix_mod._npy_header(1000, 3) + data.tobytes())
    np.testing.assert_array_equal(np.load(path), data)
    matrix_mod._shrink_rows(path, 7, 3)
    np.testing.assert_array_equal(np.load(path, mmap_mode="r"), data[:7])


def test_matrix_rows_read_only_when_asked(tmp_path):
    data = np.arange(40, dtype=np.float32).reshape(10, 4)
    np.save(tmp_path / "m.npy", data)
    mapped = np.load(tmp_path / "m.npy", mmap_mode="r")
    view = MatrixRows(mapped, np.array([7, 2, 5, 9]))
    sub = view[np.array([3, 0, 1])]
    assert isinstance(sub, MatrixRows) and sub.shape == (3, 4) and len(sub) == 3
    np.testing.assert_array_equal(np.asarray(sub), data[[9, 7, 2]])
    np.testing.assert_array_equal(np.asarray(view[1:3], dtype=np.float64), data[[2, 5]])
    np.testing.assert_array_equal(view[0], data[7])


def test_recipe_search_pools_the_lazy_rows_load_dataset_gives():
    """benchmarks/recipe_search.py --pool 4 averages the matrix 4:1; ``load_dataset`` gives
    ``MatrixRows``, which cannot be sliced along the grid, so pooling must read them first."""
    import recipe_search

    data = np.arange(30, dtype=np.float32).reshape(3, 10)
    view = MatrixRows(data, np.array([2, 0]))
    want = data[[2, 0], :8].reshape(2, 2, 4).mean(axis=2)
    np.testing.assert_allclose(recipe_search.pooled(view, 4), want)
    np.testing.assert_allclose(recipe_search.pooled(view, 4, block=1), want)  # row by row
    assert recipe_search.pooled(view, 1) is view


def test_nn1_in_blocks_equals_one_block_and_reads_lazy_rows():
    rng = np.random.default_rng(3)
    X = rng.random((60, 16)).astype(np.float32)
    y = rng.integers(0, 4, 60)
    tr, te = np.arange(0, 60, 3), np.setdiff1d(np.arange(60), np.arange(0, 60, 3))
    one = nn1_cosine_scores(X[tr], y[tr], X[te], 5, chunk=1000)
    view = MatrixRows(X)
    blocks = nn1_cosine_scores(view[tr], y[tr], view[te], 5, chunk=7)
    np.testing.assert_allclose(blocks, one, rtol=1e-6)
    assert np.isneginf(blocks[:, 4]).all()


def test_majority_scores_give_the_majority_rate():
    y_train = np.array([2, 2, 2, 0, 1, 1])
    scores = majority_scores(y_train, 4, 4)
    assert scores.shape == (4, 4) and (scores.argmax(1) == 2).all()
    assert list(np.argsort(-scores[0])[:3]) == [2, 1, 0] and scores[0, 3] == 0


class CountingRows(MatrixRows):
    """A lazy view that records the most rows read at once."""

    most = 0

    def read(self, dtype=None):
        CountingRows.most = max(CountingRows.most, len(self.rows))
        return super().read(dtype)

    def __getitem__(self, key):
        out = super().__getitem__(key)
        return CountingRows(out.source, out.rows) if isinstance(out, MatrixRows) else out


def test_training_reads_batches_not_the_whole_data(monkeypatch):
    import rruffgeo.network.train as train_mod

    monkeypatch.setattr(train_mod, "FINITE_CHECK_ROWS", 8)
    rng = np.random.default_rng(0)
    X = rng.random((40, 64)).astype(np.float32)
    y = np.arange(40) % 4
    s = tiny_settings(epochs=2, grid=64)
    cpu = torch.device("cpu")
    _, hist_array = fit_network(X, y, 4, s, progress=False, device=cpu, grid_step_cm1=2.0)
    CountingRows.most = 0
    _, hist_lazy = fit_network(CountingRows(X), y, 4, s, progress=False, device=cpu,
                                grid_step_cm1=2.0)
    assert 0 < CountingRows.most <= s.train.batch_size
    lazy, eager = ([h["train_loss"] for h in hist] for hist in (hist_lazy, hist_array))
    assert lazy == pytest.approx(eager, rel=1e-6)
