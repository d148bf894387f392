"""Saving and loading fitted samplers as plain JSON or .npz, never pickle.

A results folder is shared and re-read for months; pickle files run code when loaded and break
across library versions, so a sampler is stored as its hyperparameters, fitted scalars and
float arrays. ``.json`` is human-readable (floats round-trip exactly through their repr);
``.npz`` is compact for samplers holding 60,000 values. Both are written atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from dn_analysis.samplers._base import DnSampler

FORMAT_VERSION = 1
_META = "__meta__"


def _registry() -> dict[str, type[DnSampler]]:
    from dn_analysis.samplers.empirical import EmpiricalDn
    from dn_analysis.samplers.gmm import GMMDn
    from dn_analysis.samplers.kde import KDEDn

    return {cls.kind: cls for cls in (EmpiricalDn, KDEDn, GMMDn)}


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".json", ".npz"):
        raise ValueError(f"sampler files end in .json or .npz, got {path.name!r}.")
    return suffix


def _atomic_write(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_sampler(sampler: DnSampler, path: str | Path) -> Path:
    """Write `sampler` (fitted) to `path`; the suffix (.json / .npz) picks the format."""
    path = Path(path)
    suffix = _suffix(path)
    scalars, arrays = sampler._get_state()
    meta = {
        "kind": sampler.kind,
        "format_version": FORMAT_VERSION,
        "params": sampler.get_params(),
        "fitted": scalars,
    }
    meta["params"].pop("values", None)  # EmpiricalDn's values are stored as an array
    if suffix == ".json":
        meta["arrays"] = {k: np.asarray(v, dtype=np.float64).tolist() for k, v in arrays.items()}
        text = json.dumps(meta, indent=1, allow_nan=False).encode()
        _atomic_write(path, lambda fh: fh.write(text))
    else:
        payload = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
        payload[_META] = np.array(json.dumps(meta, allow_nan=False))
        _atomic_write(path, lambda fh: np.savez_compressed(fh, **payload))
    return path


def load_dn(path: str | Path) -> DnSampler:
    """Load a sampler written by ``save``: same draws for the same seed, same pdf and cdf."""
    path = Path(path)
    suffix = _suffix(path)
    if not path.is_file():
        raise FileNotFoundError(f"no sampler file at {path}.")
    try:
        if suffix == ".json":
            meta = json.loads(path.read_text())
            arrays = {k: np.asarray(v, dtype=np.float64) for k, v in meta.pop("arrays", {}).items()}
        else:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data[_META]))
                arrays = {k: data[k] for k in data.files if k != _META}
    except (ValueError, KeyError, OSError) as err:
        raise ValueError(f"{path} is not a D_n sampler file ({err}).") from None
    kinds = _registry()
    kind = meta.get("kind")
    if kind not in kinds:
        raise ValueError(
            f"{path} holds an unknown sampler kind {kind!r}; expected one of {sorted(kinds)}."
        )
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} has sampler format {meta.get('format_version')!r}; this dn reads {FORMAT_VERSION}."
        )
    sampler = kinds[kind](**meta["params"])
    sampler._set_state(meta["fitted"], arrays)
    return sampler
