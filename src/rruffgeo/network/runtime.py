"""Where and how the network runs: device, CPU threads, determinism, precision and inference.

Nothing here changes what a network computes, only where and how fast: training
(``model.train``), evaluation and prediction share these, and prediction never imports the
training loop. bf16 inference falls back to fp32 (one warning line) on CPUs whose oneDNN has no
bf16 kernels (AVX2-only machines), found by trying rather than from a list of CPU flags. Training
in ``--precision auto`` takes bf16 autocast only where the CPU also computes bf16 natively
(AVX512-BF16 or AMX), where it is faster than fp32.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import os
import warnings
from typing import Any

import numpy as np
import torch

from rruffgeo.checks import SettingError
from rruffgeo.config import PRECISIONS, Precision, TrainPrecision
from rruffgeo.network.convnext1d import ConvNeXt1D
from rruffgeo.parallel import usable_cores


def select_device(name: str = "auto", threads: int | None = None) -> torch.device:
    """``auto`` = CUDA when present, else CPU; ValueError when CUDA is asked for but absent.

    ``threads`` (when given) also sets the CPU thread count, as ``set_threads`` does.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: no CUDA device is available")
    if threads is not None:
        set_threads(threads, device)
    return device


def set_threads(threads: int, device: torch.device) -> None:
    """On CPU, use ``threads`` torch threads (0 = one per usable core); process-wide."""
    if device.type != "cpu":
        return
    torch.set_num_threads(threads if threads > 0 else usable_cores())


def set_determinism(device: torch.device) -> None:
    """Ask torch for deterministic kernels (warn, not fail, where none exists)."""
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)


def autocast(device: torch.device, precision: Precision | str = "fp32"
             ) -> contextlib.AbstractContextManager[Any]:
    """bf16 (or fp16) mixed precision on CUDA; on CPU bf16 autocast when ``precision`` is
    "bf16" (as ``resolve_train_precision`` gives it), else full precision."""
    if device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    if precision == Precision.BF16:
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def resolve_train_precision(precision: TrainPrecision | str, device: torch.device) -> Precision:
    """The precision training runs in on ``device``: "auto" is bf16 autocast where the CPU has
    native bf16 (and oneDNN runs it), else fp32; an explicit "bf16" on a CPU without bf16
    kernels is refused, saying why (one line). On CUDA the answer only labels the run: it
    always trains in mixed precision (``autocast``)."""
    if precision not in {p.value for p in TrainPrecision}:
        raise SettingError(f"--precision {precision}: choose one of "
                           f"{', '.join(p.value for p in TrainPrecision)}")
    if device.type != "cpu":
        return Precision.BF16 if precision != TrainPrecision.FP32 else Precision.FP32
    if precision == TrainPrecision.AUTO:
        fast = cpu_has_native_bf16() and cpu_bf16_unsupported_reason() is None
        return Precision.BF16 if fast else Precision.FP32
    if precision == TrainPrecision.BF16:
        reason = cpu_bf16_unsupported_reason()
        if reason:
            raise SettingError(f"--precision bf16: {reason}; use --precision fp32")
    return Precision(precision)


def cpu_has_native_bf16() -> bool:
    """Whether the CPU computes in bf16 natively (AVX512-BF16 or AMX), where bf16 autocast is
    faster than fp32; elsewhere oneDNN emulates it (AVX-512 without BF16) or refuses (AVX2)."""
    checks = [getattr(torch.cpu, name, None) for name in
              ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(bool(check()) for check in checks if check is not None)


def grad_scaler(device: torch.device) -> torch.amp.GradScaler | None:
    """A loss scaler where mixed precision is fp16 (CUDA without bf16), else None."""
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.amp.GradScaler("cuda")
    return None


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


def inference_network(model: ConvNeXt1D, precision: Precision | str = "fp32",
                      device: torch.device | None = None) -> ConvNeXt1D:
    """The network to predict with: itself for fp32, a bfloat16 copy (eval mode) for bf16.

    bf16 on a CPU whose oneDNN has no bf16 kernels (AVX2-only machines) falls back to fp32 with
    a one-line warning rather than failing deep inside the first convolution.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if precision == Precision.FP32:
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
