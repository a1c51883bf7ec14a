import json

import numpy as np
import pytest
import torch

from rruffgeo import open_model
from rruffgeo.network import Predictor, load_model, run_train
from rruffgeo.network.runtime import cpu_bf16_unsupported_reason, predict_proba
from synthetic_learn import make_workdir, spectrum, tiny_settings


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("wd")
    run_train(make_workdir(root), tiny_settings(epochs=2), split="specimen", progress=False)
    return root / "models" / "holdout_specimen"


def test_a_network_on_its_own_coarser_grid_saves_and_predicts_on_the_spectra_grid(tmp_path):
    from dataclasses import replace

    settings = tiny_settings(epochs=1, grid=128)
    settings = replace(settings, model=replace(settings.model, input_pool=2))
    run_train(make_workdir(tmp_path), settings, split="specimen", progress=False)
    folder = tmp_path / "models" / "holdout_specimen"
    meta = json.loads((folder / "model.json").read_text())
    assert meta["settings"]["model"]["input_pool"] == 2 and meta["grid_cm1"]["points"] == 128
    bundle = load_model(folder)
    assert bundle.model.input_pool == 2
    X = np.random.default_rng(0).random((4, 128)).astype(np.float32)
    np.testing.assert_allclose(predict_proba(bundle.model, X, torch.device("cpu")).sum(1), 1,
                               rtol=1e-5)


def _write_csv(path, x, y, header=True, sep=","):
    lines = (["wavenumber,intensity"] if header else []) + [f"{a}{sep}{b}" for a, b in
                                                            zip(x, y, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_model_round_trip_without_pickle(model_dir):
    files = sorted(p.name for p in model_dir.iterdir())
    assert "model.safetensors" in files and "model.json" in files
    assert not any(f.endswith((".pt", ".pkl", ".pickle")) for f in files)
    meta = json.loads((model_dir / "model.json").read_text())
    assert meta["classes"] == ["BRA", "ITA", "USA"] and meta["grid_cm1"]["points"] == 64
    a, b = load_model(model_dir), load_model(model_dir)
    X = np.random.default_rng(0).random((5, 64)).astype(np.float32)
    pa = predict_proba(a.model, X, torch.device("cpu"))
    np.testing.assert_array_equal(pa, predict_proba(b.model, X, torch.device("cpu")))
    np.testing.assert_allclose(pa.sum(1), 1, rtol=1e-5)


def test_predict_refuses_bad_files_and_predicts_the_rest(model_dir, tmp_path):
    rng = np.random.default_rng(5)
    good = _write_csv(tmp_path / "good.csv", *spectrum(1, rng))
    bare = _write_csv(tmp_path / "bare.txt.csv", *spectrum(0, rng), header=False, sep=";")
    text = tmp_path / "text.csv"
    text.write_text("wavenumber,intensity\n100,1\n200,abc\n")
    few = _write_csv(tmp_path / "few.csv", [100, 200, 300, 400, 500], [1, 2, 3, 2, 1])
    far = _write_csv(tmp_path / "far.csv", *spectrum(0, rng, lo=5000, hi=6000))
    missing = tmp_path / "missing.csv"
    result = open_model(model_dir).predict_files([good, text, few, bare, far, missing],
                                                 preprocess="none")
    table, refused = result.table(top_k=2), result.refused
    assert list(table.columns) == ["file", "rank", "country_iso3", "country_name",
                                   "probability"]
    assert table["file"].unique().tolist() == [str(good), str(bare)]
    assert table.groupby("file")["rank"].apply(list).tolist() == [[1, 2], [1, 2]]
    reasons = dict(refused)
    assert "line 3" in reasons[str(text)] and "abc" in reasons[str(text)]
    assert "need at least" in reasons[str(few)]
    assert "does not overlap" in reasons[str(far)]
    assert str(missing) in reasons
    # The CLI prints reasons alone, so each must name its own file.
    assert all(f in reason for f, reason in refused)
    assert (table["probability"].diff().fillna(-1)[table["rank"] == 2] <= 0).all()


def test_predictor_reads_rruff_txt(model_dir, tmp_path):
    pytest.importorskip("rruffgeo.data.rruff_file")
    x, y = spectrum(2, np.random.default_rng(0))
    body = "\n".join(f"{a:.2f}, {b:.4f}" for a, b in zip(x, y, strict=True))
    f = tmp_path / "Quartz__R000001__Raman__532__0__unoriented__Raman_Data_Processed__1.txt"
    f.write_text(f"##NAMES=Quartz\n##RRUFFID=R000001\n##LOCALITY=Italy\n{body}\n##END=\n")
    result = open_model(model_dir).predict_files([f], preprocess="none")
    assert result.refused == [] and result.proba.shape == (1, 3)


def test_the_one_predict_path_gives_the_loaded_networks_probabilities(model_dir, tmp_path):
    x, y = spectrum(1, np.random.default_rng(7))
    f = _write_csv(tmp_path / "one.csv", x, y)
    predictor = Predictor(model_dir)
    row = predictor.prepare(x, y, str(f))
    result = open_model(model_dir).predict_files([f], preprocess="none")
    np.testing.assert_allclose(result.proba, predictor.predict_proba(row[None]), atol=1e-6)


def test_bf16_prediction_is_close_to_fp32(model_dir):
    reason = cpu_bf16_unsupported_reason()
    if reason is not None:
        pytest.skip(f"needs bf16 CPU kernels (AVX512-BW/VL/DQ or AVX-NE-CONVERT): {reason}")
    X = np.random.default_rng(3).random((40, 64)).astype(np.float32)
    fp32 = Predictor(model_dir).predict_proba(X)
    fast = Predictor(model_dir, precision="bf16")
    assert next(fast.network.parameters()).dtype == torch.bfloat16
    bf16 = fast.predict_proba(X)
    assert bf16.dtype == np.float32
    np.testing.assert_allclose(bf16, fp32, atol=2e-2)
    np.testing.assert_allclose(bf16.sum(1), 1, rtol=1e-5)
    with pytest.raises(ValueError, match="choose one of fp32, bf16"):
        Predictor(model_dir, precision="fp16")


def test_bf16_falls_back_to_fp32_with_a_warning_where_the_cpu_has_no_bf16(model_dir):
    if cpu_bf16_unsupported_reason() is None:
        pytest.skip("this CPU runs bf16 convolutions; the fallback is for AVX2-only CPUs")
    X = np.random.default_rng(3).random((10, 64)).astype(np.float32)
    with pytest.warns(UserWarning, match="falls back to fp32"):
        fast = Predictor(model_dir, precision="bf16")
    assert next(fast.network.parameters()).dtype == torch.float32
    np.testing.assert_array_equal(fast.predict_proba(X), Predictor(model_dir).predict_proba(X))


def test_cli_predict_bf16_never_ends_in_a_traceback(model_dir, tmp_path, capsys):
    import contextlib
    import warnings

    from rruffgeo.cli import main

    x, y = spectrum(1, np.random.default_rng(5))
    f = tmp_path / "s.csv"
    f.write_text("\n".join(f"{a},{b}" for a, b in zip(x, y, strict=True)))
    falls_back = cpu_bf16_unsupported_reason() is not None
    expect = pytest.warns(UserWarning, match="falls back to fp32") if falls_back \
        else contextlib.nullcontext()
    with expect:
        rc = main(["predict", str(f), "--model", str(model_dir), "--precision", "bf16"])
    assert rc == 0 and "Traceback" not in capsys.readouterr().err
    shown = warnings.formatwarning("bf16 falls back", UserWarning, "x.py", 1)
    assert shown == "rruffgeo: warning: bf16 falls back\n"
