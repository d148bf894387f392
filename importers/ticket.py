"""Tickets found by another tool, checked and written as an ordinary results folder.

Each format reader (open_lth, torch.nn.utils.prune, per-layer arrays) turns its files into
:class:`Trial` objects; :func:`write_run` checks them all (shapes, 0/1 masks, nested rounds, the
same layers everywhere) before writing one byte, then writes the folder whole (results.store.whole_folder), so a refused or failed import leaves nothing behind.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from results.errors import DnError
from results.init_scale import INITS, inferred_scale, init_scale
from results.labels import experiment_name
from results.schema import (
    CONFIG,
    DONE,
    LAYERS,
    PRUNE_COLUMNS,
    PRUNING_METRICS,
    mask_key,
    theta0_key,
    tickets_file,
    trained_file,
    trained_key,
)
from results.store import whole_folder, write_csv, write_json, write_npz


@dataclass
class Trial:
    """One imported network: θ0 (or θ_k when the run rewinds), every round's mask, optional trained weights.

    `masks[r]` is the mask after r prunings (round 0: all ones); `trained[r]`, when known, holds
    the weights trained with mask r. `where` names the file each array came from, for messages.
    """

    theta0: dict[str, np.ndarray]
    masks: list[dict[str, np.ndarray]]
    trained: list[dict[str, np.ndarray]] | None = None
    accuracy: list[float | None] = field(default_factory=list)  # test accuracy after each round's training
    where: dict[str, str] = field(default_factory=dict)  # "theta0", "mask/<r>", "trained/<r>" -> file


def as_mask(values: np.ndarray, what: str) -> np.ndarray:
    """A 0/1 array as bool; anything else is refused in one line naming `what` (file and layer)."""
    array = np.asarray(values)
    if array.dtype == bool:
        return array
    if not np.isin(array, (0, 1)).all():
        bad = array[~np.isin(array, (0, 1))].ravel()[0]
        raise DnError(f"{what}: a mask holds the value {bad.item():g}; masks must be 0/1")
    return array.astype(bool)


def _check(trials: list[Trial], strict: bool) -> list[str]:
    """Raise DnError on the first bad input; return the prunable parameters in order."""
    if not trials:
        raise DnError("nothing to import: no trial found")
    params = list(trials[0].theta0)
    if not params:
        raise DnError(f"{trials[0].where.get('theta0', 'θ0')}: no prunable weight found")
    rounds = len(trials[0].masks)
    for t, trial in enumerate(trials):
        if list(trial.theta0) != params:
            raise DnError(f"{trial.where.get('theta0')}: its layers {list(trial.theta0)} differ from trial 0's {params}")
        if len(trial.masks) != rounds:
            raise DnError(f"trial {t} has {len(trial.masks)} rounds, trial 0 has {rounds}; every trial needs the same rounds")
        for r, mask in enumerate(trial.masks):
            where = trial.where.get(f"mask/{r}", f"trial {t} round {r}")
            missing = [p for p in params if p not in mask]
            if missing:
                raise DnError(f"{where}: no mask for layer {missing[0]}")
            for p in params:
                if mask[p].shape != trial.theta0[p].shape:
                    raise DnError(f"{where}: layer {p}'s mask has shape {tuple(mask[p].shape)}, "
                                  f"θ0 has {tuple(trial.theta0[p].shape)}")
                if r and (mask[p] & ~trial.masks[r - 1][p]).any():
                    message = (f"{where}: layer {p} keeps weights that round {r - 1} had pruned (masks not "
                               "nested; iterative magnitude pruning gives nested masks)")
                    if strict:
                        raise DnError(message + "; drop --strict to import it anyway")
                    print(f"dn: warning: {message}", file=sys.stderr)
        for r, weights in enumerate(trial.trained or []):
            for p in params:
                if p in weights and weights[p].shape != trial.theta0[p].shape:
                    raise DnError(f"{trial.where.get(f'trained/{r}', f'trial {t}')}: layer {p} has shape "
                                  f"{tuple(weights[p].shape)}, θ0 has {tuple(trial.theta0[p].shape)}")
    return params


def _layers(trials: list[Trial], params: list[str], init: str | None) -> list[dict]:
    if init is not None and init not in INITS:
        raise DnError(f"unknown --init {init!r}; choose one of: {', '.join(INITS)} (or leave it out to infer "
                      "the scale from θ0)")
    out = []
    for p in params:
        shape = list(trials[0].theta0[p].shape)
        if init is None:
            std, bound = inferred_scale(np.concatenate([t.theta0[p].ravel() for t in trials]))
        else:
            std, bound = init_scale(init, shape)
        name = p[: -len(".weight")] if p.endswith(".weight") else p
        out.append({"name": name, "param": p, "shape": shape, "init_std": std, "init_bound": bound,
                    "init": init or "inferred"})
    return out


def _density(mask: dict[str, np.ndarray]) -> float:
    return sum(int(m.sum()) for m in mask.values()) / sum(m.size for m in mask.values())


def write_run(out: Path, trials: list[Trial], *, fmt: str, source: str, init: str | None = None,
              model: str = "imported", dataset: str = "unknown", prune_rate: float | None = None,
              strict: bool = False, extra: dict | None = None) -> Path:
    """Check `trials` and write them to the new folder `out` as a results folder (docs/import.md)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DnError(f"{out} exists and is not an empty folder; choose another --out")
    if "-" in model:
        raise DnError(f"--model {model!r} must not contain '-' (experiment names are MODEL-DATASET)")
    params = _check(trials, strict)
    layers = _layers(trials, params, init)
    rounds = len(trials[0].masks) - 1
    densities = [float(np.mean([_density(t.masks[r]) for t in trials])) for r in range(rounds + 1)]
    if prune_rate is None:  # the mean per-round rate that reaches the last density: labels only
        prune_rate = 1.0 - densities[-1] ** (1.0 / rounds) if rounds and densities[-1] > 0 else 0.2
    name = experiment_name(model, dataset)
    experiment = {"model": model, "dataset": dataset, "trials": len(trials), "prune_rounds": rounds,
                  "prune_rate": prune_rate, "ticket_rounds": list(range(1, rounds + 1)), "conditions": [],
                  "epochs": 0, "protocol": "imported", "init": init or "inferred"}
    config = {"name": f"import-{fmt}", "preset": "import", "protocol": "imported", "seed": 0,
              "experiments": [experiment], "expected_rows": 0,
              "imported": {"format": fmt, "source": source, "init": init or "inferred from θ0",
                           "densities": densities, **(extra or {})}}
    with whole_folder(out) as tmp:
        _write(tmp, name, config, layers, trials, params, densities)
    return out


def _write(folder: Path, name: str, config: dict, layers: list[dict], trials: list[Trial],
           params: list[str], densities: list[float]) -> None:
    exp_dir = folder / name
    write_json(folder / CONFIG, config)
    write_json(exp_dir / LAYERS, layers)
    write_json(exp_dir / DONE / "pruning.json", {"rows": [], "imported": config["imported"]["format"]})
    rows = []
    for t, trial in enumerate(trials):
        arrays = {theta0_key(p): trial.theta0[p].astype(np.float32) for p in params}
        for r, mask in enumerate(trial.masks):
            arrays.update({mask_key(r, p): mask[p].astype(np.uint8) for p in params})
        write_npz(tickets_file(exp_dir, t), arrays)
        if trial.trained:
            write_npz(trained_file(exp_dir, t), {trained_key(r, p): w[p].astype(np.float32)
                                                 for r, w in enumerate(trial.trained) for p in params if p in w})
        for r, acc in enumerate(trial.accuracy):
            if acc is not None:
                rows.append({"experiment": name, "model": config["experiments"][0]["model"],
                             "dataset": config["experiments"][0]["dataset"], "trial": t, "round": r,
                             "density": _density(trial.masks[r]), "epoch": "", "train_loss": "",
                             "test_loss": "", "test_acc": acc})
    if rows:
        write_csv(folder / PRUNING_METRICS, rows, PRUNE_COLUMNS)
