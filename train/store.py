"""Atomic, pickle-free files: every write goes to a temporary name and is renamed into place.

A crash can leave a stray temporary file, never a half-written result.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from train.errors import DnError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: object) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=False) + "\n").encode())


def read_json(path: Path) -> object:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise
    except (OSError, json.JSONDecodeError) as err:
        raise DnError(f"{path} is not readable JSON ({err}); delete it or re-run `dn train`") from err


def write_npz(path: Path, arrays: Mapping[str, np.ndarray], compress: bool = False) -> None:
    buffer = io.BytesIO()
    save = np.savez_compressed if compress else np.savez
    save(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
    atomic_write_bytes(path, buffer.getvalue())


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Load every array of an .npz file; object arrays (pickles) are refused."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as err:
        raise DnError(f"{path} is not a valid .npz file ({err}); delete it to recompute") from err


def write_csv(path: Path, rows: Iterable[Mapping[str, object]], columns: list[str]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _fmt(row.get(c)) for c in columns})
    atomic_write_bytes(path, out.getvalue().encode())


def _fmt(value: object) -> object:
    if isinstance(value, float):
        return repr(value)
    return "" if value is None else value


def read_csv(path: Path) -> list[dict[str, object]]:
    """Rows with numbers parsed (int where integral text, else float), other cells as text."""
    with open(path, newline="") as handle:
        return [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def _parse(text: str) -> object:
    for cast in (int, float):
        try:
            return cast(text)
        except (TypeError, ValueError):
            pass
    return text
