"""LeNet5 for 3x32x32 images: conv 6@5x5, max-pool, conv 16@5x5, max-pool, 120, 84, classes.

The stack's input holds M models' channels side by side, (B, M*C, H, W). On CUDA one grouped
convolution (`groups=M`) runs them all; on CPU, where PyTorch's grouped convolution is ~3x
slower than M plain ones (measured by `dn bench`), each model's convolutions run on its own
slice in channels_last layout. Both give the same numbers up to float rounding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from train.errors import DnError
from train.models.base import LayerSpec, StackedNet, stacked_linear


class LeNet5(StackedNet):
    def __init__(self, input_shape: tuple[int, ...], num_classes: int):
        channels, height, width = input_shape
        h, w = (height - 4) // 2, (width - 4) // 2
        h, w = (h - 4) // 2, (w - 4) // 2
        if h < 1 or w < 1:
            raise DnError(
                f"lenet5 needs images of at least 16x16 pixels, this dataset has {height}x{width}; "
                "use a 32x32 dataset such as cifar10 or digits32"
            )
        self.layers = [
            LayerSpec("conv1", (6, channels, 5, 5)),
            LayerSpec("conv2", (16, 6, 5, 5)),
            LayerSpec("fc1", (120, 16 * h * w)),
            LayerSpec("fc2", (84, 120)),
            LayerSpec("fc3", (num_classes, 84)),
        ]

    def stack_input(self, data: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        x = data[index.T]  # (B, M, C, H, W): the models' channels side by side
        return x.reshape(x.shape[0], -1, *x.shape[3:])

    def shared_input(self, x: torch.Tensor, models: int) -> torch.Tensor:
        return x.repeat(1, models, 1, 1)

    def _features_grouped(self, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        models, batch = params["conv1.weight"].shape[0], x.shape[0]
        for name in ("conv1", "conv2"):
            weight = params[f"{name}.weight"]
            weight = weight.reshape(-1, *weight.shape[2:])
            x = F.conv2d(x, weight, params[f"{name}.bias"].reshape(-1), groups=models)
            x = F.max_pool2d(torch.relu(x), 2)
        return x.reshape(batch, models, -1).transpose(0, 1)

    def _features_looped(self, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        models, batch = params["conv1.weight"].shape[0], x.shape[0]
        per_model = x.view(batch, models, -1, *x.shape[2:])
        out = []
        for m in range(models):
            h = per_model[:, m].contiguous(memory_format=torch.channels_last)
            for name in ("conv1", "conv2"):
                h = F.conv2d(h, params[f"{name}.weight"][m], params[f"{name}.bias"][m])
                h = F.max_pool2d(torch.relu(h), 2)
            out.append(h.reshape(batch, -1))
        return torch.stack(out)

    def forward(self, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu":
            h = self._features_looped(params, x)  # (M, B, features)
        else:
            h = self._features_grouped(params, x)
        for i, layer in enumerate(self.layers[2:]):
            h = stacked_linear(h, params[layer.param], params[layer.bias])
            if i < 2:
                h = torch.relu(h)
        return h
