"""Model registry: a new architecture is one class and one line here."""

from __future__ import annotations

from collections.abc import Callable

from results.errors import DnError
from train.models.base import LayerSpec, StackedNet
from train.models.fc1 import FC1
from train.models.lenet5 import LeNet5

MODELS: dict[str, Callable[[tuple[int, ...], int], StackedNet]] = {
    "fc1": FC1,
    "lenet5": LeNet5,
}


def build_model(name: str, input_shape: tuple[int, ...], num_classes: int) -> StackedNet:
    """The stacked network `name` for inputs of `input_shape` (C, H, W)."""
    if name not in MODELS:
        raise DnError(f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))}")
    return MODELS[name](tuple(input_shape), num_classes)


__all__ = ["MODELS", "LayerSpec", "StackedNet", "build_model"]
