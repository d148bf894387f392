"""The sampler file format: plain JSON or .npz, never pickle.

A results folder is shared and re-read for months; pickle files run code when loaded and break
across library versions, so a sampler is stored as its hyperparameters, fitted scalars and
float arrays. ``.json`` is human-readable (floats round-trip exactly through their repr);
``.npz`` is compact for samplers holding 60,000 values. Both are written by
``results.store.atomic_write_bytes`` (whole, with a checksum sidecar).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from results.errors import DnError
from results.integrity import DamagedFile
from results.store import atomic_write_bytes, read_verified

FORMAT_VERSION = 1
_META = "__meta__"


def check_suffix(path: Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in (".json", ".npz"):
        raise ValueError(f"sampler files end in .json or .npz, got {Path(path).name!r}.")
    return suffix


def write_state(path: str | Path, kind: str, params: dict[str, Any], scalars: dict[str, Any],
                arrays: dict[str, np.ndarray]) -> Path:
    """Write one sampler's state to `path`; the suffix (.json / .npz) picks the format."""
    path = Path(path)
    suffix = check_suffix(path)
    meta = {"kind": kind, "format_version": FORMAT_VERSION, "params": params, "fitted": scalars}
    if suffix == ".json":
        meta["arrays"] = {k: np.asarray(v, dtype=np.float64).tolist() for k, v in arrays.items()}
        data = json.dumps(meta, indent=1, allow_nan=False).encode()
    else:
        payload = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
        payload[_META] = np.array(json.dumps(meta, allow_nan=False))
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **payload)
        data = buffer.getvalue()
    atomic_write_bytes(path, data)
    return path


def read_state(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(meta, arrays) of a sampler file, checked against its checksum; ValueError if it is not one."""
    path = Path(path)
    suffix = check_suffix(path)
    if not path.is_file():
        raise FileNotFoundError(f"no sampler file at {path}.")
    try:
        data = read_verified(path)
        if suffix == ".json":
            meta = json.loads(data.decode())
            arrays = {k: np.asarray(v, dtype=np.float64) for k, v in meta.pop("arrays", {}).items()}
        else:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                meta = json.loads(str(npz[_META]))
                arrays = {k: npz[k] for k in npz.files if k != _META}
    except DamagedFile as err:
        raise DnError(str(err.advise("fit the sampler again (dn analyze fit) or restore the file"))) from None
    except (ValueError, KeyError, OSError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not a D_n sampler file ({err}).") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} has sampler format {meta.get('format_version')!r}; this dn reads {FORMAT_VERSION}."
        )
    return meta, arrays
