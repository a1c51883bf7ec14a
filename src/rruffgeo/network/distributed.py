"""Training past one process with PyTorch's own engine: DistributedDataParallel under torchrun.

``torchrun --standalone --nproc_per_node N -m rruffgeo train|cv ...`` starts N processes with
``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` set; :func:`setup_device` joins them into one process group
(NCCL on CUDA, gloo on CPU). Every rank trains on its own share of each global batch
(``batch_size / N`` spectra, drawn by a ``DistributedSampler``), DDP averages the gradients, so a
step is the step of one process with the whole batch. Evaluation, checkpoints and every file are
written by rank 0 only. Without torchrun (or with N = 1) nothing here changes anything.
"""

from __future__ import annotations

import atexit
import os

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler


def world() -> tuple[int, int]:
    """``(rank, world_size)`` of the running process group; ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """Whether this process evaluates and writes files (rank 0, or no process group)."""
    return world()[0] == 0


def launched_world_size() -> int:
    """``WORLD_SIZE`` set by torchrun (1 when started as a plain process)."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        raise ValueError(f"WORLD_SIZE={os.environ['WORLD_SIZE']!r} is not a number") from None


def setup_device(name: str = "auto", threads: int = 0) -> tuple[str, int]:
    """Join torchrun's process group when launched by it; the device name and CPU threads to use.

    Each rank takes CUDA device ``LOCAL_RANK``; on CPU the usable cores are shared out between
    the ranks when ``threads`` is 0. Call once per process, before building any model.
    """
    size = launched_world_size()
    if size == 1:
        return name, threads
    use_cuda = name == "cuda" or (name == "auto" and torch.cuda.is_available())
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        if use_cuda:
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        atexit.register(_leave)
    if use_cuda:
        return f"cuda:{local_rank}", threads
    if threads <= 0:
        from rruffgeo.parallel import usable_cores

        threads = max(1, usable_cores() // size)
    return "cpu", threads


def _leave() -> None:
    """Leave the process group at exit (torch warns about a group never destroyed)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def local_batch_size(batch_size: int, world_size: int) -> int:
    """Each rank's share of the global batch; the global batch must split evenly."""
    if batch_size % world_size:
        raise ValueError(f"--batch-size {batch_size} does not split evenly over "
                         f"{world_size} processes; use a multiple of {world_size}")
    return batch_size // world_size


def epoch_indices(n: int, seed: int, epoch: int, rank: int = 0, world_size: int = 1
                  ) -> torch.Tensor:
    """This rank's training indices for ``epoch``, in the order they are batched.

    A ``DistributedSampler`` (shuffled, ``set_epoch`` each epoch): the permutation is
    ``randperm(n)`` seeded with ``seed + epoch`` whatever the world size, and rank r takes every
    N-th index from r, so global batch i (the ranks' i-th local batches together) is exactly
    block i of the permutation, the batch a single process takes.
    """
    sampler = DistributedSampler(range(n), num_replicas=world_size, rank=rank, shuffle=True,
                                 seed=seed, drop_last=False)
    sampler.set_epoch(epoch)
    return torch.as_tensor(list(iter(sampler)), dtype=torch.long)


def rank_seed(*parts: int) -> int:
    """A 63-bit seed mixed from integers (seed, epoch, rank ...) for per-rank random streams."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint64)[0]
               >> np.uint64(1))


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """The model to train: DDP-wrapped in a process group of more than one, else itself."""
    if world()[1] == 1:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def sum_over_ranks(*values: float) -> list[float]:
    """Element-wise sum of ``values`` over every rank (the values themselves with one rank)."""
    if world()[1] == 1:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64)
    if dist.get_backend() == "nccl":  # NCCL reduces CUDA tensors only
        t = t.to(torch.device("cuda", torch.cuda.current_device()))
    dist.all_reduce(t)
    return t.cpu().tolist()


def barrier() -> None:
    """Wait for every rank (no-op with one)."""
    if world()[1] > 1:
        dist.barrier()
