"""ConvNeXt1D, the paper's network (section 4.2, appendix B.2), for spectra: fast CPU form.

The architecture is exactly the official ConvNeXt / timm one in 1-D: patchify stem (Conv1d k4 s4 +
LayerNorm), four stages of blocks with LayerNorm + Conv1d k2 s2 downsampling between them, head of
global average pool -> LayerNorm -> dropout -> Linear. The block is
``x + DropPath(gamma * PW2(GELU(PW1(LN(DWConv_k7(x))))))``, truncated-normal (std 0.02) weights and
zero biases.

It computes the same function as the straightforward ``ReferenceConvNeXt1D``
(``tests/reference_convnext1d.py``; same ``state_dict`` keys and shapes, outputs and gradients
equal to fp32 rounding; ``tests/test_convnext1d_speed_equivalence.py``) but is laid out for
speed on a CPU, where the straightforward form spends most of its time moving memory rather
than multiplying:

* **Channels-last throughout.** Activations stay ``(N, L, C)`` contiguous from the stem to the
  pooling, so every LayerNorm is a plain last-axis LayerNorm: the two permute copies per block,
  and the transpose copies of the channels-first LayerNorms, disappear (``aten::copy_`` was ~13 %
  of a reference training step).
* **Every convolution and pointwise layer through oneDNN, in place.** ``(N, L, C)`` viewed as
  ``(N, C, 1, L)`` is already a ``torch.channels_last`` 4-D tensor, so pwconv1/pwconv2 run as
  1x1 ``conv2d``, the depthwise k7 and the k2 s2 downsampling as ``conv2d`` with a ``(1, k)``
  kernel, all reading and writing channels-last with no copy. This is the largest win: MKL's
  sgemm behind ``nn.Linear`` may take its AVX2 path where oneDNN uses AVX-512, so the 1x1
  convolutions run faster than the same ``F.linear``, and oneDNN's NHWC depthwise kernel
  faster than the reference's channels-first ``Conv1d(groups=C)`` (docs/guide.md, "Why the
  defaults"). Backward: see :class:`_ConvCL` (bias gradients kept out of oneDNN's
  backward-weights kernels).
* **Stem as a GEMM.** The k4 s4 stem on one input channel is a reshape to ``(N, L/4, 4*C_in)``
  and a Linear with the conv weight permuted to ``(C_out, 4*C_in)`` (its state-dict shape stays
  the ``Conv1d`` one); this produces channels-last directly whatever ``C_in``.
* **Layer scale folded into pwconv2** (``diag(gamma) W2``, ``gamma * b2``): one multiply on a
  weight-sized tensor (at most 256 x 1024) instead of one on the activation, forward and
  backward; autograd differentiates through the fold, so training sees the reference's gradients.
  (Folding the LayerNorm affine into pwconv1 the same way was tried and dropped: PyTorch's CPU
  LayerNorm runs slower *without* an affine than with one.)
* **Fused GELU at inference**: with autograd off, pwconv1 + GELU is one oneDNN call, in fp32
  and, for a network cast to bfloat16 (``predict --precision bf16``), in bf16.
* The residual add (with drop-path, one ``addcmul``) stays separate: oneDNN's fused "add"
  post-op measured no faster. Drop-path draws its Bernoulli masks in the same order and shape as
  the reference, so the same seed gives the same network output in training mode too.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from rruffgeo.config import ModelSettings
from rruffgeo.network import heads
from rruffgeo.network.heads import feature_positions

LN_EPS = 1e-6

#: oneDNN convolution with fused post-ops (CPU builds with mkldnn), None where absent.
_MKLDNN_POINTWISE = (getattr(getattr(torch.ops, "mkldnn", None), "_convolution_pointwise", None)
                     if torch.backends.mkldnn.is_available() else None)


def drop_path_mask(x: torch.Tensor, p: float, training: bool) -> torch.Tensor | None:
    """Per-sample stochastic-depth scale (0 or ``1/(1-p)``), shaped ``(N, 1, 1)``; None when off.

    Draws the Bernoulli sample exactly as the reference's ``drop_path`` does, so both networks
    consume the random stream identically.
    """
    if p == 0.0 or not training:
        return None
    keep = 1.0 - p
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return mask / keep


def _as_nchw_channels_last(x: torch.Tensor) -> torch.Tensor:
    """``(N, L, C)`` -> the ``(N, C, 1, L)`` view, which is channels_last when x is contiguous."""
    x4 = x.transpose(1, 2).unsqueeze(2)
    if not x4.is_contiguous(memory_format=torch.channels_last):
        x4 = x4.contiguous(memory_format=torch.channels_last)
    return x4


def _conv_cl(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: int = 1,
    padding: int = 0,
    groups: int = 1,
) -> torch.Tensor:
    """A Conv1d (``weight`` shaped ``(C_out, C_in/groups, k)``) on channels-last ``(N, L, C)``.

    The transpose + unsqueeze view of ``x`` is a ``torch.channels_last`` ``(N, C, 1, L)`` tensor:
    oneDNN's NHWC kernels read it in place and write channels_last, which transposes back to a
    contiguous ``(N, L', C_out)`` without a copy. oneDNN also uses the CPU's AVX-512 units, where
    MKL's sgemm behind ``nn.Linear`` takes its AVX2 path on this AMD CPU: a 1x1 convolution here
    is 1.5-2x the GEMM rate of the same ``F.linear``, forward and backward.
    """
    y = F.conv2d(_as_nchw_channels_last(x), weight.unsqueeze(2), bias, stride=(1, stride),
                 padding=(0, padding), groups=groups)
    return y.squeeze(2).transpose(1, 2)


def _cpu_autocast_enabled() -> bool:
    """``torch.is_autocast_enabled("cpu")`` across torch versions (the fused path is fp32 only)."""
    try:
        return torch.is_autocast_enabled("cpu")
    except TypeError:  # torch < 2.4
        return torch.is_autocast_cpu_enabled()


def _fused_gelu_available(x: torch.Tensor) -> bool:
    """Whether the forward-only oneDNN conv + GELU kernel may be used for ``x`` (no autograd).

    fp32, or bf16 when the whole network was cast to bf16 (under autocast the weights stay fp32
    and the unfused path lets autocast pick each op's precision).
    """
    return (_MKLDNN_POINTWISE is not None and x.device.type == "cpu"
            and x.dtype in (torch.float32, torch.bfloat16) and not torch.is_grad_enabled()
            and not _cpu_autocast_enabled())


def _conv_gelu_cl(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                  approximate: str) -> torch.Tensor:
    """``GELU(pointwise conv(x))`` in one oneDNN call (GELU as a post-op), channels-last.

    Inference only: the fused kernel never writes the pre-activation, which saves a full read and
    write of the 4x-wide hidden tensor, the largest activation of each block (GELU alone was a
    quarter of inference time).
    """
    y = _MKLDNN_POINTWISE(_as_nchw_channels_last(x), weight.unsqueeze(2), bias, [0, 0], [1, 1],
                          [1, 1], 1, "gelu", [], approximate)
    return y.squeeze(2).transpose(1, 2)


def _patchify_cl(x: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
    """Conv1d with kernel == stride as a GEMM on channels-last ``(N, L, C_in)`` input.

    Returns ``(N, L // k, C_out)``; like the convolution, a ragged tail shorter than k is dropped.
    """
    n, length, c_in = x.shape
    k = conv.kernel_size[0]
    l_out = length // k
    x = x[:, : l_out * k].reshape(n, l_out, k * c_in)
    weight = conv.weight.permute(0, 2, 1).reshape(conv.out_channels, k * c_in)
    return F.linear(x, weight, conv.bias)


class _ConvCL(torch.autograd.Function):
    """``_conv_cl`` with a leaner backward: one oneDNN call for the input and weight gradients,
    and the bias gradient as a plain sum.

    Asking oneDNN's backward-weights kernels for the bias gradient as well slows them more than
    the separate ``sum`` costs (docs/guide.md, "Why the defaults").
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                stride: int, padding: int, groups: int) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.conf = (stride, padding, groups, bias is not None)
        return _conv_cl(x, weight, bias, stride=stride, padding=padding, groups=groups)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        x, weight = ctx.saved_tensors
        stride, padding, groups, has_bias = ctx.conf
        grad_out = grad_out.contiguous()
        grad_x = grad_w = grad_b = None
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        if need_x or need_w:
            grad_x, grad_w, _ = torch.ops.aten.convolution_backward(
                _as_nchw_channels_last(grad_out), _as_nchw_channels_last(x), weight.unsqueeze(2),
                None, [1, stride], [0, padding], [1, 1], False, [0, 0], groups,
                [need_x, need_w, False])
            if need_x:
                grad_x = grad_x.squeeze(2).transpose(1, 2)
            if need_w:
                grad_w = grad_w.squeeze(2)
                if grad_w.stride() != weight.stride():  # depthwise: (C, 1, k) with odd strides
                    grad_w = torch.empty_like(weight).copy_(grad_w)  # as DDP's buckets expect
        if has_bias and need_b:
            grad_b = grad_out.sum((0, 1))
        return grad_x, grad_w, grad_b, None, None, None


class Stem(nn.Sequential):
    """Patchify stem ``Conv1d(k4, s4)`` + LayerNorm: ``(N, C_in, L)`` -> ``(N, L/4, C)``.

    A ``Sequential`` of the two layers only so that its state-dict keys match the reference.
    """

    def __init__(self, in_chans: int, dim: int, patch: int = 4) -> None:
        super().__init__(nn.Conv1d(in_chans, dim, kernel_size=patch, stride=patch),
                         nn.LayerNorm(dim, eps=LN_EPS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv, norm = self[0], self[1]
        x = _patchify_cl(x.transpose(1, 2), conv)
        return F.layer_norm(x, (x.shape[-1],), norm.weight, norm.bias, norm.eps)


class Downsample(nn.Sequential):
    """LayerNorm + ``Conv1d(k2, s2)`` between stages, channels-last in and out.

    The strided convolution reads the channels-last LayerNorm output in place (``_ConvCL``).
    """

    def __init__(self, dim_in: int, dim_out: int, stride: int = 2) -> None:
        super().__init__(nn.LayerNorm(dim_in, eps=LN_EPS),
                         nn.Conv1d(dim_in, dim_out, kernel_size=stride, stride=stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm, conv = self[0], self[1]
        c_in, k = x.shape[-1], conv.kernel_size[0]
        l_out = x.shape[1] // k
        x = F.layer_norm(x[:, : l_out * k], (c_in,), norm.weight, norm.bias, norm.eps)
        return _ConvCL.apply(x, conv.weight, conv.bias, k, 0, 1)


class Block(nn.Module):
    """ConvNeXt1D block (paper eq. 5) on channels-last ``(N, L, C)`` tensors."""

    def __init__(self, dim: int, drop_path: float = 0.0, layer_scale_init: float = 1e-6) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(layer_scale_init * torch.ones(dim))
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[-1]
        h = _ConvCL.apply(x, self.dwconv.weight, self.dwconv.bias, 1, self.dwconv.padding[0], c)
        h = F.layer_norm(h, (c,), self.norm.weight, self.norm.bias, self.norm.eps)
        w1, b1 = self.pwconv1.weight, self.pwconv1.bias
        if _fused_gelu_available(h):
            h = _conv_gelu_cl(h, w1[:, :, None], b1, self.act.approximate)
        else:
            h = self.act(_ConvCL.apply(h, w1[:, :, None], b1, 1, 0, 1))
        w2 = self.pwconv2.weight * self.gamma[:, None]
        b2 = self.pwconv2.bias * self.gamma
        h = _ConvCL.apply(h, w2[:, :, None], b2, 1, 0, 1)
        mask = drop_path_mask(x, self.drop_path, self.training)
        if mask is None:
            return x + h
        return torch.addcmul(x, h, mask)


class ConvNeXt1D(nn.Module):
    """The paper's ConvNeXt1D classifier: (N, in_chans, L) spectra -> (N, num_classes) logits.

    Parameters
    ----------
    num_classes : int
        Output logits.
    in_chans : int
        Input channels (1 for a spectrum).
    depths, dims : sequence of int
        Blocks and channels per stage (paper: (2, 2, 3, 2) and (32, 64, 128, 256)).
    drop_path_rate : float
        Stochastic-depth rate of the last block, linearly rising from 0 at the first.
    head_dropout : float
        Dropout before the classifier.
    layer_scale_init : float
        Initial layer-scale ``gamma`` (paper: 1e-6).
    head_pool : a ``config.Head`` name, e.g. "avg" or "flatten"
        How the last stage's map is pooled before dropout -> Linear (``model.heads``):
        ``"avg"`` (the paper) averages over positions; ``"flatten"`` keeps every position.
        Average pooling does not make the network translation-invariant: a last-stage position
        sees 848 input points and zero padding marks where a spectrum starts, so the pooled
        features can still say where a band is. On RRUFF the avg head learns slowly (at the
        class prior for its first several hundred steps); flatten fits sooner (README).
    input_length : int, optional
        Spectrum length; required by heads that keep positions (it sizes the Linear layer).
    input_pool : int
        Average every ``input_pool`` neighbouring points before the stem (a ragged tail is
        dropped): the network learns on a coarser grid than the spectra it is given.
    """

    def __init__(
        self,
        num_classes: int,
        in_chans: int = 1,
        depths: Sequence[int] = (2, 2, 3, 2),
        dims: Sequence[int] = (32, 64, 128, 256),
        drop_path_rate: float = 0.0,
        head_dropout: float = 0.0,
        layer_scale_init: float = 1e-6,
        head_pool: str = "avg",
        input_length: int | None = None,
        input_pool: int = 1,
    ) -> None:
        super().__init__()
        if len(depths) != len(dims):
            raise ValueError(f"depths {tuple(depths)} and dims {tuple(dims)} differ in length")
        if input_pool < 1:
            raise ValueError(f"input_pool {input_pool}: must be at least 1")
        self.pool = heads.head_pool(head_pool)
        self.num_classes = num_classes
        self.head_pool = str(head_pool)
        self.input_length = input_length
        self.input_pool = int(input_pool)
        pooled_length = None if input_length is None else input_length // self.input_pool
        self.positions = self.pool.positions(pooled_length, len(dims))
        if self.positions < 1:
            raise ValueError(f"input_length {input_length} is too short for {len(dims)} stages")
        self.downsample_layers = nn.ModuleList([Stem(in_chans, dims[0])])
        for i in range(len(dims) - 1):
            self.downsample_layers.append(Downsample(dims[i], dims[i + 1]))
        rates = drop_path_rates(depths, drop_path_rate)
        self.stages = nn.ModuleList()
        start = 0
        for i, depth in enumerate(depths):
            self.stages.append(
                nn.Sequential(*[Block(dims[i], rates[start + j], layer_scale_init)
                                for j in range(depth)])
            )
            start += depth
        self.norm = nn.LayerNorm(dims[-1], eps=LN_EPS)
        self.head_drop = nn.Dropout(head_dropout)
        self.head = nn.Linear(dims[-1] * self.positions, num_classes)
        self.apply(init_weights)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last stage's unpooled, channels-last map ``(N, L / (32 input_pool), dims[-1])``
        of ``(N, in_chans, L)`` spectra (as timm's ``forward_features``)."""
        if x.ndim != 3:
            raise ValueError(f"expected (N, in_chans, L) input, got shape {tuple(x.shape)}")
        if self.pool.needs_input_length and x.shape[-1] != self.input_length:
            raise ValueError(f"this network was built for spectra of {self.input_length} "
                             f"points, got {x.shape[-1]}")
        if self.input_pool > 1:
            x = F.avg_pool1d(x, self.input_pool)
        for down, stage in zip(self.downsample_layers, self.stages, strict=True):
            x = stage(down(x))
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Logits ``(N, num_classes)`` from the feature map, or the pooled, normalised
        features before dropout and the classifier with ``pre_logits``."""
        x = self.pool.pool(x, self.norm)
        return x if pre_logits else self.head(self.head_drop(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def build_network(n_classes: int, ms: ModelSettings, input_length: int) -> ConvNeXt1D:
    """The paper's ConvNeXt1D with the settings' sizes, head and regularisation."""
    return ConvNeXt1D(n_classes, in_chans=1, depths=ms.depths, dims=ms.dims,
                      drop_path_rate=ms.drop_path_rate, head_dropout=ms.head_dropout,
                      layer_scale_init=ms.layer_scale_init, head_pool=ms.head_pool,
                      input_length=input_length, input_pool=ms.pool_for(input_length))


__all__ = ["ConvNeXt1D", "build_network", "drop_path_rates", "feature_positions", "init_weights"]


def drop_path_rates(depths: Sequence[int], max_rate: float) -> list[float]:
    """Stochastic-depth rate of every block, rising linearly from 0 to ``max_rate`` (ConvNeXt)."""
    return torch.linspace(0, max_rate, sum(depths)).tolist()


def init_weights(module: nn.Module) -> None:
    """Truncated normal std 0.02 for conv and linear weights, zero biases (paper eq. 7)."""
    if isinstance(module, (nn.Conv1d, nn.Linear)):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
