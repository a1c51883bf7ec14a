"""Classifier heads of ConvNeXt1D: how the last stage's feature map becomes one vector.

A registry in the manner of timm's ``ClassifierHead(pool_type=...)``: each head is a small class
registered under its ``config.Head`` name, saying how many positions it keeps and how it pools
the channels-last map ``(N, L, C)`` with the network's final LayerNorm. The network owns the
LayerNorm, the dropout and the Linear layer (so state-dict keys do not depend on the head); the
head decides only the pooling and hence the Linear layer's input size.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from rruffgeo.config import Head

#: Head name -> its class; filled by ``@register``.
HEADS: dict[Head, type[HeadPool]] = {}


def register(name: Head):  # noqa: ANN201 - a class decorator
    """Class decorator: make the head available as ``ModelSettings(head_pool=name)``."""
    def add(cls: type[HeadPool]) -> type[HeadPool]:
        HEADS[Head(name)] = cls
        return cls
    return add


def head_pool(name: Head | str) -> type[HeadPool]:
    """The head registered as ``name``; ValueError listing the known ones."""
    try:
        return HEADS[Head(name)]
    except (KeyError, ValueError):
        raise ValueError(f"head_pool {name!r}: choose one of {', '.join(map(str, HEADS))}"
                         ) from None


def feature_positions(input_length: int, n_stages: int, patch: int = 4) -> int:
    """Positions left after the stem (stride ``patch``) and ``n_stages - 1`` stride-2 layers."""
    length = input_length // patch
    for _ in range(n_stages - 1):
        length //= 2
    return length


class HeadPool:
    """Base of the heads: one position kept, input length not needed."""

    #: Whether the head needs the spectrum length to size its Linear layer.
    needs_input_length: ClassVar[bool] = False

    @staticmethod
    def positions(input_length: int | None, n_stages: int) -> int:
        return 1

    @staticmethod
    def pool(x: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
        raise NotImplementedError


@register(Head.AVG)
class AvgHead(HeadPool):
    """Global average pool over positions, then LayerNorm (the paper's head, B.2): blind to
    where along the wavenumber axis a feature sits."""

    @staticmethod
    def pool(x: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
        return norm(x.mean(dim=1))


@register(Head.FLATTEN)
class FlattenHead(HeadPool):
    """LayerNorm at every position of the last stage, flattened: the head sees *where* each
    feature is. On RRUFF the average pool never left the majority class within a CPU budget,
    while the same body with this head fits (README, "Learning")."""

    needs_input_length = True

    @staticmethod
    def positions(input_length: int | None, n_stages: int) -> int:
        if not input_length:
            raise ValueError("head_pool='flatten' needs input_length (the spectrum length)")
        return feature_positions(input_length, n_stages)

    @staticmethod
    def pool(x: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
        return norm(x).flatten(1)
