"""Training in bf16 autocast on CPUs that have bf16 kernels, refused with a reason elsewhere."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rruffgeo.cli import main
from rruffgeo.config import replace
from rruffgeo.network import runtime
from rruffgeo.network.runtime import cpu_bf16_unsupported_reason, predict_proba
from rruffgeo.network.train import fit_network
from synthetic_learn import make_workdir, tiny_settings


def _bands(n: int = 48) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    grid = np.arange(64, dtype=np.float32)
    y = np.arange(n) % 3
    X = np.stack([np.exp(-0.5 * ((grid - 12 - 18 * c) / 2) ** 2) + rng.normal(0, 0.02, 64)
                  for c in y]).astype(np.float32)
    return X, y


def _settings(precision: str):
    s = tiny_settings(epochs=25, grid=64, augment=False)
    return replace(s, model=replace(s.model, drop_path_rate=0.0, head_dropout=0.0),
                   train=replace(s.train, batch_size=16, lr=1e-2, weight_decay=0.0,
                                 precision=precision))


def test_bf16_training_learns_and_is_not_the_fp32_run():
    reason = cpu_bf16_unsupported_reason()
    if reason:
        pytest.skip(f"needs bf16 CPU kernels (AVX512-BW/VL/DQ or AVX-NE-CONVERT): {reason}")
    X, y = _bands()
    cpu = torch.device("cpu")
    bf16, hist_bf16 = fit_network(X, y, 3, _settings("bf16"), progress=False, device=cpu)
    fp32, hist_fp32 = fit_network(X, y, 3, _settings("fp32"), progress=False, device=cpu)
    assert hist_bf16[-1]["train_loss"] < 0.5 * hist_bf16[0]["train_loss"]
    assert (predict_proba(bf16, X, cpu).argmax(1) == y).mean() > 0.9
    assert next(bf16.parameters()).dtype == torch.float32  # mixed precision: fp32 weights
    assert hist_bf16[0]["train_loss"] != hist_fp32[0]["train_loss"]  # bf16 really ran


def test_bf16_training_is_refused_with_the_reason_where_the_cpu_has_no_kernels(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runtime, "cpu_bf16_unsupported_reason",
                        lambda: "this CPU (AVX2) has no bf16 convolution kernels")
    wd = make_workdir(tmp_path / "w")
    rc = main(["train", "--workdir", str(wd.root), "--grid-points", "64", "--epochs", "1",
               "--precision", "bf16", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1
    assert "--precision bf16" in err[0] and "no bf16 convolution kernels" in err[0]
    assert "Traceback" not in err[0]
