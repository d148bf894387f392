"""MNIST-style IDX files (MNIST, Fashion-MNIST), gzipped or not, checked before use.

Every header field is checked against the bytes actually present, so a truncated download or a
swapped file fails with the file's name instead of silently training on garbage.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from dn_data.dataset import RawData
from dn_data.locate import FileSpec, read_hashed
from results.errors import DnError

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
SPLITS = (("train", 60000), ("t10k", 10000))


def idx_spec(dataset: str, folders: tuple[str, ...]) -> FileSpec:
    """The four files of an MNIST-like dataset, each accepted as .gz or uncompressed."""
    files = tuple(
        (f"{split}-{kind}-ubyte.gz", f"{split}-{kind}-ubyte")
        for split, _ in SPLITS
        for kind in ("images-idx3", "labels-idx1")
    )
    return FileSpec(dataset, folders, files, note="(each .gz or uncompressed)")


def _decompress(raw: bytes, path: Path, dataset: str) -> bytes:
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise DnError(
            f"{path} is a truncated or damaged gzip file ({err}); delete it and run `dn data download {dataset}`"
        ) from None


def parse_idx(raw: bytes, path: Path, magic: int, dataset: str) -> np.ndarray:
    """Decode one IDX file (already read) into a uint8 array, checking magic, dims and length."""
    data = _decompress(raw, path, dataset)
    redo = f"delete it and run `dn data download {dataset}`"
    kind = "image (idx3)" if magic == IMAGES_MAGIC else "label (idx1)"
    if len(data) < 4:
        raise DnError(f"{path} is truncated: {len(data)} bytes, not even an IDX header; {redo}")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise DnError(
            f"{path} has magic number {found}, expected {magic} for an {kind} file; "
            f"it is the wrong file or corrupt, {redo}"
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DnError(f"{path} is truncated inside its header ({len(data)} bytes); {redo}")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    want = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != want:
        what = "truncated" if len(data) < want else "longer than its header says"
        unzipped = " uncompressed" if raw[:2] == b"\x1f\x8b" else ""
        raise DnError(
            f"{path} is {what}: its header promises {dims} ({want} bytes{unzipped}) "
            f"but it holds {len(data)}; {redo}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def load_idx_dataset(spec: FileSpec, root: Path, num_classes: int = 10,
                     image_shape: tuple[int, int] = (28, 28)) -> RawData:
    """Read the train and t10k pairs of an MNIST-like dataset into (N, 1, H, W) uint8 arrays."""
    folder, files = spec.find(root)
    checksums: dict[str, str] = {}
    arrays: dict[str, np.ndarray] = {}
    for split, count in SPLITS:
        img_path = files[f"{split}-images-idx3-ubyte.gz"]
        lab_path = files[f"{split}-labels-idx1-ubyte.gz"]
        img_raw, checksums[img_path.name] = read_hashed(img_path)
        lab_raw, checksums[lab_path.name] = read_hashed(lab_path)
        images = parse_idx(img_raw, img_path, IMAGES_MAGIC, spec.dataset)
        labels = parse_idx(lab_raw, lab_path, LABELS_MAGIC, spec.dataset)
        if len(images) != len(labels):
            raise DnError(
                f"{img_path} holds {len(images)} images but {lab_path} holds {len(labels)} labels; "
                f"the pair does not belong together, run `dn data download {spec.dataset}`"
            )
        if len(images) != count or images.shape[1:] != image_shape:
            raise DnError(
                f"{img_path} holds {images.shape}, expected ({count}, {image_shape[0]}, "
                f"{image_shape[1]}) for {spec.dataset}; it is the wrong file, "
                f"run `dn data download {spec.dataset}`"
            )
        if labels.max(initial=0) >= num_classes:
            raise DnError(
                f"{lab_path} has label {int(labels.max())}, but {spec.dataset} has only "
                f"{num_classes} classes; it is the wrong file or corrupt"
            )
        arrays[f"x_{split}"] = images[:, None]
        arrays[f"y_{split}"] = labels.astype(np.int64)
    return RawData(
        x_train=arrays["x_train"], y_train=arrays["y_train"],
        x_test=arrays["x_t10k"], y_test=arrays["y_t10k"],
        num_classes=num_classes, scale=255.0, source=str(folder), checksums=checksums,
    )
