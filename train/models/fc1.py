"""FC-1 of the paper: input-300-100-classes with ReLU (784-300-100-10 on MNIST)."""

from __future__ import annotations

import math

import torch

from train.models.base import LayerSpec, StackedNet, stacked_linear


class FC1(StackedNet):
    def __init__(self, input_shape: tuple[int, ...], num_classes: int, hidden=(300, 100)):
        sizes = [math.prod(input_shape), *hidden, num_classes]
        self.layers = [
            LayerSpec(f"fc{i + 1}", (sizes[i + 1], sizes[i])) for i in range(len(sizes) - 1)
        ]

    def forward(self, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        h = x.reshape(x.shape[0], x.shape[1], -1)
        for i, layer in enumerate(self.layers):
            h = stacked_linear(h, params[layer.param], params[layer.bias])
            if i < len(self.layers) - 1:
                h = torch.relu(h)
        return h
