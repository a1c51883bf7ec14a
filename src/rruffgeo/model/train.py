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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import schedulefree
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from rruffgeo.config import PRECISIONS, Settings, TrainSettings
from rruffgeo.model.convnext1d import ConvNeXt1D
from rruffgeo.model.metrics import fold_metrics
from rruffgeo.model.modelio import build_network, read_checkpoint
from rruffgeo.workdir import atomic_path

log = logging.getLogger(__name__)


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

    ``X`` is an array or a lazy row view (``MatrixRows``); each batch is read when it is used.

    With ``checkpoint``, the state after every epoch is written there atomically (optimizer in
    eval mode, as schedule-free requires) and a matching checkpoint (same ``key``) is resumed.
    Returns the model in eval mode (averaged weights) and the per-epoch history.
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

    yt = torch.as_tensor(np.asarray(y, dtype=np.int64))
    n = len(yt)
    n_batches = max(1, -(-n // ts.batch_size))
    bar = tqdm(desc=desc, initial=start * n_batches, total=ts.epochs * n_batches,
               disable=not progress, leave=True, unit="batch", dynamic_ncols=True)
    postfix: dict[str, float] = {}
    model.eval()
    opt.eval()
    for epoch in range(start, ts.epochs):
        t0 = time.perf_counter()
        torch.manual_seed(ts.seed * 1_000_003 + epoch + 1)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(ts.seed * 7919 + epoch))
        model.train()
        opt.train()
        total, count = 0.0, 0
        for lo in range(0, n, ts.batch_size):
            idx = order[lo:lo + ts.batch_size]
            xb, yb = batch_tensor(X, idx.numpy()).to(device), yt[idx].to(device)
            with autocast(device):
                loss = F.cross_entropy(model(xb), yb)
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                raise NonFiniteLossError(f"{desc}: training loss became {loss_value} at epoch "
                                         f"{epoch + 1}, batch {lo // ts.batch_size + 1}; "
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
            if progress:
                postfix.update(epoch=epoch + 1, loss=round(total / count, 4))
                bar.set_postfix(postfix, refresh=False)
        model.eval()
        opt.eval()
        check_finite_model(model, batch_tensor(X, np.arange(min(8, n))).to(device), desc,
                           epoch + 1)
        row: dict[str, float] = {"epoch": epoch + 1, "loss": total / max(count, 1),
                                 "train_s": time.perf_counter() - t0}
        if X_val is not None and y_val is not None and len(y_val):
            m = fold_metrics(np.asarray(y_val), predict_proba(model, X_val, device))
            row.update(val_accuracy=m["accuracy"], val_f1_macro=m["f1_macro"])
        row["epoch_s"] = time.perf_counter() - t0
        history.append(row)
        postfix.update({k: round(v, 4) for k, v in row.items()
                        if k in ("val_accuracy", "val_f1_macro")})
        bar.set_postfix(postfix)
        log.debug("%s epoch %d: %s", desc, epoch + 1, row)
        if checkpoint is not None:
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
