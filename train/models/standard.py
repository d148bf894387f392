"""The lottery-ticket hypothesis's standard networks as `torch.nn.Module`s (trained through the
generic stacked path, `train/models/generic.py`).

Frankle & Carbin 2019 (Figure 2): LeNet-300-100 and the Conv-2/4/6 networks, whose convolutions
are 3x3 with same padding, each followed by ReLU, every pair by a 2x2 max-pool, then fully
connected layers of 256, 256 and the classes. ResNet-20 as open_lth's `cifar_resnet_20`.

Prunable weights (Linear and Conv2d weights, biases and BatchNorm not counted):
lenet300 on 1x28x28: 266,200; on 3x32x32: conv2 4,300,992, conv4 2,425,024, conv6 2,261,184,
resnet20 270,896.

Every builder is `f(input_shape, num_classes) -> nn.Module`, the signature of a user model
(`dn train --model package.module:function`).
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from results.errors import DnError


def lenet300(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """LeNet-300-100: inputs-300-100-classes with ReLU (784-300-100-10 on MNIST)."""
    return nn.Sequential(OrderedDict([
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(math.prod(input_shape), 300)), ("relu1", nn.ReLU()),
        ("fc2", nn.Linear(300, 100)), ("relu2", nn.ReLU()),
        ("fc3", nn.Linear(100, num_classes)),
    ]))


def conv_net(input_shape: tuple[int, ...], num_classes: int, widths: tuple[int, ...],
             name: str = "conv") -> nn.Module:
    """Conv-2/4/6: a pair of 3x3 same-padded conv + ReLU layers per width, each pair followed by
    a 2x2 max-pool; then FC 256, 256, classes with ReLU."""
    channels, height, width = input_shape
    shrink = 2 ** len(widths)
    if height < shrink or width < shrink:
        raise DnError(f"{name} pools {len(widths)} times and needs images of at least {shrink}x{shrink} "
                      f"pixels, this dataset has {height}x{width}")
    layers: list[tuple[str, nn.Module]] = []
    c, n = channels, 0
    for i, out in enumerate(widths):
        for _ in range(2):
            n += 1
            layers += [(f"conv{n}", nn.Conv2d(c, out, 3, padding=1)), (f"relu{n}", nn.ReLU())]
            c = out
        layers.append((f"pool{i + 1}", nn.MaxPool2d(2)))
        height, width = height // 2, width // 2
    sizes = [c * height * width, 256, 256]
    layers.append(("flatten", nn.Flatten()))
    for j in range(2):
        layers += [(f"fc{j + 1}", nn.Linear(sizes[j], sizes[j + 1])), (f"fc_relu{j + 1}", nn.ReLU())]
    layers.append(("fc3", nn.Linear(256, num_classes)))
    return nn.Sequential(OrderedDict(layers))


def conv2(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """Conv-2: conv 64, 64, pool; FC 256, 256, classes."""
    return conv_net(input_shape, num_classes, (64,), "conv2")


def conv4(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """Conv-4: conv 64, 64, pool, 128, 128, pool; FC 256, 256, classes."""
    return conv_net(input_shape, num_classes, (64, 128), "conv4")


def conv6(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """Conv-6: conv 64, 64, pool, 128, 128, pool, 256, 256, pool; FC 256, 256, classes."""
    return conv_net(input_shape, num_classes, (64, 128, 256), "conv6")


class Block(nn.Module):
    """open_lth's ResNet block: conv3x3-BN-ReLU-conv3x3-BN plus the shortcut, ReLU after the add.

    The shortcut is a 1x1 convolution (stride 2) with BN when the shape changes, else identity.
    Convolutions have no bias (the BN after each carries the shift).
    """

    def __init__(self, f_in: int, f_out: int, downsample: bool = False):
        super().__init__()
        stride = 2 if downsample else 1
        self.conv1 = nn.Conv2d(f_in, f_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(f_out)
        self.conv2 = nn.Conv2d(f_out, f_out, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(f_out)
        if downsample or f_in != f_out:
            self.shortcut = nn.Sequential(nn.Conv2d(f_in, f_out, 1, stride=2, bias=False),
                                          nn.BatchNorm2d(f_out))
        else:
            self.shortcut = nn.Sequential()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """open_lth's `cifar_resnet_D[_W]`: a 3x3 conv (and BN, ReLU), three stages of (D-2)/6
    blocks of W, 2W and 4W channels (stride 2 entering stages 2 and 3), a global average pool
    and one fully connected layer."""

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, depth: int = 20, width: int = 16):
        super().__init__()
        if (depth - 2) % 6:
            raise DnError(f"a CIFAR ResNet's depth is 6n+2 (20, 32, 56, ...), got {depth}")
        per_stage = (depth - 2) // 6
        self.conv = nn.Conv2d(input_shape[0], width, 3, stride=1, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        blocks, current = [], width
        for stage, filters in enumerate((width, 2 * width, 4 * width)):
            for index in range(per_stage):
                blocks.append(Block(current, filters, downsample=stage > 0 and index == 0))
                current = filters
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(current, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn(self.conv(x)))
        out = self.blocks(out)
        return self.fc(self.flatten(self.pool(out)))


def resnet20(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """open_lth's `cifar_resnet_20`: 16/32/64 channels, 3 blocks per stage, BatchNorm."""
    return CifarResNet(input_shape, num_classes, depth=20, width=16)
