"""The in-memory dataset the engine trains on, and the one place it is built.

Loaders only parse files into :class:`RawData` (uint8 pixels); subsetting, normalization and the
move to tensors happen here once, so every dataset gets identical, deterministic treatment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from results.errors import DnError


@dataclass
class RawData:
    """Parsed files before subsetting: pixels as integers, labels as int64."""

    x_train: np.ndarray  # uint8 (N, C, H, W)
    y_train: np.ndarray  # int64 (N,)
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    scale: float  # pixel value that maps to 1.0 (255 for images, 16 for sklearn digits)
    source: str
    checksums: dict[str, str]


@dataclass
class Dataset:
    """A whole dataset as tensors on one device, normalized with its train split's statistics."""

    name: str
    x_train: torch.Tensor = field(repr=False)
    y_train: torch.Tensor = field(repr=False)
    x_test: torch.Tensor = field(repr=False)
    y_test: torch.Tensor = field(repr=False)
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    source: str
    checksums: dict[str, str]


def subset_indices(n: int, size: int | None, seed: int, stream: int, what: str) -> np.ndarray:
    """Sorted indices of a seeded random subset; `stream` keeps train and test draws independent."""
    if size is None:
        return np.arange(n)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise DnError(f"{what} must be a whole number of examples, got {size!r}")
    if not 1 <= size <= n:
        raise DnError(f"{what}={size} is out of range: choose 1..{n}, or leave it unset for all {n}")
    if size == n:
        return np.arange(n)
    rng = np.random.default_rng([seed, stream])
    return np.sort(rng.choice(n, size=int(size), replace=False))


def channel_stats(x: np.ndarray, scale: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Exact per-channel mean/std (population) on the [0,1] scale, via value histograms.

    Histograms keep this exact and cheap: no float copy of the whole array is needed.
    """
    means, stds = [], []
    values = None
    for c in range(x.shape[1]):
        counts = np.bincount(x[:, c].reshape(-1), minlength=256).astype(np.float64)
        if values is None or len(values) != len(counts):
            values = np.arange(len(counts), dtype=np.float64) / scale
        total = counts.sum()
        mean = float((counts * values).sum() / total)
        var = float((counts * (values - mean) ** 2).sum() / total)
        means.append(mean)
        stds.append(var**0.5)
    return tuple(means), tuple(stds)


def _device(device: str | torch.device) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise DnError(f"unknown device {device!r}: use cpu, cuda or cuda:N ({err})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DnError(f"device {device!r} asked for, but this torch has no usable CUDA; use cpu")
    return dev


def _to_tensor(x: np.ndarray, scale: float, mean: torch.Tensor, std: torch.Tensor,
               dev: torch.device) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(x)).to(dev).to(torch.float32)
    return t.div_(scale).sub_(mean.view(1, -1, 1, 1)).div_(std.view(1, -1, 1, 1))


MNIST_STATS = ((0.1307,), (0.3081,))  # what the authors' code normalizes every dataset with
NORMALIZATIONS = ("dataset", "mnist", "pixel-centered", "double-centered")


def build(name: str, raw: RawData, device: str | torch.device = "cpu",
          train_subset: int | None = None, test_subset: int | None = None,
          seed: int = 0, normalization: str = "dataset") -> Dataset:
    """Subset (before statistics, so stats describe what is trained on), normalize, move.

    `normalization="dataset"` uses the (subset) train split's per-channel mean and std;
    `"mnist"` uses MNIST's 0.1307/0.3081 for every channel of every dataset;
    `"pixel-centered"` then also subtracts every input's own training mean (so each input has
    mean zero: the sign experiment), and `"double-centered"` also each image's own mean.
    """
    if normalization not in NORMALIZATIONS:
        raise DnError(f"unknown normalization {normalization!r}; choose one of: {', '.join(NORMALIZATIONS)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DnError(f"seed must be a non-negative whole number, got {seed!r}")
    dev = _device(device)
    tr = subset_indices(len(raw.y_train), train_subset, seed, 0, "train_subset")
    te = subset_indices(len(raw.y_test), test_subset, seed, 1, "test_subset")
    x_train = raw.x_train if len(tr) == len(raw.y_train) else raw.x_train[tr]
    x_test = raw.x_test if len(te) == len(raw.y_test) else raw.x_test[te]
    mean, std = channel_stats(x_train, raw.scale)
    if normalization == "mnist":
        channels = len(mean)
        mean, std = MNIST_STATS[0] * channels, MNIST_STATS[1] * channels
    if min(std) == 0.0:
        raise DnError(f"{name}: the chosen training images are constant in some channel "
                      f"(std 0), so they cannot be normalized; use a larger train_subset")
    mean_t = torch.tensor(mean, dtype=torch.float32, device=dev)
    std_t = torch.tensor(std, dtype=torch.float32, device=dev)
    xs = [_to_tensor(x, raw.scale, mean_t, std_t, dev) for x in (x_train, x_test)]
    if normalization in ("pixel-centered", "double-centered"):
        pixel_mean = xs[0].mean(dim=0, keepdim=True)
        xs = [x - pixel_mean for x in xs]
    if normalization == "double-centered":  # no total-ink signal left in any image
        xs = [x - x.mean(dim=(1, 2, 3), keepdim=True) for x in xs]
    return Dataset(
        name=name,
        x_train=xs[0],
        y_train=torch.from_numpy(raw.y_train[tr].astype(np.int64)).to(dev),
        x_test=xs[1],
        y_test=torch.from_numpy(raw.y_test[te].astype(np.int64)).to(dev),
        num_classes=raw.num_classes,
        mean=mean,
        std=std,
        source=raw.source,
        checksums=dict(raw.checksums),
    )
