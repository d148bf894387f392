"""LeNet5 for 3x32x32 images: conv 6@5x5, max-pool, conv 16@5x5, max-pool, 120, 84, classes.

Four layouts of the same network, chosen by device and by whether the models share a batch:

* CUDA: the models' channels side by side, (B, M*C, H, W), and one grouped convolution
  (`groups=M`) for the whole stack.
* CPU, models that share one data order (a trial's conditions): conv1 of all models as one
  wide convolution over the shared batch, conv2 as one grouped convolution, a few dozen images
  at a time so that every activation stays in cache (`train/models/shared_conv.py`).
* CPU, models with their own data orders (the pruning rounds): the models' images side by side
  as channels, (B, M*C, H, W), and both conv layers as grouped convolutions, in the same pieces
  (10% faster than model by model at 2 threads, 12% at one; over the whole batch at once ~3x slower).
* CPU, a stack of one: plain convolutions, channels_last.

Exact rewrites that make the CPU paths faster (`dn bench`): ReLU after the max-pool (max and
ReLU commute, so values and gradients are unchanged, on a quarter of the elements), and, for a
stack of one, conv1 padded to 8 output channels with zero weights (oneDNN's 5x5 kernels run faster
with 8 than with 6; the extra channels are always zero and conv2 gives them zero weight).

All layouts give the same numbers up to float rounding (tests/test_models.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from results.errors import DnError
from train.models.base import LayerSpec, StackedNet, gather_rows, stacked_linear
from train.models.shared_conv import shared_conv_stack, side_by_side

CPU_CHANNEL_MULTIPLE = 8  # conv1's output channels are padded to a multiple of this on CPU


def conv_relu_pool(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, groups: int = 1):
    """conv -> 2x2 max-pool -> ReLU, which equals the textbook conv -> ReLU -> max-pool."""
    return torch.relu(F.max_pool2d(F.conv2d(x, weight, bias, groups=groups), 2))


@dataclass(frozen=True)
class PerModelBatch:
    """Each model's minibatch, gathered only when that model runs (so it is still in cache)."""

    data: torch.Tensor  # (N, C, H, W)
    index: torch.Tensor  # (M, B)

    def __getitem__(self, m: int) -> torch.Tensor:
        return gather_rows(self.data, self.index[m])


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

    def prepare_data(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu":
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def stack_input(self, data: torch.Tensor, index: torch.Tensor) -> torch.Tensor | PerModelBatch:
        if index.shape[0] == 1:  # one order for every model: gather once
            return gather_rows(data, index[0])
        if data.device.type == "cpu":
            return PerModelBatch(data, index)
        x = data[index.T]  # (B, M, C, H, W): the models' channels side by side
        return x.reshape(x.shape[0], -1, *x.shape[3:])

    def shared_input(self, x: torch.Tensor, models: int) -> torch.Tensor:
        return x  # (B, C, H, W): every model reads the same batch

    def _features_grouped(self, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        models, batch = params["conv1.weight"].shape[0], x.shape[0]
        if x.shape[1] != models * params["conv1.weight"].shape[2]:  # a batch shared by all models
            x = x.repeat(1, models, 1, 1)
        for name in ("conv1", "conv2"):
            weight = params[f"{name}.weight"]
            weight = weight.reshape(-1, *weight.shape[2:])
            x = conv_relu_pool(x, weight, params[f"{name}.bias"].reshape(-1), groups=models)
        return x.reshape(batch, models, -1).transpose(0, 1)

    def _features_looped(
        self, params: dict[str, torch.Tensor], x: torch.Tensor | PerModelBatch
    ) -> torch.Tensor:
        w1, b1 = params["conv1.weight"], params["conv1.bias"]
        w2, b2 = params["conv2.weight"], params["conv2.bias"]
        models = w1.shape[0]
        if models > 1:  # at once, in pieces: one batch for all, or each model's side by side
            if isinstance(x, PerModelBatch):
                return shared_conv_stack(side_by_side(x.data, x.index), [(w1, b1), (w2, b2)], own_inputs=True)
            return shared_conv_stack(x, [(w1, b1), (w2, b2)])
        pad = -w1.shape[1] % CPU_CHANNEL_MULTIPLE
        if pad:  # zero output channels for conv1, zero input weights for conv2
            w1 = F.pad(w1, (0, 0, 0, 0, 0, 0, 0, pad))
            b1 = F.pad(b1, (0, pad))
            w2 = F.pad(w2, (0, 0, 0, 0, 0, pad))
        out = []
        for m in range(models):
            h = x[m] if isinstance(x, PerModelBatch) else x
            h = conv_relu_pool(h.contiguous(memory_format=torch.channels_last), w1[m], b1[m])
            h = conv_relu_pool(h, w2[m], b2[m])
            out.append(h.reshape(h.shape[0], -1))  # (C, H, W) order, as on CUDA
        return torch.stack(out)

    def forward(
        self, params: dict[str, torch.Tensor], x: torch.Tensor | PerModelBatch
    ) -> torch.Tensor:
        if isinstance(x, PerModelBatch) or x.device.type == "cpu":
            h = self._features_looped(params, x)  # (M, B, features)
        else:
            h = self._features_grouped(params, x)
        for i, layer in enumerate(self.layers[2:]):
            h = stacked_linear(h, params[layer.param], params[layer.bias])
            if i < 2:
                h = torch.relu(h)
        return h
