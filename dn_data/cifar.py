"""CIFAR-10 batches (python pickles), read with an unpickler that can only rebuild numpy arrays.

A pickle can run any code when loaded; these files only ever need numpy's array reconstruction,
so everything else is refused, and a tampered file fails instead of executing.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from dn_data.dataset import RawData
from dn_data.locate import FileSpec, read_hashed
from results.errors import DnError

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
BATCH_ROWS = 10000
ROW_BYTES = 3 * 32 * 32  # R, G, B planes of 32x32, each row-major
MAX_BATCH_BYTES = 64 * 2**20  # originals are ~31 MB; anything far larger is not a batch
CIFAR10_SPEC = FileSpec("cifar10", ("cifar-10-batches-py",),
                        tuple((n,) for n in TRAIN_BATCHES + TEST_BATCHES))

# The only globals a CIFAR batch pickle references (numpy < 2 and numpy >= 2 module names).
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle asked for a global outside the allow-list."""


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy array reconstruction; anything else is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise RefusedGlobal(f"{module}.{name}")
        if module == "numpy.core.multiarray" and int(np.__version__.split(".")[0]) >= 2:
            module = "numpy._core.multiarray"  # same function; avoids numpy 2's deprecation alias
        return super().find_class(module, name)


def restricted_loads(data: bytes, path: Path) -> Any:
    """Unpickle `data` (from `path`) with :class:`RestrictedUnpickler`, errors as DnError."""
    try:
        return RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except RefusedGlobal as err:
        raise DnError(
            f"{path} refused: the pickle asks for {err}, which a CIFAR-10 batch never needs "
            f"(the file may be malicious); delete it and run `dn data download cifar10`"
        ) from None
    except Exception as err:  # any parse failure of untrusted bytes is a corrupt file
        raise DnError(
            f"{path} is truncated or not a CIFAR-10 batch pickle ({type(err).__name__}: {err}); "
            f"delete it and run `dn data download cifar10`"
        ) from None


def parse_batch(data: bytes, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file -> (uint8 images (10000, 3, 32, 32), int64 labels), structure checked."""
    redo = "delete it and run `dn data download cifar10`"
    if len(data) < BATCH_ROWS * ROW_BYTES or len(data) > MAX_BATCH_BYTES:
        raise DnError(
            f"{path} is {len(data)} bytes, but a CIFAR-10 batch is about 31 MB "
            f"(at least {BATCH_ROWS * ROW_BYTES}); it is truncated or the wrong file, {redo}"
        )
    obj = restricted_loads(data, path)
    if not isinstance(obj, dict) or "data" not in obj or "labels" not in obj:
        raise DnError(f"{path} is not a CIFAR-10 batch (no dict with 'data' and 'labels'); {redo}")
    images, labels = obj["data"], obj["labels"]
    if (not isinstance(images, np.ndarray) or images.dtype != np.uint8
            or images.shape != (BATCH_ROWS, ROW_BYTES)):
        shape = getattr(images, "shape", type(images).__name__)
        raise DnError(
            f"{path}: 'data' is {getattr(images, 'dtype', '')} {shape}, expected uint8 "
            f"({BATCH_ROWS}, {ROW_BYTES}); {redo}"
        )
    if (not isinstance(labels, list) or len(labels) != BATCH_ROWS
            or not all(type(v) is int and 0 <= v <= 9 for v in labels)):
        raise DnError(f"{path}: 'labels' is not a list of {BATCH_ROWS} integers in 0..9; {redo}")
    return images.reshape(BATCH_ROWS, 3, 32, 32), np.asarray(labels, dtype=np.int64)


def _read(paths: list[Path], checksums: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for path in paths:
        data, checksums[path.name] = read_hashed(path)
        x, y = parse_batch(data, path)
        del data
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def load_cifar10(root: Path) -> RawData:
    """CIFAR-10 from torchvision's `cifar-10-batches-py/` folder: 50000 train, 10000 test."""
    folder, files = CIFAR10_SPEC.find(root)
    checksums: dict[str, str] = {}
    x_train, y_train = _read([files[n] for n in TRAIN_BATCHES], checksums)
    x_test, y_test = _read([files[n] for n in TEST_BATCHES], checksums)
    if len(y_train) != 50000 or len(y_test) != 10000:  # guards against edits to the batch lists
        raise DnError(f"{folder}: read {len(y_train)}/{len(y_test)} images, expected 50000/10000")
    return RawData(x_train, y_train, x_test, y_test, num_classes=10, scale=255.0,
                   source=str(folder), checksums=checksums)
