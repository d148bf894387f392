"""The data layer: every dataset as whole tensors on one device, loaded once, deterministically.

>>> ds = load_dataset("digits")          # offline; mnist, fashion-mnist, cifar10 read files
>>> ds.x_train.shape, ds.num_classes
(torch.Size([1437, 1, 8, 8]), 10)

Files are looked up in :func:`resolve_data_dir` (``--data-dir``, ``$DN_DATA_DIR``, or the per-user
cache) in torchvision's on-disk layout; :func:`download_dataset` fills that folder.
"""

from __future__ import annotations

import os

import torch

from dn_data.dataset import Dataset, RawData, build
from dn_data.download import download_dataset
from dn_data.locate import resolve_data_dir
from dn_data.registry import DATASETS, check_name

__all__ = ["DATASETS", "Dataset", "RawData", "download_dataset", "load_dataset",
           "load_raw", "resolve_data_dir"]


def load_raw(name: str, data_dir: str | os.PathLike | None = None) -> RawData:
    """Parse a dataset's files into uint8 arrays (no subsetting, no normalization)."""
    check_name(name)
    return DATASETS[name](resolve_data_dir(data_dir))


def load_dataset(name: str, data_dir: str | os.PathLike | None = None,
                 device: str | torch.device = "cpu", train_subset: int | None = None,
                 test_subset: int | None = None, seed: int = 0, normalization: str = "dataset") -> Dataset:
    """Load `name` into float32 tensors on `device`, normalized by the (subset) train statistics.

    Subsets are seeded random draws (same seed, same indices) taken before the statistics, so the
    normalization describes exactly the images that are trained on.
    """
    raw = load_raw(name, data_dir)
    return build(name, raw, device=device, train_subset=train_subset,
                 test_subset=test_subset, seed=seed, normalization=normalization)
