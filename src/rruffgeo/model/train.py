"""Training loop: cross-entropy, schedule-free AdamW, clipping, per-epoch atomic checkpoints.

Determinism: the weights start from ``torch.manual_seed(seed)``; each epoch re-seeds the global
generator (dropout, stochastic depth) and draws its shuffle from its own generator, both from
``(seed, epoch)``. An interrupted run resumed from its last checkpoint therefore takes exactly the
same steps as an uninterrupted one. Validation is reported each epoch but never used to pick
epochs or weights (that would leak the test fold into the model).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import logging
import math
import os
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import schedulefree
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from rruffgeo.config import PRECISIONS, Settings, TrainSettings
from rruffgeo.model import distributed
from rruffgeo.model.augment import augment_batch, augmentation_from_settings
from rruffgeo.model.convnext1d import ConvNeXt1D
from rruffgeo.model.curves import epoch_metrics
from rruffgeo.model.modelio import build_network, read_checkpoint
from rruffgeo.workdir import atomic_path

log = logging.getLogger(__name__)

#: Values of ``TrainSettings.weight_decay_groups``.
WEIGHT_DECAY_GROUPS = ("all", "matrices")


def select_device(name: str = "auto", threads: int = 0) -> torch.device:
    """``auto`` = CUDA when present, else CPU; on CPU use ``threads`` (0 = usable cores)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda requested but no CUDA device is available")
    if device.type == "cpu":
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        torch.set_num_threads(threads if threads > 0 else max(1, int(cores or 1)))
    return device


def set_determinism(device: torch.device) -> None:
    """Ask torch for deterministic kernels (warn, not fail, where none exists)."""
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)


def autocast(device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """bf16 (or fp16) mixed precision on CUDA; full precision on CPU."""
    if device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()


def make_optimizer(model: torch.nn.Module, ts: TrainSettings) -> schedulefree.AdamWScheduleFree:
    """Schedule-free AdamW; weight decay on the groups ``ts.weight_decay_groups`` names.

    "all": every parameter decays (AdamW as the paper names it). "matrices": norm weights and
    biases, all biases and the layer-scale ``gamma`` (every parameter with fewer than two
    dimensions) are not decayed: decaying gamma towards 0 would switch blocks off and decaying
    norm scales fights the normalisation (as in timm's ConvNeXt recipe).
    """
    if ts.weight_decay_groups not in WEIGHT_DECAY_GROUPS:
        raise ValueError(f"weight_decay_groups {ts.weight_decay_groups!r}: choose one of "
                         f"{', '.join(WEIGHT_DECAY_GROUPS)}")
    decay_all = ts.weight_decay_groups == "all"
    decay = [p for p in model.parameters() if decay_all or p.ndim >= 2]
    no_decay = [p for p in model.parameters() if not decay_all and p.ndim < 2]
    groups = [{"params": decay, "weight_decay": ts.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return schedulefree.AdamWScheduleFree(groups, lr=ts.lr, betas=tuple(ts.betas),
                                          weight_decay=ts.weight_decay,
                                          warmup_steps=ts.warmup_steps)


@functools.cache
def cpu_bf16_unsupported_reason() -> str | None:
    """Why oneDNN cannot run bf16 convolutions on this CPU, or None when it can.

    oneDNN's bf16 kernels need AVX512-BW/VL/DQ or AVX-NE-CONVERT; on an AVX2-only CPU they raise
    at the first call. A tiny network takes every kernel path once per process, so the choice is
    made from what the CPU really does rather than from a list of flags.
    """
    capability = torch.backends.cpu.get_cpu_capability()
    probe = ConvNeXt1D(2, depths=(1, 1), dims=(8, 16)).to(torch.bfloat16).eval()
    try:
        with torch.no_grad():
            probe(torch.zeros(1, 1, 64, dtype=torch.bfloat16))
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return f"this CPU ({capability}) has no bf16 convolution kernels: {first}"
    return None


def inference_network(model: ConvNeXt1D, precision: str = "fp32",
                      device: torch.device | None = None) -> ConvNeXt1D:
    """The network to predict with: itself for fp32, a bfloat16 copy (eval mode) for bf16.

    bf16 on a CPU whose oneDNN has no bf16 kernels (AVX2-only machines) falls back to fp32 with
    a one-line warning rather than failing deep inside the first convolution.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return model
    if device is None or device.type == "cpu":
        reason = cpu_bf16_unsupported_reason()
        if reason is not None:
            warnings.warn(f"--precision bf16 falls back to fp32: {reason}", stacklevel=2)
            return model
    return copy.deepcopy(model).to(torch.bfloat16).eval()


@torch.no_grad()
def predict_proba(model: ConvNeXt1D, X: np.ndarray, device: torch.device,
                  batch_size: int = 256) -> np.ndarray:
    """Class probabilities (n, n_classes) for spectra X (n, grid); model must be in eval mode.

    Spectra are fed in the network's own dtype (fp32, or bf16 for ``inference_network(...,
    "bf16")``); probabilities are always float32.
    """
    out = []
    dtype = next(model.parameters()).dtype
    for lo in range(0, len(X), batch_size):
        xb = torch.as_tensor(np.asarray(X[lo:lo + batch_size], dtype=np.float32)).unsqueeze(1)
        xb = xb.to(dtype)
        with autocast(device):
            logits = model(xb.to(device))
        out.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    if not out:
        return np.zeros((0, model.num_classes), dtype=np.float32)
    return np.concatenate(out)


class NonFiniteLossError(ValueError):
    """The training loss became NaN or inf: training stops rather than save a broken model."""


def check_finite_inputs(X: np.ndarray, what: str) -> None:
    """ValueError when rows of ``X`` hold NaN or inf (they would turn every weight into NaN)."""
    finite = np.isfinite(np.asarray(X)).reshape(len(X), -1).all(axis=1)
    if not finite.all():
        raise ValueError(f"{what}: {int((~finite).sum())} of {len(X)} row(s) hold NaN or inf "
                         f"(first row {int(np.flatnonzero(~finite)[0])})")


def check_finite_model(model: torch.nn.Module, probe: torch.Tensor, desc: str,
                       epoch: int) -> None:
    """NonFiniteLossError when the weights, or the logits of ``probe`` (a few training
    spectra, eval mode), hold NaN or inf: the last steps of an epoch can blow the weights up
    with no later batch to show it in the loss. Such a state is never checkpointed or saved."""
    bad = [n for n, p in model.named_parameters() if not torch.isfinite(p).all()]
    if not bad:
        with torch.no_grad():
            if not torch.isfinite(model(probe)).all():
                bad = ["the logits of training spectra"]
    if bad:
        raise NonFiniteLossError(f"{desc}: weights became NaN or inf in epoch {epoch} (first: "
                                 f"{bad[0]}); stopped (lower --lr, or check the spectra)")


def fit_network(
    X: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    settings: Settings,
    *,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    checkpoint: Path | None = None,
    key: str = "",
    progress: bool = True,
    desc: str = "train",
    device: torch.device | None = None,
    on_epoch: Callable[[int], None] | None = None,
    monitor: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    grid_step_cm1: float | None = None,
) -> tuple[ConvNeXt1D, list[dict[str, float]]]:
    """Train a ConvNeXt1D on ``X`` (n, grid) float32 and class indices ``y``.

    With ``checkpoint``, the state after every epoch is written there atomically (optimizer in
    eval mode, as schedule-free requires) and a matching checkpoint (same ``key``) is resumed.
    Returns the model in eval mode (averaged weights) and the per-epoch history: the learning
    curves (``train_loss``; ``test_*`` on ``X_val``/``y_val``, the fold's test part; ``val_*``
    etc. on each set of ``monitor``). ``grid_step_cm1`` converts ``aug_shift_cm1`` to points.
    Under torchrun every rank calls this with the same data (``model.distributed``).
    """
    ts = settings.train
    check_finite_inputs(X, "training spectra")
    device = device or select_device(ts.device, ts.threads)
    set_determinism(device)
    torch.manual_seed(ts.seed)
    model = build_network(n_classes, settings.model, int(np.shape(X)[1])).to(device)
    opt = make_optimizer(model, ts)
    scaler = (torch.amp.GradScaler("cuda") if device.type == "cuda"
              and not torch.cuda.is_bf16_supported() else None)
    history: list[dict[str, float]] = []
    start = 0
    distributed.barrier()  # rank 0 has finished writing what an earlier fold left
    state = read_checkpoint(checkpoint, device, desc) if checkpoint is not None else None
    if state is not None:
        if state.get("key") == key:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            start = int(state["epoch"])
            history = json.loads(state["history_json"])
            log.info("%s: resuming after epoch %d from %s", desc, start, checkpoint)
        else:
            log.warning("%s: checkpoint %s is from other data/settings; starting over",
                        desc, checkpoint)

    # ---- issue 9: ranks, augmentation and monitored sets (model/distributed, augment, curves)
    rank, world_size = distributed.world()
    main = rank == 0
    batch = distributed.local_batch_size(ts.batch_size, world_size)
    net = distributed.wrap(model, device)
    aug = augmentation_from_settings(ts, grid_step_cm1)
    sets = {"test": (X_val, y_val), **(monitor or {})}
    # ---- end issue 9
    Xt = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32)).unsqueeze(1)
    yt = torch.as_tensor(np.asarray(y, dtype=np.int64))
    if device.type == "cuda":
        Xt, yt = Xt.to(device), yt.to(device)
    n = len(yt)
    per_rank = math.ceil(n / world_size)  # what a DistributedSampler gives each rank
    n_batches = max(1, math.ceil(per_rank / batch))
    bar = tqdm(desc=desc, initial=start * n_batches, total=ts.epochs * n_batches,
               disable=not (progress and main), leave=True, unit="batch", dynamic_ncols=True)
    postfix: dict[str, float] = {}
    model.eval()
    opt.eval()
    for epoch in range(start, ts.epochs):
        t0 = time.perf_counter()
        torch.manual_seed(ts.seed * 1_000_003 + epoch + 1 + rank * 7_919)
        order = distributed.epoch_indices(n, ts.seed * 7919, epoch, rank, world_size)
        gen = torch.Generator().manual_seed(distributed.rank_seed(ts.seed, epoch, rank))
        model.train()
        opt.train()
        total, count = 0.0, 0
        for lo in range(0, len(order), batch):
            idx = order[lo:lo + batch].to(Xt.device)
            xb, yb = Xt[idx].to(device, non_blocking=True), yt[idx].to(device)
            xb = augment_batch(xb, aug, gen)
            with autocast(device):
                loss = F.cross_entropy(net(xb), yb, label_smoothing=ts.label_smoothing)
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                raise NonFiniteLossError(f"{desc}: training loss became {loss_value} at epoch "
                                         f"{epoch + 1}, batch {lo // batch + 1}; "
                                         f"stopped (lower --lr, or check the spectra)")
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
            else:
                loss.backward()
            if ts.grad_clip_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), ts.grad_clip_norm)
            if scaler is not None:
                scaler.step(opt)
                scaler.update()
            else:
                opt.step()
            total += loss_value * len(yb)
            count += len(yb)
            bar.update(1)
            if progress and main:
                postfix.update(epoch=epoch + 1, loss=round(total / count, 4))
                bar.set_postfix(postfix, refresh=False)
        model.eval()
        opt.eval()
        check_finite_model(model, Xt[:8].to(device), desc, epoch + 1)
        total, count = distributed.sum_over_ranks(total, count)
        row: dict[str, float] = {"epoch": epoch + 1, "step": (epoch + 1) * n_batches,
                                 "train_loss": total / max(count, 1),
                                 "train_s": time.perf_counter() - t0}
        if main:
            row.update(epoch_metrics(model, sets, device))
        row["epoch_s"] = time.perf_counter() - t0
        history.append(row)
        postfix.update({k: round(v, 4) for k, v in row.items()
                        if k in ("test_accuracy", "val_accuracy")})
        bar.set_postfix(postfix)
        log.debug("%s epoch %d: %s", desc, epoch + 1, row)
        if checkpoint is not None and main:
            _save_checkpoint(checkpoint, model, opt, epoch + 1, history, key)
        if on_epoch is not None:
            on_epoch(epoch + 1)
    bar.close()
    model.eval()
    opt.eval()
    return model, history


def _save_checkpoint(path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer,
                     epoch: int, history: list[dict[str, float]], key: str) -> None:
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch,
             "history_json": json.dumps(history), "key": key}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
