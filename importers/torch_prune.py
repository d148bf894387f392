"""State dicts of modules pruned with ``torch.nn.utils.prune`` (docs/import.md).

A pruned parameter ``w`` appears as ``w_orig`` (the weights) and ``w_mask`` (0/1); an unpruned one
as plain ``w``. The prunable layers are the parameters with a mask in the last round. θ0 is a
state dict saved before pruning (``init``), one file per trial; each round's mask comes from the
``<name>_mask`` entries of that round's file.

Trials come as folders (each holding ``init.pt`` and ``round1.pt``, ``round2.pt``, ...) or as
files: ``--init`` once per trial and ``--pruned`` in order, the rounds of trial 0 first, so each
trial has (number of --pruned) / (number of --init) rounds.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from importers.load import state_dict
from importers.ticket import Trial, as_mask
from results.errors import DnError

_ROUND = re.compile(r"round(\d+)\.(pt|pth)$")
MASK, ORIG = "_mask", "_orig"


def _trial(init: Path, rounds: list[Path]) -> Trial:
    if not rounds:
        raise DnError(f"{init}: no pruned round given for this trial")
    last = state_dict(rounds[-1])
    params = [k[: -len(MASK)] for k in last if k.endswith(MASK)]
    if not params:
        raise DnError(f"{rounds[-1]} holds no <name>_mask entry: was the module pruned with torch.nn.utils.prune?")
    start = state_dict(init)
    theta0 = {}
    for p in params:
        value = start.get(p, start.get(p + ORIG))
        if value is None:
            raise DnError(f"{init}: no weights for layer {p}, which {rounds[-1].name} prunes")
        theta0[p] = value
    trial = Trial(theta0=theta0, masks=[{p: np.ones(v.shape, dtype=bool) for p, v in theta0.items()}],
                  where={"theta0": str(init), "mask/0": str(init)})
    for r, path in enumerate(rounds, start=1):
        data = last if path == rounds[-1] else state_dict(path)
        missing = [p for p in params if p + MASK not in data]
        if missing:
            raise DnError(f"{path}: no mask for layer {missing[0]} ({missing[0]}_mask)")
        trial.masks.append({p: as_mask(data[p + MASK], f"{path} layer {p}") for p in params})
        trial.where[f"mask/{r}"] = str(path)
    return trial


def _folder(folder: Path) -> tuple[Path, list[Path]]:
    inits = [folder / n for n in ("init.pt", "init.pth", "theta0.pt", "theta0.pth") if (folder / n).is_file()]
    if not inits:
        raise DnError(f"{folder} holds no init.pt (θ0's state dict)")
    rounds = {int(m.group(1)): p for p in folder.iterdir() if (m := _ROUND.match(p.name))}
    missing = [r for r in range(1, max(rounds, default=0) + 1) if r not in rounds]
    if missing:
        raise DnError(f"{folder / f'round{missing[0]}.pt'} is missing (rounds found: {sorted(rounds)})")
    if not rounds:
        raise DnError(f"{folder} holds no round<r>.pt file")
    return inits[0], [rounds[r] for r in sorted(rounds)]


def read(folders: list[Path], inits: list[Path], pruned: list[Path]) -> list[Trial]:
    """The trials given as folders, or as --init/--pruned files."""
    groups = [_folder(Path(f)) for f in folders]
    if inits or pruned:
        if not inits or len(pruned) % len(inits):
            raise DnError(f"give --init once per trial and the same number of --pruned files for each: got "
                          f"{len(inits)} --init and {len(pruned)} --pruned")
        per = len(pruned) // len(inits)
        groups += [(Path(i), [Path(p) for p in pruned[k * per:(k + 1) * per]]) for k, i in enumerate(inits)]
    if not groups:
        raise DnError("nothing to import: give trial folders, or --init and --pruned files")
    return [_trial(init, rounds) for init, rounds in groups]
