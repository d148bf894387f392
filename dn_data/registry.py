"""Dataset names -> loader functions; adding a dataset means adding one small loader here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dn_data.cifar import CIFAR10_SPEC, load_cifar10
from dn_data.dataset import RawData
from dn_data.digits import load_digits8, load_digits32
from dn_data.idx import idx_spec, load_idx_dataset
from dn_data.locate import FileSpec
from results.errors import DnError

MNIST_SPEC = idx_spec("mnist", ("MNIST/raw",))
# Debian's dataset-fashion-mnist installs a flat `fashion-mnist/` folder under /usr/share/datasets.
FASHION_SPEC = idx_spec("fashion-mnist", ("FashionMNIST/raw", "fashion-mnist"))


def load_mnist(root: Path) -> RawData:
    """MNIST: 60000/10000 handwritten digits, 1x28x28."""
    return load_idx_dataset(MNIST_SPEC, root)


def load_fashion_mnist(root: Path) -> RawData:
    """Fashion-MNIST: 60000/10000 clothing images, 1x28x28, same format as MNIST."""
    return load_idx_dataset(FASHION_SPEC, root)


DATASETS: dict[str, Callable[[Path], RawData]] = {
    "mnist": load_mnist,
    "fashion-mnist": load_fashion_mnist,
    "cifar10": load_cifar10,
    "digits": load_digits8,
    "digits32": load_digits32,
}

# Files on disk per dataset; None for data bundled with a package (nothing to find or download).
FILE_SPECS: dict[str, FileSpec | None] = {
    "mnist": MNIST_SPEC,
    "fashion-mnist": FASHION_SPEC,
    "cifar10": CIFAR10_SPEC,
    "digits": None,
    "digits32": None,
}

# Image shape (C, H, W) and number of classes per dataset, known before any file is read: a run's
# round densities under per-layer rates depend on the network's layer sizes (train/config.py).
SHAPES: dict[str, tuple[tuple[int, int, int], int]] = {
    "mnist": ((1, 28, 28), 10),
    "fashion-mnist": ((1, 28, 28), 10),
    "cifar10": ((3, 32, 32), 10),
    "digits": ((1, 8, 8), 10),
    "digits32": ((3, 32, 32), 10),
}


def check_name(name: str) -> str:
    """`name` if it is registered, else a DnError listing the known names."""
    if name not in DATASETS:
        raise DnError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    return name
