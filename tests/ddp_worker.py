"""One rank of the 2-process DistributedDataParallel test (spawned by tests/test_distributed.py).

Each rank joins the process group the way torchrun's ranks do (``RANK``/``WORLD_SIZE``/
``MASTER_*`` in the environment, read by ``model.distributed.setup_device``), trains on the same
data, and rank 0 writes the weights and history for the parent to compare with one process.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from rruffgeo.config import Settings
from rruffgeo.network import distributed
from rruffgeo.network.evaluate import run_train
from rruffgeo.network.train import fit_network
from rruffgeo.workdir import WorkDir


def run_rank(rank: int, world_size: int, port: int, X: np.ndarray, y: np.ndarray,
             n_classes: int, settings: Settings, out: str, workdir: str | None = None) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    distributed.setup_device("cpu", 1)
    model, history = fit_network(X, y, n_classes, settings, progress=False,
                                 device=torch.device("cpu"))
    if rank == 0:
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(Path(out) / "ddp.safetensors"))
        (Path(out) / "ddp_history.json").write_text(json.dumps(history))
    if workdir is not None:  # the whole `rruffgeo train` path: rank 0 alone scores and writes
        run_train(WorkDir(workdir), settings, split="specimen", progress=False)
