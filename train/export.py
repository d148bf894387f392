"""Compact copies of finished runs, small enough to commit (`dn export RUN --out docs/runs/NAME`).

A compact run opens with `open_run` like any other and answers the same questions, from far
fewer bytes: masks are packed bits (`maskbits/<r>/<w>`), the trained weights of the pruning
rounds keep only what the conditions and models of D_n read (the values that survive into each
ticket round, and every round's biases) plus a stratified sample of their trajectories for DnModel
(training_stats.npz), completion markers keep their members and start
digests (metric rows live in metrics.csv). It cannot be resumed: it is an archive.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from train.errors import DnError
from train.store import read_json, read_npz, write_json, write_npz

TABLES = ("metrics.csv", "pruning_metrics.csv", "summary.csv", "paired.csv")
LIMIT_BYTES = 5 * 2**20


def _pack_tickets(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {}
    for key, value in arrays.items():
        if key.startswith("mask/"):
            out["maskbits/" + key[len("mask/"):]] = np.packbits(value.astype(bool).ravel())
        else:
            out[key] = value
    return out


def _compact_trained(arrays: dict[str, np.ndarray], tickets: dict[str, np.ndarray], rounds: list[int],
                     params: list[str]) -> dict[str, np.ndarray]:
    """Every round's biases; for each ticket round r, round r-1's trained weights at mask r."""
    out = {k: v for k, v in arrays.items() if k.endswith(".bias")}
    for r in rounds:
        for p in params:
            out[f"pool/{r}/{p}"] = arrays[f"trained/{r - 1}/{p}"][tickets[f"mask/{r}/{p}"].astype(bool)]
    return out


STATS_PER_STRATUM = 500  # trajectories per stratum kept for DnModel: ~1.4 MB for FC-1's 5 trials


def export_run(src: str | Path, dest: str | Path) -> Path:
    """Write the compact copy of the finished run `src` into the new folder `dest`."""
    from train.run import open_run

    src, dest = Path(src), Path(dest)
    run = open_run(src)
    if not run.is_complete:
        raise DnError(f"{src} is not complete; finish it with `dn train --out {src}` before exporting")
    if dest.exists() and any(dest.iterdir()):
        raise DnError(f"{dest} exists and is not empty; choose another --out")
    config = dict(run.config)
    config["compact"] = {"source": src.name}
    write_json(dest / "config.json", config)
    for table in TABLES:
        if (src / table).exists():
            shutil.copyfile(src / table, dest / table)
    for name in run.experiments:
        exp, cfg = run.experiment(name), next(e for e in run.config["experiments"]
                                              if f"{e['model']}-{e['dataset']}" == name)
        params = [layer["param"] for layer in exp.layers]
        write_json(dest / name / "layers.json", exp.layers)
        for marker in sorted((src / name / "done").glob("*.json")):
            data = read_json(marker)
            write_json(dest / name / "done" / marker.name, {k: v for k, v in data.items() if k != "rows"})
        for path in sorted((src / name / "carry").glob("*.npz")):
            write_npz(dest / name / "carry" / path.name, read_npz(path))
        for path in sorted((src / name / "fitted").glob("*.json")):  # DnModels behind `fitted` starts
            write_json(dest / name / "fitted" / path.name, read_json(path))
        if (src / name / "trained").is_dir():  # what DnModel needs of trained/ (dn_analysis/model/stats.py)
            from dn_analysis.model.stats import STATS_FILE, write_training_stats

            write_training_stats(exp, dest / name / STATS_FILE, per_stratum=STATS_PER_STRATUM)
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
