"""Per-layer arrays, as the TensorFlow reference code of the lottery-ticket paper saves them (docs/import.md).

One trial is a folder with ``initial/`` (θ0: one ``<layer>.npy`` per layer, or ``initial.npz``),
``masks/<round>/`` (or ``masks/<round>.npz``) for rounds 1..R (round 0, the dense network, may be
given or is all ones) and, when present, ``final/<round>/`` (the weights trained with that round's
mask). Several trials are subfolders of PATH, each laid out so; they are taken in name order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from importers.load import array, arrays
from importers.ticket import Trial, as_mask
from results.errors import DnError


def _layers(where: Path) -> dict[str, np.ndarray] | None:
    """The arrays of a folder of .npy files or of one .npz file; None if neither exists."""
    if where.is_dir():
        files = sorted(where.glob("*.npy"))
        if not files:
            raise DnError(f"{where} holds no .npy file")
        return {f.stem: array(f) for f in files}
    npz = where.with_suffix(".npz")
    return arrays(npz) if npz.is_file() else None


def _rounds(folder: Path) -> dict[int, Path]:
    found = {}
    for p in folder.iterdir() if folder.is_dir() else []:
        stem = p.stem if p.suffix == ".npz" else p.name
        if stem.isdigit():
            found[int(stem)] = folder / stem
    return found


def _trial(folder: Path) -> Trial:
    theta0 = _layers(folder / "initial")
    if theta0 is None:
        raise DnError(f"{folder} holds no initial/ folder or initial.npz (θ0)")
    rounds = _rounds(folder / "masks")
    if not [r for r in rounds if r > 0]:
        raise DnError(f"{folder / 'masks'} holds no round folder (masks/1/, masks/2/, ...)")
    missing = [r for r in range(1, max(rounds) + 1) if r not in rounds]
    if missing:
        raise DnError(f"{folder / 'masks' / str(missing[0])} is missing (rounds found: {sorted(rounds)})")
    trial = Trial(theta0=theta0, masks=[], where={"theta0": str(folder / "initial")})
    for r in range(max(rounds) + 1):
        if r == 0 and 0 not in rounds:
            trial.masks.append({k: np.ones(v.shape, dtype=bool) for k, v in theta0.items()})
            continue
        raw = _layers(rounds[r]) or {}
        trial.masks.append({k: as_mask(v, f"{rounds[r]} layer {k}") for k, v in raw.items()})
        trial.where[f"mask/{r}"] = str(rounds[r])
    final = _rounds(folder / "final")
    if final:
        trial.trained = [(_layers(final[r]) or {}) if r in final else {} for r in range(len(trial.masks))]
        trial.where.update({f"trained/{r}": str(p) for r, p in final.items()})
    return trial


def read(path: str | Path) -> list[Trial]:
    path = Path(path)
    if not path.is_dir():
        raise DnError(f"{path} is not a folder; give a folder with initial/ and masks/<round>/")
    if not any(path.iterdir()):
        raise DnError(f"{path} is empty; give a folder with initial/ and masks/<round>/")
    if (path / "initial").exists() or (path / "initial.npz").exists():
        return [_trial(path)]
    folders = sorted(p for p in path.iterdir() if p.is_dir())
    if not folders:
        raise DnError(f"{path} holds neither initial/ nor trial folders")
    return [_trial(f) for f in folders]
