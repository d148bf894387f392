"""scikit-learn's bundled 8x8 digits: a tiny offline dataset for tests and demos.

`digits32` blows the same images up to 3x32x32 so the CIFAR-sized LeNet5 can run without any
download; nearest-neighbour upsampling keeps every pixel value, so its statistics equal `digits`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from dn_data.dataset import RawData

SOURCE = "bundled (scikit-learn)"
TEST_SIZE = 360  # of 1797: 1437 train / 360 test
SPLIT_SEED = 0  # fixed, so the split never depends on the run's seed


def stratified_split(y: np.ndarray, test_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) indices with each class's share of the test set as even as possible.

    Own implementation (largest remainder per class) so the split cannot change with sklearn.
    """
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    exact = counts * test_size / len(y)
    take = np.floor(exact).astype(int)
    order = np.argsort(-(exact - take), kind="stable")
    take[order[: test_size - take.sum()]] += 1
    test = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:k]
                           for c, k in zip(classes, take, strict=True)])
    mask = np.zeros(len(y), dtype=bool)
    mask[test] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def _bundled_checksums() -> dict[str, str]:
    """sha256 of the CSV that load_digits reads, so reports can name the exact data."""
    import sklearn.datasets

    path = Path(sklearn.datasets.__file__).parent / "data" / "digits.csv.gz"
    if not path.is_file():
        return {}
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()}


def load_digits8(root: Path | None = None) -> RawData:
    """1797 8x8 digits with values 0..16, split 1437/360 (stratified, fixed seed)."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = x.astype(np.uint8).reshape(-1, 1, 8, 8)
    y = y.astype(np.int64)
    train, test = stratified_split(y, TEST_SIZE, SPLIT_SEED)
    return RawData(x[train], y[train], x[test], y[test], num_classes=10, scale=16.0,
                   source=SOURCE, checksums=_bundled_checksums())


def upsample32(x: np.ndarray) -> np.ndarray:
    """(N, 1, 8, 8) -> (N, 3, 32, 32): each pixel becomes a 4x4 block, copied to 3 channels."""
    big = np.kron(x, np.ones((1, 1, 4, 4), dtype=x.dtype))
    return np.repeat(big, 3, axis=1)


def load_digits32(root: Path | None = None) -> RawData:
    """The `digits` split, upsampled to CIFAR's 3x32x32 so LeNet5 runs offline."""
    raw = load_digits8(root)
    raw.x_train = upsample32(raw.x_train)
    raw.x_test = upsample32(raw.x_test)
    return raw
