"""Open a results folder (docs/run-format.md) without running any code from it."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import numpy as np

from results.errors import DnError
from results.integrity import DamagedFile
from results.labels import experiment_of, with_labels
from results.remedy import CONFIG_REMEDY, remedy
from results.schema import (
    CONFIG,
    DONE,
    MASK,
    MASKBITS,
    MASKCOUNT_ROUNDS,
    METRICS,
    PAIRED,
    POOL,
    PRUNING_METRICS,
    REWIND,
    SUMMARY,
    THETA0,
    key_round,
    mask_key,
    maskbits_key,
    maskcount_key,
    pool_key,
    trained_key,
    trained_prefix,
)
from results.store import read_csv, read_json, read_npz
from results.tables import table_from_markers

T = TypeVar("T")


class ExperimentResult:
    """θ0, masks and θ_LT of one experiment of a run."""

    def __init__(self, run: Run, config: dict):
        self.run = run
        self.config = config
        self.name = experiment_of(config)
        self.dir = run.path / self.name
        self._digests: tuple[tuple, dict[str, str]] | None = None

    @cached_property
    def layers(self) -> list[dict]:
        path = self.dir / "layers.json"
        if not path.exists():
            raise DnError(f"{self.name} in {self.run.path} has no tickets yet; run `dn train` first")
        return self.run.read(read_json, path)

    @cached_property
    def trials(self) -> list[int]:
        files = sorted(self.dir.glob("tickets/trial*.npz"), key=lambda p: int(p.stem[5:]))
        return [int(p.stem[5:]) for p in files]

    def _tickets(self, trial: int) -> dict[str, np.ndarray]:
        if trial not in self._cache:
            path = self.dir / "tickets" / f"trial{trial}.npz"
            if not path.exists():
                raise DnError(f"{self.name} has no ticket for trial {trial} (trials: {self.trials})")
            self._cache[trial] = self.run.read(read_npz, path)
        return self._cache[trial]

    @cached_property
    def _cache(self) -> dict[int, dict[str, np.ndarray]]:
        return {}

    @property
    def rounds(self) -> list[int]:
        """Pruning rounds whose masks are stored (0 = dense)."""
        if not self.trials:
            return []
        arrays = self._tickets(self.trials[0])
        if MASKCOUNT_ROUNDS in arrays:  # a compact run's nested masks (train/export.py)
            return list(range(int(arrays[MASKCOUNT_ROUNDS])))
        return sorted({key_round(k) for k in arrays if k.startswith((MASK, MASKBITS))})

    @property
    def pruning_complete(self) -> bool:
        return (self.dir / "done" / "pruning.json").exists()

    def theta0(self, trial: int) -> dict[str, np.ndarray]:
        """The network's initial weights and biases θ0."""
        arrays = self._tickets(trial)
        return {k[len(THETA0):]: v for k, v in arrays.items() if k.startswith(THETA0)}

    @property
    def rewinds(self) -> bool:
        """Does the run rewind to θ_k, the dense network after `rewind_step`, instead of θ0?"""
        return bool(self.trials) and any(k.startswith(REWIND) for k in self._tickets(self.trials[0]))

    def start(self, trial: int) -> dict[str, np.ndarray]:
        """What every pruning round and condition starts from: θ_k for a run that rewinds, else θ0.

        θ_LT and D_n are defined at this point (docs/rewinding.md).
        """
        arrays = self._tickets(trial)
        rewound = {k[len(REWIND):]: v for k, v in arrays.items() if k.startswith(REWIND)}
        return {**self.theta0(trial), **rewound}

    def mask(self, trial: int, round: int) -> dict[str, np.ndarray]:
        arrays = self._tickets(trial)
        out = {}
        for layer in self.layers:
            key, packed = mask_key(round, layer["param"]), maskbits_key(round, layer["param"])
            count = maskcount_key(layer["param"])
            if key in arrays:
                out[layer["param"]] = arrays[key].astype(bool)
            elif count in arrays and 0 <= round < int(arrays[MASKCOUNT_ROUNDS]):  # nested: kept in 0..count-1
                out[layer["param"]] = arrays[count] > round
            elif packed in arrays:  # a compact run (train/export.py): packed bits
                shape = tuple(layer["shape"])
                out[layer["param"]] = np.unpackbits(arrays[packed], count=int(np.prod(shape))).astype(bool).reshape(shape)
            else:
                raise DnError(f"{self.name} trial {trial} has no mask for round {round} (rounds: {self.rounds})")
        return out

    def density(self, round: int, trial: int | None = None) -> float:
        """Exact fraction of prunable weights kept after `round` (of `trial`, default the first)."""
        mask = self.mask(self.trials[0] if trial is None else trial, round)
        return sum(int(m.sum()) for m in mask.values()) / sum(m.size for m in mask.values())

    def trained(self, trial: int, round: int, biases: bool = False) -> dict[str, np.ndarray]:
        """θ' of pruning round `round` (0..n-1): the weights after its j epochs, before pruning.

        Its mask is `mask(trial, round)`; the weights that survive into round+1 are
        `trained(t, r)[w][mask(t, r + 1)[w]]`.
        """
        path = self.dir / "trained" / f"trial{trial}.npz"
        if not path.exists():
            raise DnError(f"{self.name} stores no trained weights for trial {trial} "
                          "(runs made before dn 0.2 did not keep them); re-run `dn train` to make them")
        arrays = self.run.read(read_npz, path)
        keys = {layer["param"]: trained_key(round, layer["param"]) for layer in self.layers}
        missing = [k for k in keys.values() if k not in arrays]
        if missing and any(k.startswith(POOL) for k in arrays):
            raise DnError(f"{self.name} is a compact run: it keeps the trained weights only where they "
                          "survive into a ticket round (pool_weights) and every round's biases")
        if missing:
            rounds = sorted({int(k.split("/")[1]) for k in arrays})
            raise DnError(f"{self.name} trial {trial} has no trained weights for round {round} (rounds: {rounds})")
        out = {param: arrays[key] for param, key in keys.items()}
        if biases:
            prefix = trained_prefix(round)
            out.update({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix) and k.endswith(".bias")})
        return out

    def pool_weights(self, trial: int, round: int) -> dict[str, np.ndarray]:
        """Round round-1's trained weights where mask `round` keeps them, zero elsewhere: what
        `dn_pool: trained` conditions of ticket round `round` draw from (full or compact runs)."""
        path = self.dir / "trained" / f"trial{trial}.npz"
        arrays = self.run.read(read_npz, path) if (self.dir / "trained").exists() else {}
        mask = self.mask(trial, round)
        out = {}
        for layer in self.layers:
            p = layer["param"]
            values = np.zeros(tuple(layer["shape"]), dtype=np.float32)
            if pool_key(round, p) in arrays:
                values[mask[p]] = arrays[pool_key(round, p)]
            else:
                values[mask[p]] = self.trained(trial, round - 1)[p][mask[p]]
            out[p] = values
        return out

    def trained_biases(self, trial: int, round: int) -> dict[str, np.ndarray]:
        """The biases after pruning round `round`'s training (chained protocols start from them)."""
        arrays = self.run.read(read_npz, self.dir / "trained" / f"trial{trial}.npz")
        prefix = trained_prefix(round)
        out = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix) and k.endswith(".bias")}
        if not out:
            raise DnError(f"{self.name} trial {trial} stores no biases for round {round}")
        return out

    def recorded_digests(self) -> dict[str, str]:
        """{"<condition label>/trial<t>": sha256 of its start} as training recorded it (done markers).

        Read once per state of the markers (names, inodes, sizes, times), so that reading every start of
        a run does not re-read every marker, while a run that is still training is seen as it grows.
        """
        markers = sorted((self.dir / "done").glob("train-*.json"))
        stats = [(m.name, m.stat()) for m in markers]
        key = tuple((name, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns) for name, st in stats)
        if self._digests is None or self._digests[0] != key:
            out: dict[str, str] = {}
            for marker in markers:
                data = self.run.read(read_json, marker)
                out.update(zip(data["members"], data.get("starts_sha256", [None] * len(data["members"])),
                               strict=True))
            self._digests = (key, {k: v for k, v in out.items() if v is not None})
        return dict(self._digests[1])

    def theta_lt(self, trial: int, round: int, per_layer: bool = False, standardize: bool = False):
        """Surviving initial weights: pooled 1-D array, or {layer: array} with `per_layer`.

        The initial weights are θ0, or θ_k for a run that rewinds (`start`). `standardize`
        divides each layer's values by its initialization std (layers.json), the scale that
        separates architectures.
        """
        theta, mask = self.start(trial), self.mask(trial, round)
        out = {}
        for layer in self.layers:
            values = theta[layer["param"]][mask[layer["param"]]].astype(np.float64)
            out[layer["name"]] = values / layer["init_std"] if standardize else values
        return out if per_layer else np.concatenate(list(out.values()))


class Run:
    """A results folder of `dn train` (or of `dn import`): its config, experiments and tables.

    The tables come with the condition's name and round as columns of their own
    (``condition_name``, ``round``); a table written before those columns existed gets them here.
    """

    experiment_class: type[ExperimentResult] = ExperimentResult

    def __init__(self, path: str | Path):
        self.path = Path(path)
        config = self.path / CONFIG
        if not config.exists():
            raise DnError(f"{self.path} is not a dn results folder (no config.json); run `dn train --out {self.path}`")
        try:
            self.config: dict = read_json(config)
        except DamagedFile as err:
            raise err.advise(CONFIG_REMEDY) from err
        self._judging = False

    @property
    def experiment_names(self) -> list[str]:
        """Every experiment the config names, stored or not."""
        return [experiment_of(e) for e in self.config["experiments"]]

    @property
    def experiments(self) -> list[str]:
        """Experiments with at least θ0 and one mask stored."""
        return [n for n in self.experiment_names if (self.path / n / "tickets").exists()]

    def experiment(self, name: str) -> ExperimentResult:
        for config in self.config["experiments"]:
            if experiment_of(config) == name:
                return self.experiment_class(self, config)
        raise DnError(f"{self.path} has no experiment {name!r}; it has: {', '.join(self.experiment_names)}")

    def metrics(self) -> list[dict]:
        return self._labelled(self._table(METRICS))

    def pruning_metrics(self) -> list[dict]:
        return self._table(PRUNING_METRICS)

    def summary(self) -> list[dict]:
        return self._labelled(self._table(SUMMARY))

    def paired(self) -> list[dict]:
        return self._labelled(self._table(PAIRED), reference=True)

    def _table(self, name: str, quiet: bool = False) -> list[dict]:
        """A table's rows; a damaged one, or one missing that `dn train` has written, is rebuilt from
        the done/ markers (results/tables.py), or is damage where the markers keep no rows (compact)."""
        path = self.path / name
        try:
            if path.exists() or not self._tables_written():
                return read_csv(path) if path.exists() else []
            damage = DamagedFile(path, "missing, though the done/ markers show it was written")
        except DamagedFile as err:
            damage = err
        if "compact" in self.config:  # `dn export` keeps the markers without their rows
            raise self.damaged(damage)
        return table_from_markers(self.path, self.config["experiments"], damage, self.remedy, quiet)

    def _tables_written(self) -> bool:
        """`dn train` writes every table each time a piece finishes, so a done/ marker means they were
        written; not while a `dn train` holds the folder (between a marker and its tables), nor for
        `dn import`, which writes markers without tables."""
        if "imported" in self.config or (self.path / "lock").exists():
            return False
        return any(any((self.path / n / DONE).glob("*.json")) for n in self.experiment_names)

    def read(self, reader: Callable[[Path], T], path: Path) -> T:
        """`reader(path)`, with a damaged file reported by what it holds and the fix for this folder."""
        try:
            return reader(path)
        except DamagedFile as err:
            raise self.damaged(err) from err

    def damaged(self, err: DamagedFile) -> DamagedFile:
        """The same damage, with the advice of :meth:`remedy` (every reader of a run routes through it)."""
        return err.advise(self.remedy(err.path))

    def remedy(self, path: str | Path) -> str:
        """What a damaged file of this folder holds and what fixes it: the same `dn train` for a run it
        can resume, a backup (or a new `dn export`) for a finished run or a compact copy."""
        return remedy(self.path, Path(path), self.state)

    @property
    def state(self) -> str:
        """Which fix a damaged file takes: "compact" (a copy made by `dn export`), "finished" or "resumable"."""
        if "compact" in self.config:
            return "compact"
        if self._judging:  # is_complete met a damaged file while judging: not known to be finished
            return "resumable"
        self._judging = True
        try:
            return "finished" if self.is_complete else "resumable"
        except (DnError, ValueError, KeyError, OSError):
            return "resumable"
        finally:
            self._judging = False

    def _labelled(self, rows: list[dict], reference: bool = False) -> list[dict]:
        return with_labels(rows, self.config["experiments"], reference)

    def expected_rows(self) -> int | None:
        """metrics.csv's row count once every condition model has trained (None: not recorded)."""
        count = self.config.get("expected_rows")
        return None if count is None else int(count)

    @property
    def tables_only(self) -> bool:
        """A copy that keeps the tables and θ_LT summaries but no tickets (`dn export --tables-only`)."""
        return bool(self.config.get("compact", {}).get("tables_only"))

    @property
    def is_complete(self) -> bool:
        for name in self.experiment_names if not self.tables_only else ():
            done = self.path / name / "done"
            state = self.path / name / "state"
            if not (done / "pruning.json").exists() or state.exists() and any(state.iterdir()):
                return False
        expected = self.expected_rows()
        return expected is not None and expected == len(self._table(METRICS, quiet=True))


def open_run(path: str | Path) -> Run:
    """Open a results folder; raises DnError with a one-line message if it is not one.

    This reads the stored files only. ``train.open_run`` opens the same folder with the
    re-derivation of each condition's start (``initial_weights``) added.
    """
    return Run(path)
