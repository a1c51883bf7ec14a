"""Reference ConvNeXt1D: the straightforward, timm-style implementation (the speed baseline).

This is the original ``rruffgeo.network.convnext1d`` verbatim, kept with the tests (only tests and
benchmarks use it) as the numerical reference and the baseline that ``benchmarks/bench_model.py``
measures the fast
:class:`rruffgeo.network.convnext1d.ConvNeXt1D` against. Both have identical ``state_dict`` keys
and shapes, so weights load either way, and share the weight initialisation and the
stochastic-depth schedule (not timed). Do not optimise this file.

Layout follows the official ConvNeXt / timm code: patchify stem (Conv1d k4 s4 + LayerNorm),
four stages of blocks with LayerNorm + Conv1d k2 s2 downsampling between them, head of global
average pool -> LayerNorm -> dropout -> Linear. The block is
``x + DropPath(gamma * PW2(GELU(PW1(LN(DWConv_k7(x))))))``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from rruffgeo.network.convnext1d import drop_path_rates, init_weights


class LayerNorm1d(nn.Module):
    """LayerNorm over the channel axis of a (N, C, L) tensor."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2)
        x = F.layer_norm(x, (x.shape[-1],), self.weight, self.bias, self.eps)
        return x.transpose(1, 2)


def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Stochastic depth: zero whole samples' residual branches with probability ``p``."""
    if p == 0.0 or not training:
        return x
    keep = 1.0 - p
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep


class Block(nn.Module):
    """ConvNeXt1D block (paper eq. 5)."""

    def __init__(self, dim: int, drop_path: float = 0.0, layer_scale_init: float = 1e-6) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(layer_scale_init * torch.ones(dim))
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.dwconv(x)
        x = x.permute(0, 2, 1)  # (N, L, C)
        x = self.norm(x)
        x = self.pwconv1(x)
        x = self.act(x)
        x = self.pwconv2(x)
        x = self.gamma * x
        x = x.permute(0, 2, 1)  # (N, C, L)
        return shortcut + drop_path(x, self.drop_path, self.training)


class ReferenceConvNeXt1D(nn.Module):
    """The paper's ConvNeXt1D classifier: (N, 1, L) spectra -> (N, num_classes) logits."""

    def __init__(
        self,
        num_classes: int,
        in_chans: int = 1,
        depths: Sequence[int] = (2, 2, 3, 2),
        dims: Sequence[int] = (32, 64, 128, 256),
        drop_path_rate: float = 0.0,
        head_dropout: float = 0.0,
        layer_scale_init: float = 1e-6,
    ) -> None:
        super().__init__()
        if len(depths) != len(dims):
            raise ValueError(f"depths {tuple(depths)} and dims {tuple(dims)} differ in length")
        self.num_classes = num_classes
        self.downsample_layers = nn.ModuleList()
        self.downsample_layers.append(
            nn.Sequential(nn.Conv1d(in_chans, dims[0], kernel_size=4, stride=4),
                          LayerNorm1d(dims[0]))
        )
        for i in range(len(dims) - 1):
            self.downsample_layers.append(
                nn.Sequential(LayerNorm1d(dims[i]),
                              nn.Conv1d(dims[i], dims[i + 1], kernel_size=2, stride=2))
            )
        rates = drop_path_rates(depths, drop_path_rate)
        self.stages = nn.ModuleList()
        start = 0
        for i, depth in enumerate(depths):
            self.stages.append(
                nn.Sequential(*[Block(dims[i], rates[start + j], layer_scale_init)
                                for j in range(depth)])
            )
            start += depth
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.head_drop = nn.Dropout(head_dropout)
        self.head = nn.Linear(dims[-1], num_classes)
        self.apply(init_weights)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        for down, stage in zip(self.downsample_layers, self.stages, strict=True):
            x = stage(down(x))
        return self.norm(x.mean(dim=-1))

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.head_drop(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

