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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import schedulefree
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from rruffgeo.config import Settings, TrainSettings
from rruffgeo.model.convnext1d import ConvNeXt1D, build_network
from rruffgeo.model.metrics import fold_metrics
from rruffgeo.model.modelio import read_checkpoint
from rruffgeo.model.runtime import (
    autocast,
    grad_scaler,
    predict_proba,
    select_device,
    set_determinism,
)
from rruffgeo.workdir import atomic_path

log = logging.getLogger(__name__)


def make_optimizer(model: torch.nn.Module, ts: TrainSettings) -> schedulefree.AdamWScheduleFree:
    """Schedule-free AdamW; weight decay on conv/linear weights only.

    Norm weights and biases, all biases and the layer-scale ``gamma`` (every parameter with
    fewer than two dimensions) are not decayed: decaying gamma towards 0 would switch blocks off
    and decaying norm scales fights the normalisation (as in timm's ConvNeXt recipe).
    """
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
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
    set_determinism(device)
    torch.manual_seed(ts.seed)
    model = build_network(n_classes, settings.model, input_length).to(device)
    state = TrainingState(model, make_optimizer(model, ts), device, grad_scaler(device))
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


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """Seed the global generator for ``epoch`` (dropout, drop-path) and draw its shuffle."""
    torch.manual_seed(seed * 1_000_003 + epoch + 1)
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 7919 + epoch))


def train_step(state: TrainingState, xb: torch.Tensor, yb: torch.Tensor,
               grad_clip_norm: float, where: str = "training") -> torch.Tensor:
    """One optimizer step on a batch; returns the (detached) batch loss.

    A non-finite loss stops training before the step (NonFiniteLossError), so no NaN reaches
    the weights, a checkpoint or a saved model.
    """
    opt, scaler = state.optimizer, state.scaler
    with autocast(state.device):
        loss = F.cross_entropy(state.model(xb), yb)
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
    if grad_clip_norm > 0:
        torch.nn.utils.clip_grad_norm_(state.model.parameters(), grad_clip_norm)
    if scaler is not None:
        scaler.step(opt)
        scaler.update()
    else:
        opt.step()
    return loss.detach()


def train_epoch(state: TrainingState, Xt: torch.Tensor, yt: torch.Tensor, ts: TrainSettings,
                epoch: int, on_batch: Callable[[float], None] | None = None,
                where: str = "training") -> float:
    """One pass over the shuffled data; the mean loss. Leaves the state in eval mode."""
    order = epoch_order(len(yt), ts.seed, epoch)
    state.train()
    total, count = 0.0, 0
    for lo in range(0, len(yt), ts.batch_size):
        idx = order[lo:lo + ts.batch_size].to(Xt.device)
        xb, yb = Xt[idx].to(state.device, non_blocking=True), yt[idx].to(state.device)
        batch_no = lo // ts.batch_size + 1
        loss = train_step(state, xb, yb, ts.grad_clip_norm, f"{where}, batch {batch_no}")
        total += float(loss) * len(yb)
        count += len(yb)
        if on_batch is not None:
            on_batch(total / count)
    state.eval()
    return total / max(count, 1)


def validate(state: TrainingState, X_val: np.ndarray | None,
             y_val: np.ndarray | None) -> dict[str, float]:
    """Accuracy and macro F1 on the validation spectra (reported, never used to choose)."""
    if X_val is None or y_val is None or not len(y_val):
        return {}
    m = fold_metrics(np.asarray(y_val), predict_proba(state.model, X_val, state.device))
    return {"val_accuracy": m["accuracy"], "val_f1_macro": m["f1_macro"]}


def as_tensors(X: np.ndarray, y: np.ndarray, device: torch.device
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Spectra ``(n, 1, L)`` float32 and labels; moved to the GPU once when training there."""
    Xt = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32)).unsqueeze(1)
    yt = torch.as_tensor(np.asarray(y, dtype=np.int64))
    if device.type == "cuda":
        Xt, yt = Xt.to(device), yt.to(device)
    return Xt, yt


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
                             if k in ("val_accuracy", "val_f1_macro")})
        self.bar.set_postfix(self.postfix)

    def close(self) -> None:
        self.bar.close()


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
) -> tuple[ConvNeXt1D, list[dict[str, float]]]:
    """Train a ConvNeXt1D on ``X`` (n, grid) float32 and class indices ``y``.

    With ``checkpoint``, the state after every epoch is written there atomically (optimizer in
    eval mode, as schedule-free requires) and a matching checkpoint (same ``key``) is resumed.
    Returns the model in eval mode (averaged weights) and the per-epoch history.
    """
    ts = settings.train
    check_finite_inputs(X, "training spectra")
    device = device or select_device(ts.device, ts.threads)
    state = start_training(n_classes, settings, int(np.shape(X)[1]), device)
    resume(state, checkpoint, key, desc)
    Xt, yt = as_tensors(X, y, device)
    n_batches = max(1, -(-len(yt) // ts.batch_size))
    bar = _ProgressBar(desc, ts.epochs, n_batches, state.epochs_done, progress)
    for epoch in range(state.epochs_done, ts.epochs):
        t0 = time.perf_counter()
        loss = train_epoch(state, Xt, yt, ts, epoch,
                           on_batch=lambda mean, e=epoch: bar.batch(e, mean),
                           where=f"{desc}: epoch {epoch + 1}")
        check_finite_model(state.model, Xt[:8].to(device), desc, epoch + 1)
        row: dict[str, float] = {"epoch": epoch + 1, "loss": loss,
                                 "train_s": time.perf_counter() - t0}
        row.update(validate(state, X_val, y_val))
        row["epoch_s"] = time.perf_counter() - t0
        state.history.append(row)
        bar.epoch(row)
        log.debug("%s epoch %d: %s", desc, epoch + 1, row)
        if checkpoint is not None:
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
