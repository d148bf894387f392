"""The data `dn bench` times on: a dataset's own files, or random images of its shape and size.

A training step's time does not depend on the pixel values, so `--synthetic` (random uint8
images with the dataset's shape, classes and train-split size) gives the same timings on a
machine that has not downloaded MNIST or CIFAR-10. Bundled datasets (digits) are always real.
"""

from __future__ import annotations

import os

import numpy as np

from dn_data import load_raw
from dn_data.dataset import RawData
from dn_data.registry import FILE_SPECS, SHAPES, check_name
from results.errors import DnError

# Train-split sizes of the datasets that live in files (their loaders' docstrings): an epoch of
# synthetic data is as long as the real one.
TRAIN_SIZES = {"mnist": 60_000, "fashion-mnist": 60_000, "cifar10": 50_000}
SYNTHETIC_TEST = 100  # test images of a synthetic dataset (the bench never evaluates)


def bench_raw(name: str, data_dir: str | os.PathLike | None = None, synthetic: bool = False) -> RawData:
    """Dataset `name` as parsed files, or (`synthetic`) seeded random images of its shape and size."""
    check_name(name)
    if not synthetic or FILE_SPECS[name] is None:
        return load_raw(name, data_dir)
    shape, classes = SHAPES[name]
    rng = np.random.default_rng(0)
    n = TRAIN_SIZES[name]
    return RawData(
        x_train=rng.integers(0, 256, size=(n, *shape), dtype=np.uint8),
        y_train=rng.integers(0, classes, size=n, dtype=np.int64),
        x_test=rng.integers(0, 256, size=(SYNTHETIC_TEST, *shape), dtype=np.uint8),
        y_test=rng.integers(0, classes, size=SYNTHETIC_TEST, dtype=np.int64),
        num_classes=classes, scale=255.0, source=f"synthetic, {name}-shaped", checksums={},
    )


# The dataset each registered network is timed on when a spec names none: its paper's.
DEFAULT_DATASETS = {"fc1": "mnist", "lenet300": "mnist", "lenet5": "cifar10", "conv2": "cifar10",
                    "conv4": "cifar10", "conv6": "cifar10", "resnet20": "cifar10"}


def parse_networks(spec: str) -> dict[str, str]:
    """"fc1,conv2=digits32" -> {"fc1": "mnist", "conv2": "digits32"}: NET[=DATASET], comma-separated,
    each a registered network (a dataset registered too); a missing dataset is the network's default."""
    out: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        model, _, name = item.partition("=")
        model = model.strip()
        if model not in DEFAULT_DATASETS:
            raise DnError(f"unknown network {model!r}; choose from {', '.join(DEFAULT_DATASETS)} "
                          "(NET or NET=DATASET, comma-separated)")
        out[model] = check_name(name.strip()) if name.strip() else DEFAULT_DATASETS[model]
    if not out:
        raise DnError("no network given (NET or NET=DATASET, comma-separated)")
    return out
