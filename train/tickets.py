"""The controls on a ticket found elsewhere: `dn train --tickets DIR` (docs/import.md).

An imported folder (`dn import`) holds θ0 and every round's mask of each trial. Training its
conditions skips Algorithm 1: the run's tickets are the imported ones, copied into the run and
recorded by their sha256 in the run's identity, and every condition starts from them exactly as
from a ticket `dn train` found. The network comes from `--model` (a registered name or
`package.module:function`); its prunable layers must be the imported ones, name for name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from results import open_run
from results.errors import DnError
from results.integrity import digest
from results.run import ExperimentResult
from results.schema import mask_key, theta0_key, tickets_file
from results.store import read_verified, write_json, write_npz
from train.config import ExperimentConfig
from train.init import INITS

NEEDS_INIT = ("rand-init", "sign-dtheta", "signed-constant")  # conditions that draw from D_θ


def source(path: Path) -> ExperimentResult:
    """The one experiment of an imported (or any) results folder."""
    run = open_run(path)
    if len(run.experiments) != 1:
        raise DnError(f"{path} holds {len(run.experiments)} experiments with tickets; --tickets takes a folder "
                      "with one (as `dn import` writes)")
    return run.experiment(run.experiments[0])


def record(path: Path) -> dict:
    """What the run's identity keeps of the imported tickets: the folder and each file's sha256."""
    exp = source(path)
    return {"source": str(path), "experiment": exp.name,
            "sha256": [digest(read_verified(tickets_file(exp.dir, t))) for t in exp.trials]}


def overrides(path: Path, given: dict) -> dict:
    """Settings that follow from the imported tickets (trials, rounds, rate, init), checked against `given`."""
    exp = source(path)
    cfg = exp.run.config["experiments"][0]
    rounds = max(exp.rounds)
    out = {"trials": len(exp.trials), "prune_rounds": rounds, "prune_rate": float(cfg["prune_rate"])}
    out["ticket_rounds"] = tuple(given.get("ticket_rounds") or (rounds,))
    init = {layer.get("init") for layer in exp.layers}
    if given.get("init") is None:
        if len(init) == 1 and next(iter(init)) in INITS:
            out["init"] = next(iter(init))
        else:
            named = ", ".join(sorted(str(i) for i in init))
            conditions = given.get("conditions") or ()
            if any(c in ("all", *NEEDS_INIT) for c in conditions):
                raise DnError(f"{path}: the tickets' init is {named}, not one dn can draw from; "
                              f"{', '.join(NEEDS_INIT)} draw from D_θ: give --init {' or '.join(INITS)}")
    return out


def check(cfg: ExperimentConfig) -> None:
    """Refuse settings that need what an imported folder does not have (trained weights)."""
    if not cfg.rewind_biases or cfg.dn_pool == "trained" or cfg.fitted_sampler == "model":
        raise DnError("--tickets trains the text protocol's conditions: the authors' chained biases, "
                      "dn_pool trained and --fitted-sampler model need the pruning rounds' trained weights, "
                      "which an imported ticket does not have")


def check_layers(path: Path, model: str, layers: list) -> None:
    """The network's prunable layers are the tickets' (names and shapes), or one line saying where not."""
    params = {spec.param: tuple(spec.shape) for spec in layers}
    theirs = {layer["param"]: tuple(layer["shape"]) for layer in source(path).layers}
    if params != theirs:
        missing = sorted(set(params) ^ set(theirs)) or [p for p in params if params[p] != theirs[p]]
        raise DnError(f"--model {model}'s prunable layers do not match the tickets in {path} (first difference: "
                      f"{missing[0]}: model {params.get(missing[0])}, tickets {theirs.get(missing[0])}); "
                      "build the network the tickets were found on")


def adopt(path: Path, cfg: ExperimentConfig, layers: list, experiment_dir: Path) -> None:
    """Copy the imported tickets into the run (θ0 with the biases the network starts from) and mark
    the pruning done, unless that was done already."""
    done = experiment_dir / "done" / "pruning.json"
    if done.exists():
        return
    exp = source(path)
    check_layers(path, cfg.model, layers)
    for t in exp.trials:
        theta0 = exp.theta0(t)
        arrays = {theta0_key(p): np.asarray(v, dtype=np.float32) for p, v in theta0.items()}
        for spec in layers:  # a bias the import did not carry starts at zero
            arrays.setdefault(theta0_key(spec.bias), np.zeros(spec.shape[0], dtype=np.float32))
        for r in range(cfg.prune_rounds + 1):
            arrays.update({mask_key(r, p): m.astype(np.uint8) for p, m in exp.mask(t, r).items()})
        write_npz(tickets_file(experiment_dir, t), arrays)
    write_json(done, {"rows": [], "tickets": str(path)})
