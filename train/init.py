"""Initial weights θ0: Xavier (Glorot) or Kaiming (He) per layer, or torch's default; one generator per model.

The paper's text says Xavier with zero biases; its authors' code left torch.nn's default
(kaiming_uniform with a=sqrt(5), i.e. U(±1/sqrt(fan_in)), for weights and biases alike).
open_lth's ResNets draw kaiming_normal (torch.nn.init.kaiming_normal_'s defaults: fan_in, ReLU gain).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from results.errors import DnError
from results.init_scale import init_scale
from train.models.base import LayerSpec


def init_std(name: str, layer: LayerSpec) -> float:
    """Standard deviation of the initialization distribution of `layer` (results.init_scale)."""
    return init_scale(name, layer.shape)[0]


def init_bound(name: str, layer: LayerSpec) -> float | None:
    """Support half-width for uniform inits, None for unbounded ones (results.init_scale)."""
    return init_scale(name, layer.shape)[1]


def _uniform(shape: tuple[int, ...], bound: float, gen: torch.Generator) -> torch.Tensor:
    return (torch.rand(shape, generator=gen, dtype=torch.float32) * 2 - 1) * bound


def _normal(shape: tuple[int, ...], std: float, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(shape, generator=gen, dtype=torch.float32) * std


def xavier_uniform(layer: LayerSpec, gen: torch.Generator) -> torch.Tensor:
    return _uniform(layer.shape, init_bound("xavier_uniform", layer), gen)


def xavier_normal(layer: LayerSpec, gen: torch.Generator) -> torch.Tensor:
    return _normal(layer.shape, init_std("xavier_normal", layer), gen)


def kaiming_normal(layer: LayerSpec, gen: torch.Generator) -> torch.Tensor:
    return _normal(layer.shape, init_std("kaiming_normal", layer), gen)


def torch_default(layer: LayerSpec, gen: torch.Generator) -> torch.Tensor:
    """torch.nn.Linear/Conv2d's default: U(±1/sqrt(fan_in)), for weights and biases alike."""
    return _uniform(layer.shape, init_bound("torch_default", layer), gen)


INITS: dict[str, Callable[[LayerSpec, torch.Generator], torch.Tensor]] = {
    "xavier_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "kaiming_normal": kaiming_normal,
    "torch_default": torch_default,
}


def initial_weights(
    name: str, layers: list[LayerSpec], gen: torch.Generator, bias_init: str = "zeros"
) -> dict[str, torch.Tensor]:
    """θ0 of one model: weights from the init `name`; biases zero or torch's default."""
    if name not in INITS:
        raise DnError(f"unknown init {name!r}; choose one of: {', '.join(INITS)}")
    params: dict[str, torch.Tensor] = {}
    for layer in layers:
        params[layer.param] = INITS[name](layer, gen)
        if bias_init == "torch_default":
            params[layer.bias] = _uniform((layer.shape[0],), init_bound("torch_default", layer), gen)
        else:
            params[layer.bias] = torch.zeros(layer.shape[0])
    return params
