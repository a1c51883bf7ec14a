"""Training loop: cross-entropy, schedule-free AdamW, clipping, per-epoch atomic checkpoints.

Determinism: the weights start from ``torch.manual_seed(seed)``; each epoch re-seeds the global
generator (dropout, stochastic depth) and draws its shuffle from its own generator, both from
``(seed, epoch)``. An interrupted run resumed from its last checkpoint therefore takes exactly the
same steps as an uninterrupted one. Validation is reported each epoch but never used to pick
epochs or weights (that would leak the test fold into the model).

The loop is made of small pieces (``start_training``, ``resume``, ``epoch_order``,
``train_step``, ``train_epoch``, ``validate``, ``save_checkpoint``) that ``fit_network`` strings
together; device, precision and inference live in ``model.runtime``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import schedulefree
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from rruffgeo.config import Precision, Settings, TrainSettings
from rruffgeo.network import distributed
from rruffgeo.network.augment import augment_batch, augmentation_from_settings
from rruffgeo.network.convnext1d import ConvNeXt1D, build_network
from rruffgeo.network.curves import epoch_metrics
from rruffgeo.network.modelio import read_checkpoint
from rruffgeo.network.runtime import (
    autocast,
    grad_scaler,
    resolve_train_precision,
    select_device,
    set_determinism,
)
from rruffgeo.workdir import atomic_path

log = logging.getLogger(__name__)

def make_optimizer(model: torch.nn.Module, ts: TrainSettings) -> schedulefree.AdamWScheduleFree:
    """Schedule-free AdamW; weight decay on the groups ``ts.weight_decay_groups`` names.

    "all": every parameter decays (AdamW as the paper names it). "matrices": norm weights and
    biases, all biases and the layer-scale ``gamma`` (every parameter with fewer than two
    dimensions) are not decayed: decaying gamma towards 0 would switch blocks off and decaying
    norm scales fights the normalisation (as in timm's ConvNeXt recipe).
    """
    decay_all = ts.weight_decay_groups == "all"
    decay = [p for p in model.parameters() if decay_all or p.ndim >= 2]
    no_decay = [p for p in model.parameters() if not decay_all and p.ndim < 2]
    groups = [{"params": decay, "weight_decay": ts.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return schedulefree.AdamWScheduleFree(groups, lr=ts.lr, betas=tuple(ts.betas),
                                          weight_decay=ts.weight_decay,
                                          warmup_steps=ts.warmup_steps)


@dataclass
class TrainingState:
    """A network being trained: the model, its optimizer and scaler, and the epochs so far."""

    model: ConvNeXt1D
    optimizer: schedulefree.AdamWScheduleFree
    device: torch.device
    scaler: torch.amp.GradScaler | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    #: What the batches run through: the model, or its DistributedDataParallel wrapper.
    net: torch.nn.Module | None = None
    #: The precision the steps run in (``TrainSettings.precision`` resolved for this device).
    precision: Precision = Precision.FP32

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    def eval(self) -> None:
        """Averaged weights in place (schedule-free) and no dropout: for scoring and saving."""
        self.model.eval()
        self.optimizer.eval()

    def train(self) -> None:
        self.model.train()
        self.optimizer.train()


def start_training(n_classes: int, settings: Settings, input_length: int,
                   device: torch.device) -> TrainingState:
    """A freshly initialised network (seeded) with its optimizer, in eval mode."""
    ts = settings.train
    precision = resolve_train_precision(ts.precision, device)
    set_determinism(device)
    torch.manual_seed(ts.seed)
    model = build_network(n_classes, settings.network, input_length).to(device)
    state = TrainingState(model, make_optimizer(model, ts), device, grad_scaler(device),
                          precision=precision)
    state.eval()
    return state


def resume(state: TrainingState, checkpoint: Path | None, key: str, desc: str) -> None:
    """Load ``checkpoint`` into ``state`` when it was written with the same ``key``."""
    saved = read_checkpoint(checkpoint, state.device, desc) if checkpoint is not None else None
    if saved is None:  # none, or unreadable (a warning said so): start the fold again
        return
    if saved.get("key") != key:
        log.warning("%s: checkpoint %s is from other data/settings; starting over",
                    desc, checkpoint)
        return
    state.model.load_state_dict(saved["model"])
    state.optimizer.load_state_dict(saved["optimizer"])
    state.history = json.loads(saved["history_json"])[: int(saved["epoch"])]
    log.info("%s: resuming after epoch %d from %s", desc, int(saved["epoch"]), checkpoint)
    state.eval()


@dataclass(frozen=True)
class EpochPlan:
    """How this process walks an epoch: its rank, its share of every batch, augmentation."""

    rank: int = 0
    world_size: int = 1
    batch: int = 64
    augmentation: Any = None

    @property
    def main(self) -> bool:
        """Rank 0: the process that evaluates and writes."""
        return self.rank == 0


def epoch_plan(state: TrainingState, ts: TrainSettings,
               grid_step_cm1: float | None) -> EpochPlan:
    """The plan for this process (torchrun rank or a plain run); wraps the model for DDP."""
    rank, world_size = distributed.world()
    state.net = distributed.wrap(state.model, state.device)
    return EpochPlan(rank, world_size, distributed.local_batch_size(ts.batch_size, world_size),
                     augmentation_from_settings(ts, grid_step_cm1))


def train_step(state: TrainingState, xb: torch.Tensor, yb: torch.Tensor, ts: TrainSettings,
               where: str = "training") -> torch.Tensor:
    """One optimizer step on a batch; returns the (detached) batch loss.

    A non-finite loss stops training before the step (NonFiniteLossError), so no NaN reaches
    the weights, a checkpoint or a saved model.
    """
    opt, scaler = state.optimizer, state.scaler
    net = state.net if state.net is not None else state.model
    with autocast(state.device, state.precision):
        loss = F.cross_entropy(net(xb), yb, label_smoothing=ts.label_smoothing)
    loss_value = float(loss.detach())
    if not math.isfinite(loss_value):
        raise NonFiniteLossError(f"{where}: training loss became {loss_value}; stopped "
                                 f"(lower --lr, or check the spectra)")
    opt.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
    else:
        loss.backward()
    if ts.grad_clip_norm > 0:
        torch.nn.utils.clip_grad_norm_(state.model.parameters(), ts.grad_clip_norm)
    if scaler is not None:
        scaler.step(opt)
        scaler.update()
    else:
        opt.step()
    return loss.detach()


def train_epoch(state: TrainingState, X: np.ndarray, yt: torch.Tensor, ts: TrainSettings,
                epoch: int, plan: EpochPlan, on_batch: Callable[[float], None] | None = None,
                where: str = "training") -> tuple[float, int]:
    """One pass over this process's share of the shuffled data (a DistributedSampler's order,
    the same as one process's when alone); the summed loss and spectra count. Leaves the
    state in eval mode."""
    torch.manual_seed(ts.seed * 1_000_003 + epoch + 1 + plan.rank * 7_919)  # dropout, drop-path
    order = distributed.epoch_indices(len(yt), ts.seed * 7919, epoch, plan.rank, plan.world_size)
    gen = torch.Generator().manual_seed(distributed.rank_seed(ts.seed, epoch, plan.rank))
    state.train()
    total, count = 0.0, 0
    for lo in range(0, len(order), plan.batch):
        idx = order[lo:lo + plan.batch]
        xb = batch_tensor(X, idx.numpy()).to(state.device, non_blocking=True)
        yb = yt[idx.to(yt.device)].to(state.device)
        xb = augment_batch(xb, plan.augmentation, gen)
        loss = train_step(state, xb, yb, ts, f"{where}, batch {lo // plan.batch + 1}")
        total += float(loss) * len(yb)
        count += len(yb)
        if on_batch is not None:
            on_batch(total / count)
    state.eval()
    return total, count


def as_labels(y: np.ndarray, device: torch.device) -> torch.Tensor:
    """Class indices as a tensor; moved to the GPU once when training there."""
    yt = torch.as_tensor(np.asarray(y, dtype=np.int64))
    return yt.to(device) if device.type == "cuda" else yt


class _ProgressBar:
    """One tqdm bar over every batch of every epoch, showing loss and validation scores."""

    def __init__(self, desc: str, epochs: int, n_batches: int, start: int, show: bool) -> None:
        self.show = show
        self.bar = tqdm(desc=desc, initial=start * n_batches, total=epochs * n_batches,
                        disable=not show, leave=True, unit="batch", dynamic_ncols=True)
        self.postfix: dict[str, float] = {}

    def batch(self, epoch: int, loss: float) -> None:
        self.bar.update(1)
        if self.show:
            self.postfix.update(epoch=epoch + 1, loss=round(loss, 4))
            self.bar.set_postfix(self.postfix, refresh=False)

    def epoch(self, row: dict[str, float]) -> None:
        self.postfix.update({k: round(v, 4) for k, v in row.items()
                             if k in ("test_accuracy", "val_accuracy")})
        self.bar.set_postfix(self.postfix)

    def close(self) -> None:
        self.bar.close()


def batch_tensor(X: np.ndarray, rows: np.ndarray) -> torch.Tensor:
    """Spectra ``rows`` of ``X`` as a (batch, 1, grid) float32 tensor, read only now: ``X`` may
    be a lazy view of the memory-mapped matrix, so training holds one batch, not the data."""
    return torch.from_numpy(np.asarray(X[rows], dtype=np.float32)).unsqueeze(1)


class NonFiniteLossError(ValueError):
    """The training loss became NaN or inf: training stops rather than save a broken model."""


#: Rows read at a time by ``check_finite_inputs``.
FINITE_CHECK_ROWS = 4096


def check_finite_inputs(X: np.ndarray, what: str, block: int = 0) -> None:
    """ValueError when rows of ``X`` hold NaN or inf (they would turn every weight into NaN).

    Read ``block`` rows at a time: ``X`` may be a lazy view of the memory-mapped matrix."""
    bad: list[int] = []
    block = block or FINITE_CHECK_ROWS
    for lo in range(0, len(X), block):
        rows = np.asarray(X[lo:lo + block])
        finite = np.isfinite(rows).reshape(len(rows), -1).all(axis=1)
        bad.extend(int(lo + i) for i in np.flatnonzero(~finite))
    if bad:
        raise ValueError(f"{what}: {len(bad)} of {len(X)} row(s) hold NaN or inf "
                         f"(first row {bad[0]})")


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


def _train_and_check(state: TrainingState, X: np.ndarray, yt: torch.Tensor,
                     ts: TrainSettings, epoch: int, plan: EpochPlan, bar: _ProgressBar,
                     desc: str, device: torch.device) -> float:
    """One epoch over every rank, then a check that the network's outputs are still finite
    (a diverged step fails here, naming the epoch, not as NaN metrics later); the mean loss."""
    total, count = train_epoch(state, X, yt, ts, epoch, plan,
                               on_batch=lambda mean: bar.batch(epoch, mean),
                               where=f"{desc}: epoch {epoch + 1}")
    probe = batch_tensor(X, np.arange(min(8, len(yt)))).to(device)
    check_finite_model(state.model, probe, desc, epoch + 1)
    total, count = distributed.sum_over_ranks(total, count)
    return total / max(count, 1)


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

    ``X`` is an array or a lazy row view (``MatrixRows``); each batch is read when it is used.

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
    distributed.barrier()  # rank 0 has finished writing what an earlier fold left
    state = start_training(n_classes, settings, int(np.shape(X)[1]), device)
    resume(state, checkpoint, key, desc)
    plan = epoch_plan(state, ts, grid_step_cm1)
    sets = {"test": (X_val, y_val), **(monitor or {})}
    yt = as_labels(y, device)
    n_batches = max(1, math.ceil(math.ceil(len(yt) / plan.world_size) / plan.batch))
    bar = _ProgressBar(desc, ts.epochs, n_batches, state.epochs_done, progress and plan.main)
    for epoch in range(state.epochs_done, ts.epochs):
        t0 = time.perf_counter()
        loss = _train_and_check(state, X, yt, ts, epoch, plan, bar, desc, device)
        row: dict[str, float] = {"epoch": epoch + 1, "step": (epoch + 1) * n_batches,
                                 "train_loss": loss, "train_s": time.perf_counter() - t0}
        if plan.main:
            row.update(epoch_metrics(state.model, sets, device))
        row["epoch_s"] = time.perf_counter() - t0
        state.history.append(row)
        bar.epoch(row)
        log.debug("%s epoch %d: %s", desc, epoch + 1, row)
        if checkpoint is not None and plan.main:
            save_checkpoint(checkpoint, state, key)
        if on_epoch is not None:
            on_epoch(epoch + 1)
    bar.close()
    return state.model, state.history


def save_checkpoint(path: Path, state: TrainingState, key: str) -> None:
    """Model, optimizer (eval mode) and history after ``state.epochs_done`` epochs, atomically."""
    saved = {"model": state.model.state_dict(), "optimizer": state.optimizer.state_dict(),
             "epoch": state.epochs_done, "history_json": json.dumps(state.history), "key": key}
    with atomic_path(path) as tmp:
        torch.save(saved, tmp)
