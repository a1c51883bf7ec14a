"""NaN and inf are caught (issue 11.3): cached matrix, model weights, training loss."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from safetensors.torch import load_file, save_file

import rruffgeo.spectra.integrity as integrity
from rruffgeo.cli import main
from rruffgeo.config import SpectraSettings, replace
from rruffgeo.errors import UserError
from rruffgeo.network.modelio import WEIGHTS, build_network, load_model, save_model
from rruffgeo.network.train import NonFiniteLossError, fit_network
from rruffgeo.spectra import build_matrix
from rruffgeo.spectra.integrity import matrix_digest
from synthetic_learn import make_workdir, spectrum, tiny_settings


def _poke(path, value: float) -> None:
    X = np.load(path, mmap_mode="r+")
    X[1, 5] = value
    X.flush()
    del X


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0.123])
def test_damaged_cached_matrix_is_rebuilt(tmp_path, value, caplog):
    wd = make_workdir(tmp_path)
    first = build_matrix(wd, SpectraSettings(grid_points=64))
    expected = np.array(first.X)
    del first
    _poke(wd.root / "spectra" / "matrix.npy", value)
    integrity._verified.clear()  # as in a new process
    again = build_matrix(wd, SpectraSettings(grid_points=64))
    np.testing.assert_array_equal(np.asarray(again.X), expected)
    assert "rebuilding" in caplog.text
    assert ("NaN or inf" if not np.isfinite(value) else "SHA-256 differs") in caplog.text


def test_matrix_hashed_once_per_process(tmp_path, monkeypatch):
    wd = make_workdir(tmp_path)
    build_matrix(wd, SpectraSettings(grid_points=64))  # written here: known good
    integrity._verified.clear()
    calls = []
    real = integrity.matrix_digest
    monkeypatch.setattr(integrity, "matrix_digest", lambda X: calls.append(1) or real(X))
    for _ in range(3):
        build_matrix(wd, SpectraSettings(grid_points=64))
    assert len(calls) == 1


def test_streamed_digest_equals_whole_array_digest():
    X = np.random.default_rng(0).random((37, 11)).astype(np.float32)
    X[3, 2] = np.nan
    digest, bad = matrix_digest(X, chunk_bytes=100)
    assert digest == hashlib.sha256(X.tobytes()).hexdigest() and bad == 1


def _tiny_model(folder):
    s = tiny_settings()
    net = build_network(3, s.model, 64)
    return save_model(folder, net, ["BRA", "ITA", "USA"], ["Brazil", "Italy", "USA"],
                      np.linspace(100, 1300, 64), s)


def test_model_with_nan_weights_is_refused_in_one_line(tmp_path, capsys):
    folder = _tiny_model(tmp_path / "model")
    load_model(folder)  # intact: loads
    state = load_file(str(folder / WEIGHTS))
    state["head.weight"][0, 0] = float("nan")
    save_file(state, str(folder / WEIGHTS))
    with pytest.raises(UserError, match="head.weight"):
        load_model(folder)
    x, y = spectrum(0, np.random.default_rng(0))
    csv = tmp_path / "s.csv"
    csv.write_text("\n".join(f"{a},{b}" for a, b in zip(x, y, strict=True)) + "\n")
    rc = main(["predict", "--model", str(folder), str(csv)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1
    assert "model.safetensors" in err[0] and "NaN or inf" in err[0]


def _unchecked_lr(s, lr):
    """TrainSettings with an lr past validation's bound (frozen dataclass, set directly): the
    stand-in for any run that diverges although its settings were accepted."""
    ts = replace(s.train, epochs=1)
    object.__setattr__(ts, "lr", lr)
    return replace(s, train=ts)


def test_training_stops_when_the_loss_is_not_finite():
    rng = np.random.default_rng(0)
    X = rng.random((32, 64)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    s = tiny_settings(epochs=2)
    huge = np.full_like(X, 3e38)  # finite inputs whose activations overflow
    with pytest.raises(NonFiniteLossError, match="epoch 1, batch 1: training loss became nan"):
        fit_network(huge, y, 3, s, progress=False, grid_step_cm1=2.0)
    # One step that blows the weights up, no batch after it to show a NaN loss.
    with pytest.raises(NonFiniteLossError, match="weights became NaN or inf in epoch 1"):
        fit_network(X[:8], y[:8], 3, _unchecked_lr(s, 1e30), progress=False,
                    grid_step_cm1=2.0)
    X[4, 7] = np.nan
    with pytest.raises(ValueError, match=r"1 of 32 row\(s\) hold NaN"):
        fit_network(X, y, 3, s, progress=False, grid_step_cm1=2.0)
