"""Initial weights θ0: Xavier (Glorot) per layer, biases zero, one generator per model."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from train.errors import DnError
from train.models.base import LayerSpec


def xavier_uniform(layer: LayerSpec, gen: torch.Generator) -> torch.Tensor:
    bound = math.sqrt(3.0) * layer.xavier_std
    return (torch.rand(layer.shape, generator=gen, dtype=torch.float32) * 2 - 1) * bound


def xavier_normal(layer: LayerSpec, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(layer.shape, generator=gen, dtype=torch.float32) * layer.xavier_std


INITS: dict[str, Callable[[LayerSpec, torch.Generator], torch.Tensor]] = {
    "xavier_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
}


def init_std(name: str, layer: LayerSpec) -> float:
    """Standard deviation of the initialization distribution of `layer` (both Xavier variants)."""
    return layer.xavier_std


def init_bound(name: str, layer: LayerSpec) -> float | None:
    """Support half-width for uniform inits, None for unbounded ones."""
    return math.sqrt(3.0) * layer.xavier_std if name == "xavier_uniform" else None


def initial_weights(
    name: str, layers: list[LayerSpec], gen: torch.Generator
) -> dict[str, torch.Tensor]:
    """θ0 of one model: weights from the init `name`, biases zero."""
    if name not in INITS:
        raise DnError(f"unknown init {name!r}; choose one of: {', '.join(INITS)}")
    params: dict[str, torch.Tensor] = {}
    for layer in layers:
        params[layer.param] = INITS[name](layer, gen)
        params[layer.bias] = torch.zeros(layer.shape[0])
    return params
