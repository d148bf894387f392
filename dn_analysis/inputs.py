"""The experiments `dn analyze` reads: results folders gathered into `Exp` handles with a θ_LT cache.

Only reading: `gather` opens each folder with `results.open_run` (no code from the folder runs) and
says which ticket rounds are there and which are still missing; a damaged file stops it with the
fix that fits the folder (results/remedy.py), never passing for a round not there yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dn_analysis.naming import experiment_keys
from dn_analysis.views import pooled_theta_lt, theta_lt_view
from results.errors import DnError
from results.integrity import DamagedFile
from results.labels import experiment_of


@dataclass(frozen=True)
class Settings:
    quick: bool = False
    seed: int = 0
    n_resamples: int = 499          # symmetry flips / bootstrap
    n_boot: int = 199               # mode tests
    verdict_boot: int = 100         # shape_verdict resamples
    compare_n_resamples: int = 199
    compare_max_n: int = 20000
    modes_max_n: int = 20000
    gmm_max_n: int = 20000          # GMM fits use a seeded subsample of this size

    @classmethod
    def make(cls, quick: bool) -> Settings:
        if quick:
            return cls(quick=True, n_resamples=99, n_boot=39, verdict_boot=20,
                       compare_n_resamples=49, compare_max_n=5000, modes_max_n=5000, gmm_max_n=5000)
        return cls()


@dataclass
class Exp:
    """One experiment of one run: its handle, config and θ_LT cache."""

    name: str
    run_dir: Path
    handle: Any
    config: dict
    rounds: list[int]
    analyzed: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    _cache: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        model = {"fc1": "FC-1", "lenet5": "LeNet5"}.get(self.config.get("model"), self.config.get("model"))
        base, plain = f"{model} ({self.config.get('dataset')})", f"{self.config.get('model')}-{self.config.get('dataset')}"
        return base if self.name == plain else f"{base}, {self.name[len(plain) + 1:]}"

    def density(self, r: int) -> float:
        return float(self.handle.density(r))

    def pooled(self, r: int, view: str = "raw") -> np.ndarray:
        key = ("pooled", r, view)
        if key not in self._cache:
            self._cache[key] = np.asarray(pooled_theta_lt(self.handle, r, view=view), dtype=np.float64)
        return self._cache[key]

    def per_trial(self, r: int, view: str = "raw") -> list[np.ndarray]:
        return [np.asarray(theta_lt_view(self.handle, t, r, view=view)) for t in self.handle.trials]

    def per_layer(self, r: int, view: str = "raw") -> dict[str, np.ndarray]:
        key = ("layers", r, view)
        if key not in self._cache:
            self._cache[key] = pooled_theta_lt(self.handle, r, view=view, per_layer=True)
        return self._cache[key]


def _err(msg: str) -> Exception:
    return DnError(msg)


def gather(run_dirs: list[Path]) -> tuple[list[Exp], list[dict]]:
    """Experiments of all run folders with their analyzable ticket rounds, and what is missing.

    An experiment found in several folders (e.g. one per protocol) is kept once per folder,
    named `<experiment>-<protocol>` (or `<experiment>-<folder>` when the protocols agree).
    """
    from results import open_run

    if not run_dirs:
        raise _err("give at least one results folder with --runs DIR")
    exps: list[Exp] = []
    missing: list[dict] = []
    entries: list[tuple[Path, str, dict]] = []
    runs = {}
    for d in run_dirs:
        d = Path(d)
        if d.is_file():
            raise _err(f"--runs {d} is a file, not a folder; give a results folder made by `dn train --out DIR`")
        if not d.is_dir():
            raise _err(f"{d} is not a folder; give a results folder made by `dn train --out DIR`")
        run = runs[d] = open_run(d)
        if not run.experiments:
            raise _err(f"{d} has no tickets yet (no experiment has stored masks); wait for `dn train` to prune")
        entries += [(d, experiment_of(c), c) for c in run.config["experiments"]]
    for (d, name, cfg), key in zip(entries, experiment_keys(entries), strict=True):
        if name not in runs[d].experiments:
            continue
        handle = runs[d].experiment(name)
        try:
            rounds = [int(r) for r in handle.rounds]
            trials = list(handle.trials)
        except DamagedFile:  # named with what it holds and its fix (Run.remedy): never "not there yet"
            raise
        except DnError as err:  # a ticket removed while reading (a run being cleaned up)
            missing.append({"experiment": key, "round": None, "reason": f"{name} in {d.name} unreadable: {err}"})
            continue
        if not trials:
            missing.append({"experiment": key, "round": None, "reason": f"{name} in {d.name} has no trials yet"})
            continue
        e = Exp(key, d, handle, cfg, rounds)
        for r in cfg.get("ticket_rounds", []):
            if r in rounds:
                e.analyzed.append(int(r))
            else:
                e.missing.append(int(r))
                have = ", ".join(map(str, rounds))
                missing.append({"experiment": key, "round": int(r),
                                "reason": f"round {r} not there yet (rounds available: {have})"})
        exps.append(e)
    if not any(e.analyzed for e in exps):
        detail = "; ".join(f"{e.name} has rounds {', '.join(map(str, e.rounds))} of ticket rounds "
                           f"{', '.join(map(str, e.config.get('ticket_rounds', [])))}" for e in exps)
        raise _err(f"no ticket round is there yet in {', '.join(Path(d).name for d in run_dirs)} ({detail}); "
                   "wait for pruning to reach a ticket round")
    return exps, missing


def comparable(a: Exp, b: Exp) -> bool:
    """FC-1 against LeNet5: pairs of different architectures under the same protocol."""
    return (a.config.get("model") != b.config.get("model")
            and a.config.get("protocol", "text") == b.config.get("protocol", "text"))


def subsample(x: np.ndarray, n_max: int, seed: int) -> np.ndarray:
    """At most n_max values, drawn without replacement with a fixed seed (all of x if smaller)."""
    if x.size <= n_max:
        return x
    return np.random.default_rng(seed).choice(x, size=n_max, replace=False)


def input_means(e: Exp, data_dir: str | Path | None) -> tuple[np.ndarray | None, str]:
    """The normalized train-set mean of each input feature when the first layer is dense, or why not."""
    first = e.handle.layers[0]
    if len(first["shape"]) != 2:
        return None, ""  # a conv first layer reads every pixel; per-channel means are 0 by normalization
    from dn_data import load_raw

    name = e.config.get("dataset")
    stats = e.handle.run.config.get("data", {}).get(name, {})
    try:
        raw = load_raw(name, data_dir)
    except DnError:
        return None, (f"input-mean trend of {first['param']} skipped: {name} not found "
                      "(give --data-dir or set DN_DATA_DIR)")
    if "mean" not in stats or raw.x_train[0].size != first["shape"][1]:
        return None, f"input-mean trend of {first['param']} skipped: the data does not match the run"
    x = raw.x_train.reshape(len(raw.x_train), -1).astype(np.float64).mean(axis=0) / raw.scale
    channels = len(stats["mean"])
    per = x.size // channels
    mean = np.repeat(np.asarray(stats["mean"], dtype=np.float64), per)
    std = np.repeat(np.asarray(stats["std"], dtype=np.float64), per)
    return (x - mean) / std, ""
