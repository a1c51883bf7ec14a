"""DistributedDataParallel: 2 gloo ranks on CPU take the steps of one process with the same
global batch, and only rank 0 writes (the model records its world size)."""

import json
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file

from ddp_worker import run_rank
from rruffgeo.config import replace
from rruffgeo.network import distributed
from rruffgeo.network.train import fit_network, start_training
from synthetic_learn import make_workdir, tiny_settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_settings():
    """Tiny grid and network, dropout, drop-path and augmentation off (each rank draws its own
    random numbers), 4 steps at batch 8.

    Layer scale starts at 0.1, not 1e-6: with gamma at 1e-6 the last block's pwconv gradients
    are about 1e-8, the size of Adam's epsilon, where Adam turns their float32 rounding
    differences (two partial sums against one) into update differences of ~1e-4 of a step.
    """
    s = tiny_settings(epochs=1, grid=64, augment=False)
    return replace(s, model=replace(s.model, head_dropout=0.0, drop_path_rate=0.0,
                                    layer_scale_init=0.1),
                   train=replace(s.train, batch_size=8, lr=1e-2, threads=1, n_folds=2))


def test_epoch_indices_split_each_global_batch_between_ranks():
    one = distributed.epoch_indices(32, seed=7, epoch=3)
    ranks = [distributed.epoch_indices(32, seed=7, epoch=3, rank=r, world_size=2)
             for r in range(2)]
    for i in range(4):  # global batch i of 8 = local batch i of 4 on each rank
        merged = torch.cat([r[4 * i:4 * i + 4] for r in ranks])
        assert sorted(merged.tolist()) == sorted(one[8 * i:8 * i + 8].tolist())
    assert not torch.equal(one, distributed.epoch_indices(32, seed=7, epoch=4))


def test_batch_must_split_evenly_over_ranks():
    with pytest.raises(ValueError, match="--batch-size 10 does not split evenly over 4"):
        distributed.local_batch_size(10, 4)


def test_two_gloo_ranks_match_one_process(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((32, 64)).astype(np.float32)
    y = np.arange(32) % 4
    s = _ddp_settings()
    wd = make_workdir(tmp_path / "wd", n_countries=2, specimens=4)
    # fork: the ranks start in well under a second instead of re-importing torch (spawn)
    mp.start_processes(run_rank, args=(2, _free_port(), X, y, 4, s, str(tmp_path),
                                       str(wd.root)), nprocs=2, join=True, start_method="fork")

    torch.set_num_threads(1)
    torch.manual_seed(s.train.seed)
    initial = start_training(4, s, X.shape[1], torch.device("cpu")).model.state_dict()
    single, history = fit_network(X, y, 4, s, progress=False, device=torch.device("cpu"))
    ddp = load_file(str(tmp_path / "ddp.safetensors"))
    moved = 0
    for name, value in single.state_dict().items():
        torch.testing.assert_close(ddp[name], value, rtol=1e-5, atol=1e-6, msg=name)
        moved += not torch.allclose(value, initial[name])
    assert moved > len(ddp) // 2  # 4 steps at lr 1e-2 moved the weights: the match means something
    ddp_history = json.loads((tmp_path / "ddp_history.json").read_text())
    for a, b in zip(ddp_history, history, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)

    meta = json.loads((wd.root / "models/holdout_specimen/model.json").read_text())
    assert meta["world_size"] == 2
    report = json.loads((wd.root / "metrics/train_specimen.json").read_text())
    assert report["world_size"] == 2 and len(report["folds"]) == 1
