"""Compact copies of finished runs, small enough to commit (`dn export RUN --out docs/runs/NAME`).

A compact run opens with `open_run` like any other and answers the same questions, from far
fewer bytes: nested masks are one count per weight (`maskcount/<w>`: the weight is kept in rounds
0..count-1; masks that are not nested are packed bits, `maskbits/<r>/<w>`), the trained weights of the pruning
rounds keep only what the conditions and models of D_n read (the values that survive into each
ticket round, and every round's biases) plus a stratified sample of their trajectories for DnModel
(training_stats.npz), completion markers keep their members and start
digests (metric rows live in metrics.csv). It cannot be resumed: it is an archive.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from results.errors import DnError
from results.labels import experiment_of
from results.schema import (
    MASK,
    MASKCOUNT,
    MASKCOUNT_ROUNDS,
    STATS_FILE,
    mask_key,
    maskbits_key,
    maskcount_key,
    pool_key,
    trained_key,
)
from results.store import read_json, read_npz, write_json, write_npz
from train.fitted import write_training_stats

TABLES = ("metrics.csv", "pruning_metrics.csv", "summary.csv", "paired.csv")
LIMIT_BYTES = 5 * 2**20


def _pack_tickets(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """θ0 as it is; the masks of rounds 0..n as one uint8 count per weight where they are nested.

    Iterative pruning only removes weights, so mask r is `count > r`: one byte per weight that
    deflates to ~3 bits, against 11 packed bits for FC-1's 11 masks (about 40% of a ticket file).
    """
    out = {k: v for k, v in arrays.items() if not k.startswith(MASK)}
    masks: dict[str, dict[int, np.ndarray]] = {}
    for key, value in arrays.items():
        if key.startswith(MASK):
            _, r, param = key.split("/", 2)
            masks.setdefault(param, {})[int(r)] = value.astype(bool)
    for param, by_round in masks.items():
        rounds = sorted(by_round)
        stack = np.stack([by_round[r] for r in rounds])
        nested = rounds == list(range(len(rounds))) and len(rounds) < 256 and bool((stack[1:] <= stack[:-1]).all())
        if nested:
            out[maskcount_key(param)] = stack.sum(axis=0, dtype=np.uint8)
            continue
        for r in rounds:
            out[maskbits_key(r, param)] = np.packbits(by_round[r].ravel())
    if any(k.startswith(MASKCOUNT) for k in out):
        out[MASKCOUNT_ROUNDS] = np.array(max(len(v) for v in masks.values()), dtype=np.int64)
    return out


def _compact_trained(arrays: dict[str, np.ndarray], tickets: dict[str, np.ndarray], rounds: list[int],
                     params: list[str]) -> dict[str, np.ndarray]:
    """Every round's biases; for each ticket round r, round r-1's trained weights at mask r."""
    out = {k: v for k, v in arrays.items() if k.endswith(".bias")}
    for r in rounds:
        for p in params:
            out[pool_key(r, p)] = arrays[trained_key(r - 1, p)][tickets[mask_key(r, p)].astype(bool)]
    return out


STATS_PER_STRATUM = 500  # trajectories per stratum kept for DnModel: ~1.4 MB for FC-1's 5 trials


def start_copy(src: Path, dest: Path, compact: dict):
    """Open the finished run `src`, check `dest` is new, write its config (marked `compact`) and tables."""
    from train.replay import open_run

    run = open_run(src)
    if not run.is_complete:
        raise DnError(f"{src} is not complete; finish it with `dn train --out {src}` before exporting")
    if dest.exists() and any(dest.iterdir()):
        raise DnError(f"{dest} exists and is not empty; choose another --out")
    write_json(dest / "config.json", {**run.config, "compact": compact})
    for table in TABLES:
        if (src / table).exists():
            shutil.copyfile(src / table, dest / table)
    return run


def export_run(src: str | Path, dest: str | Path, stats_per_stratum: int = STATS_PER_STRATUM) -> Path:
    """Write the compact copy of the finished run `src` into the new folder `dest`.

    `stats_per_stratum=0` leaves out training_stats.npz (DnModel then needs the full run).
    """
    src, dest = Path(src), Path(dest)
    if stats_per_stratum < 0:
        raise DnError(f"--stats-per-stratum must be >= 0, got {stats_per_stratum}")
    run = start_copy(src, dest, {"source": src.name})
    for name in run.experiments:
        exp, cfg = run.experiment(name), next(e for e in run.config["experiments"]
                                              if experiment_of(e) == name)
        params = [layer["param"] for layer in exp.layers]
        write_json(dest / name / "layers.json", exp.layers)
        for marker in sorted((src / name / "done").glob("*.json")):
            data = read_json(marker)
            write_json(dest / name / "done" / marker.name, {k: v for k, v in data.items() if k != "rows"})
        for path in sorted((src / name / "carry").glob("*.npz")):
            write_npz(dest / name / "carry" / path.name, read_npz(path))
        for path in sorted((src / name / "fitted").glob("*.json")):  # DnModels behind `fitted` starts
            write_json(dest / name / "fitted" / path.name, read_json(path))
        if stats_per_stratum > 0 and (src / name / "trained").is_dir():  # what DnModel needs of trained/ (dn_analysis/model/stats.py)
            write_training_stats(exp, dest / name / STATS_FILE, per_stratum=stats_per_stratum)
        for t in exp.trials:
            tickets = read_npz(src / name / "tickets" / f"trial{t}.npz")
            write_npz(dest / name / "tickets" / f"trial{t}.npz", _pack_tickets(tickets), compress=True)
            trained = src / name / "trained" / f"trial{t}.npz"
            if trained.exists():
                small = _compact_trained(read_npz(trained), tickets, list(cfg["ticket_rounds"]), params)
                write_npz(dest / name / "trained" / f"trial{t}.npz", small, compress=True)
    too_big = [p for p in dest.rglob("*") if p.is_file() and p.stat().st_size > LIMIT_BYTES]
    if too_big:
        raise DnError(f"{too_big[0]} is over 5 MB; a compact run keeps every file under 5 MB")
    return dest
