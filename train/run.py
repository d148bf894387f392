"""Open a results folder (docs/run-format.md) without running any code from it."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np

from train.errors import DnError
from train.integrity import DamagedFile
from train.recovery import table_from_markers
from train.store import read_csv, read_json, read_npz


class ExperimentResult:
    """θ0, masks and θ_LT of one experiment of a run."""

    def __init__(self, run: Run, config: dict):
        self.run = run
        self.config = config
        self.name = f"{config['model']}-{config['dataset']}"
        self.dir = run.path / self.name

    @cached_property
    def layers(self) -> list[dict]:
        path = self.dir / "layers.json"
        if not path.exists():
            raise DnError(f"{self.name} in {self.run.path} has no tickets yet; run `dn train` first")
        try:
            return read_json(path)
        except DamagedFile as err:
            raise err.advise("re-run the same `dn train` with this --out: it rewrites layers.json") from err

    @cached_property
    def trials(self) -> list[int]:
        files = sorted(self.dir.glob("tickets/trial*.npz"), key=lambda p: int(p.stem[5:]))
        return [int(p.stem[5:]) for p in files]

    def _tickets(self, trial: int) -> dict[str, np.ndarray]:
        if trial not in self._cache:
            path = self.dir / "tickets" / f"trial{trial}.npz"
            if not path.exists():
                raise DnError(f"{self.name} has no ticket for trial {trial} (trials: {self.trials})")
            try:
                self._cache[trial] = read_npz(path)
            except DamagedFile as err:
                raise err.advise(f"it holds trial {trial}'s θ0 and masks: re-run the same `dn train` with "
                                 "this --out, which recomputes it and checks it against its recorded "
                                 "checksum, or restore it from a backup") from err
        return self._cache[trial]

    @cached_property
    def _cache(self) -> dict[int, dict[str, np.ndarray]]:
        return {}

    @property
    def rounds(self) -> list[int]:
        """Pruning rounds whose masks are stored (0 = dense)."""
        if not self.trials:
            return []
        keys = self._tickets(self.trials[0]).keys()
        return sorted({int(k.split("/")[1]) for k in keys if k.startswith("mask/")})

    @property
    def pruning_complete(self) -> bool:
        return (self.dir / "done" / "pruning.json").exists()

    def theta0(self, trial: int) -> dict[str, np.ndarray]:
        arrays = self._tickets(trial)
        return {k[len("theta0/"):]: v for k, v in arrays.items() if k.startswith("theta0/")}

    def mask(self, trial: int, round: int) -> dict[str, np.ndarray]:
        arrays = self._tickets(trial)
        if f"mask/{round}/{self.layers[0]['param']}" not in arrays:
            raise DnError(f"{self.name} trial {trial} has no mask for round {round} (rounds: {self.rounds})")
        return {layer["param"]: arrays[f"mask/{round}/{layer['param']}"].astype(bool) for layer in self.layers}

    def density(self, round: int, trial: int | None = None) -> float:
        """Exact fraction of prunable weights kept after `round` (of `trial`, default the first)."""
        mask = self.mask(self.trials[0] if trial is None else trial, round)
        return sum(int(m.sum()) for m in mask.values()) / sum(m.size for m in mask.values())

    def theta_lt(self, trial: int, round: int, per_layer: bool = False, standardize: bool = False):
        """Surviving initial weights: pooled 1-D array, or {layer: array} with `per_layer`.

        `standardize` divides each layer's values by its initialization std (layers.json), the
        scale that separates architectures.
        """
        theta, mask = self.theta0(trial), self.mask(trial, round)
        out = {}
        for layer in self.layers:
            values = theta[layer["param"]][mask[layer["param"]]].astype(np.float64)
            out[layer["name"]] = values / layer["init_std"] if standardize else values
        return out if per_layer else np.concatenate(list(out.values()))


class Run:
    """A results folder of `dn train`."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        config = self.path / "config.json"
        if not config.exists():
            raise DnError(f"{self.path} is not a dn results folder (no config.json); run `dn train --out {self.path}`")
        try:
            self.config: dict = read_json(config)
        except DamagedFile as err:
            raise err.advise("it records the run's settings and nothing else does: restore it from a backup") from err

    @property
    def experiments(self) -> list[str]:
        """Experiments with at least θ0 and one mask stored."""
        names = [f"{e['model']}-{e['dataset']}" for e in self.config["experiments"]]
        return [n for n in names if (self.path / n / "tickets").exists()]

    def experiment(self, name: str) -> ExperimentResult:
        for config in self.config["experiments"]:
            if f"{config['model']}-{config['dataset']}" == name:
                return ExperimentResult(self, config)
        known = [f"{e['model']}-{e['dataset']}" for e in self.config["experiments"]]
        raise DnError(f"{self.path} has no experiment {name!r}; it has: {', '.join(known)}")

    def metrics(self) -> list[dict]:
        return self._table("metrics.csv")

    def pruning_metrics(self) -> list[dict]:
        return self._table("pruning_metrics.csv")

    def summary(self) -> list[dict]:
        return self._table("summary.csv")

    def _table(self, name: str) -> list[dict]:
        path = self.path / name
        try:
            return read_csv(path) if path.exists() else []
        except DamagedFile as err:  # derivable: every row is also in a done/ marker
            names = [f"{e['model']}-{e['dataset']}" for e in self.config["experiments"]]
            return table_from_markers(self.path, names, err)

    @property
    def is_complete(self) -> bool:
        for config in self.config["experiments"]:
            done = self.path / f"{config['model']}-{config['dataset']}" / "done"
            if not (done / "pruning.json").exists() or (done.parent / "state").exists() and any((done.parent / "state").iterdir()):
                return False
        return self._expected_rows() == len(self.metrics())

    def _expected_rows(self) -> int:
        total = 0
        for e in self.config["experiments"]:
            ticket_conds = [c for c in e["conditions"] if c != "full"]
            per_trial = ("full" in e["conditions"]) + len(ticket_conds) * len(e["ticket_rounds"])
            total += per_trial * e["trials"] * e["epochs"]
        return total


def open_run(path: str | Path) -> Run:
    """Open a results folder; raises DnError with a one-line message if it is not one."""
    return Run(path)
