"""The networks as plain `nn.Module`s, and the loop most research code trains them with.

`dn bench` measures the stacked engine against these: the usual Dataset + DataLoader +
nn.Module + Adam loop (:func:`dataloader_runner`), and the generic stacked path given the same
textbook module (`studies/bench_generic.py`).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dn_data.dataset import RawData, channel_stats
from studies.bench_timing import LR, WEIGHT_DECAY
from train.models import standard


class ImageDataset(torch.utils.data.Dataset):
    """uint8 images converted and normalized one at a time on access (ToTensor + Normalize)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, scale: float,
                 mean: tuple[float, ...], std: tuple[float, ...]):
        self.x, self.y, self.scale = x, y, scale
        self.mean = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = torch.from_numpy(self.x[i]).to(torch.float32).div(self.scale)
        return (image - self.mean) / self.std, int(self.y[i])


def plain_fc1(inputs: int, classes: int, hidden: tuple[int, ...] = (300, 100)) -> nn.Sequential:
    """FC-1 as the textbook nn.Sequential, its layers named as the hand-written network's."""
    sizes = [inputs, *hidden, classes]
    layers: list[tuple[str, nn.Module]] = [("flatten", nn.Flatten())]
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        layers.append((f"fc{i}", nn.Linear(a, b)))
        if i < len(sizes) - 1:
            layers.append((f"relu{i}", nn.ReLU()))
    return nn.Sequential(OrderedDict(layers))


def plain_lenet5(channels: int, height: int, width: int, classes: int) -> nn.Sequential:
    """LeNet5 as the textbook nn.Sequential, its layers named as the hand-written network's."""
    h, w = ((height - 4) // 2 - 4) // 2, ((width - 4) // 2 - 4) // 2
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(channels, 6, 5)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(6, 16, 5)), ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()), ("fc1", nn.Linear(16 * h * w, 120)), ("relu3", nn.ReLU()),
        ("fc2", nn.Linear(120, 84)), ("relu4", nn.ReLU()), ("fc3", nn.Linear(84, classes))]))


def plain_model(model: str, input_shape: tuple[int, ...], classes: int) -> nn.Module:
    """FC-1 or LeNet5 as the textbook nn.Module (the hand-written stacked networks' twins)."""
    if model == "fc1":
        return plain_fc1(math.prod(input_shape), classes)
    if model == "lenet5":
        return plain_lenet5(*input_shape, classes)
    raise ValueError(f"no plain nn.Module for model {model!r}")


STANDARD: dict[str, Callable[[tuple[int, ...], int], nn.Module]] = {
    "lenet300": standard.lenet300, "conv2": standard.conv2, "conv4": standard.conv4,
    "conv6": standard.conv6, "resnet20": standard.resnet20,
}


def textbook_module(model: str, input_shape: tuple[int, ...], classes: int) -> nn.Module:
    """Any registered network as a plain nn.Module: FC-1 and LeNet5 by :func:`plain_model`, the
    standard lottery-ticket networks by their own builders (`train/models/standard.py`)."""
    if model in STANDARD:
        return STANDARD[model](tuple(input_shape), classes)
    return plain_model(model, tuple(input_shape), classes)


def dataloader_runner(model: str, raw: RawData, device: torch.device, batch: int, steps: int,
                      warmup: int, train: bool = True) -> Callable[[], None]:
    """A warmed-up function that runs `steps` minibatches of the usual Dataset + DataLoader +
    nn.Module + Adam loop.

    With `train=False` only the DataLoader runs: what the per-image conversion costs by itself.
    """
    torch.manual_seed(0)
    mean, std = channel_stats(raw.x_train, raw.scale)
    data = ImageDataset(raw.x_train, raw.y_train, raw.scale, mean, std)
    loader = torch.utils.data.DataLoader(data, batch_size=batch, shuffle=True, drop_last=True,
                                         generator=torch.Generator().manual_seed(0))
    net = textbook_module(model, tuple(raw.x_train.shape[1:]), raw.num_classes).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)

    def batches() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            yield from loader

    stream = batches()

    def run(count: int) -> None:
        for _ in range(count):
            xb, yb = next(stream)
            xb, yb = xb.to(device), yb.to(device)
            if not train:
                continue
            loss = F.cross_entropy(net(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    if warmup:
        run(warmup)
    return lambda: run(steps)
