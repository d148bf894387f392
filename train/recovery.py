"""What `dn train` does with damaged files before it resumes an experiment (docs/run-format.md).

Every piece of a results folder is derivable by running the piece that made it again, so:

* ``state/*`` (resume checkpoints): deleted; the piece restarts from its beginning.
* ``done/train-*.json`` (a finished condition stack and its metric rows): deleted; the stack is
  trained again.
* ``tickets/*.npz`` and ``done/pruning.json`` while the pruning is unfinished: nothing depends
  on them yet; the pruning restarts from round 0.
* the same once the pruning has finished: the run's conditions were trained from those masks,
  so a recomputed ticket is only good if it is the very same file. The pruning is recomputed in
  a scratch folder and compared with the recorded checksums (and the intact tickets); only an
  exact match is moved into place. Otherwise nothing is touched and one line says what to do.

Each case prints one line saying what was found and done.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any, Protocol

from results.errors import DnError
from results.integrity import (
    DamagedFile,
    digest,
    is_sidecar,
    notice,
    recorded_hash,
    remove,
    sidecar,
)
from results.store import read_json, read_npz


class Experiment(Protocol):
    """What recovery needs of a `train.experiment.Experiment` (a Protocol, so that the experiment
    can call recovery without the two modules importing each other)."""

    dir: Path
    cfg: Any
    ctx: Any
    data: Any

    def prune(self, thetas: list[dict]) -> Any: ...

    def theta0(self, trial: int) -> dict: ...

    def starts(self) -> list[dict]: ...


SCRATCH = ".recompute"


def _damage(path: Path) -> DamagedFile | None:
    """The damage of `path` (read in full and verified), or None if it is intact."""
    try:
        if path.suffix == ".npz":
            read_npz(path)
        elif path.suffix == ".json":
            read_json(path)
    except DamagedFile as err:
        return err
    return None


def _files(folder: Path, pattern: str = "*") -> list[Path]:
    return sorted(p for p in folder.glob(pattern)
                  if p.is_file() and not is_sidecar(p) and not p.name.endswith(".tmp"))


def check_experiment(exp: Experiment) -> None:
    """Verify one experiment's folder; delete or recompute what is damaged, one line each."""
    folder = exp.dir
    shutil.rmtree(exp.ctx.run_dir / SCRATCH / folder.name, ignore_errors=True)
    for path in _files(folder / "state"):
        if err := _damage(path):
            remove(path)
            notice(f"{path} is damaged ({err.reason}); deleted this resume checkpoint: "
                   "its piece is recomputed from the start")
    for path in _files(folder / "done", "train-*.json"):
        if err := _damage(path):
            remove(path)
            notice(f"{path} is damaged ({err.reason}); deleted it: that condition stack is trained again")
    done = folder / "done" / "pruning.json"
    tickets = [folder / "tickets" / f"trial{t}.npz" for t in range(exp.cfg.trials)]
    finished = done.exists() or bool(_files(folder / "done", "train-*.json")) or bool(
        _files(folder / "state", "train-*"))
    damaged: dict[Path, str] = {}
    for path in [*tickets, done]:
        if path.exists():
            if err := _damage(path):
                damaged[path] = err.reason
        elif finished:
            damaged[path] = "missing"
    if not damaged:
        return
    first, reason = next(iter(damaged.items()))
    if not finished:
        for path in [*tickets, done, folder / "state" / "pruning.json"]:
            remove(path)
        notice(f"{first} is damaged ({reason}); the pruning was not finished, so it restarts from round 0")
        return
    notice(f"{first} is damaged ({reason}); recomputing the pruning (Algorithm 1) to restore it, "
           "kept only if it matches the recorded checksums")
    _restore_pruning(exp, tickets, done, damaged)


def _restore_pruning(exp: Experiment, tickets: list[Path], done: Path, damaged: dict[Path, str]) -> None:
    """Recompute the pruning in a scratch folder; move in what matches the recorded checksums."""
    scratch_root = exp.ctx.run_dir / SCRATCH
    ctx = dataclasses.replace(exp.ctx, run_dir=scratch_root, on_epoch=None, on_piece_done=None)
    clone = type(exp)(exp.cfg, ctx, exp.data)
    try:
        clone.prune(clone.starts())
        unverified, differ = [], []
        for path in tickets:
            fresh = clone.dir / "tickets" / path.name
            want = recorded_hash(path) if path in damaged else digest(path.read_bytes())
            if want is None:
                unverified.append(path)
            elif digest(fresh.read_bytes()) != want:
                differ.append(path)
        if differ:
            raise DnError(
                f"recomputing the pruning did not reproduce {differ[0]} bit for bit (other machine or "
                f"kernels than the run's), and this run's conditions were trained from the lost file: "
                f"restore {next(iter(damaged))} from a backup, or start a new --out")
        if unverified and len(unverified) == len(tickets):
            raise DnError(
                f"{unverified[0]} cannot be checked after recomputing it (the folder predates "
                f"checksums and no intact ticket is left to compare): restore it from a backup, or "
                f"start a new --out")
        for path in damaged:
            fresh = clone.dir / path.relative_to(exp.dir)
            os.replace(sidecar(fresh), sidecar(path))
            os.replace(fresh, path)
    finally:
        shutil.rmtree(scratch_root / exp.dir.name, ignore_errors=True)
        if scratch_root.exists() and not any(scratch_root.iterdir()):
            scratch_root.rmdir()
    if unverified:  # a folder from before checksums: the intact tickets vouch for the machine
        notice(f"restored {', '.join(str(p) for p in unverified)} without a recorded checksum to check: "
               f"the {len(tickets) - len(unverified)} intact tickets were reproduced bit for bit")
