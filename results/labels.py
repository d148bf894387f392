"""Labels as data: which condition a row is about, at which pruning round, in which experiment.

A results row names its model by a text label, e.g. ``full`` (a dense condition) or ``reinit-26``
(a condition on the ticket of density 26.2%, the floor of its percentage). The label is made and
read here and nowhere else: every table also carries the condition's name and round as columns of
their own (``condition_name``, ``round``), and a table written before those columns existed is
read through :meth:`Label.parse`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


def experiment_name(model: str, dataset: str) -> str:
    """An experiment's name, e.g. ``fc1-mnist``: one architecture on one dataset."""
    return f"{model}-{dataset}"


def experiment_of(config: Mapping) -> str:
    """The experiment name of one experiment's config (a dict of config.json's ``experiments``)."""
    return experiment_name(str(config["model"]), str(config["dataset"]))


def split_experiment(name: str) -> tuple[str, str]:
    """``fc1-mnist`` -> (``fc1``, ``mnist``): the model is the part before the first ``-``."""
    model, _, dataset = name.partition("-")
    if not model or not dataset:
        raise ValueError(f"experiment names are MODEL-DATASET (e.g. fc1-mnist), got {name!r}")
    return model, dataset


def percent(density: float) -> int:
    """The density in a label: the floor of its percentage (0.2621 -> 26), robust to 0.26 = 25.99..."""
    return int(math.floor(density * 100 + 1e-9))


def nominal_density(prune_rate: float, round: int) -> float:
    """(1 - s)^round: the density a label of that pruning round is named by."""
    return (1.0 - prune_rate) ** round


def round_density(entry: Mapping, round: int) -> float:
    """The density labels of `round` are named by, for one of config.json's experiment entries:
    its recorded `nominal_densities` (per-layer rates, results/rates.py), else (1 - s)^round."""
    recorded = entry.get("nominal_densities")
    if recorded is not None:
        return float(recorded[round])
    return nominal_density(float(entry["prune_rate"]), round)


@dataclass(frozen=True, order=True)
class Label:
    """One condition model's label: its condition and the ticket's pruning round (0: dense).

    A condition's name never ends in ``-<digits>`` (the registry refuses such a name), so the
    text form can always be read back.
    """

    condition: str
    round: int = 0

    @property
    def dense(self) -> bool:
        return self.round == 0

    def text(self, density: float) -> str:
        """``full`` for a dense condition; ``reinit-26`` for one on a ticket of that density."""
        return self.condition if self.dense else f"{self.condition}-{percent(density)}"

    @staticmethod
    def split(text: str) -> tuple[str, int | None]:
        """(condition, density percentage) of a label's text; the percentage is None when dense."""
        name, sep, suffix = str(text).rpartition("-")
        if sep and name and suffix.isdigit():
            return name, int(suffix)
        return str(text), None

    @staticmethod
    def named(condition: str, pct: int | str | None) -> str:
        """The text of `condition` at a density percentage (None: dense), as :meth:`split` reads it."""
        return condition if pct is None else f"{condition}-{int(pct)}"

    @classmethod
    def parse(cls, text: str, densities: Mapping[int, float]) -> Label:
        """The label whose text is `text`, given the nominal density of each ticket round.

        Raises ValueError when the percentage matches no ticket round (or more than one).
        """
        name, pct = cls.split(text)
        if pct is None:
            return cls(name, 0)
        rounds = [r for r, d in densities.items() if r > 0 and percent(d) == pct]
        if len(rounds) != 1:
            known = ", ".join(f"{percent(d)}% (round {r})" for r, d in sorted(densities.items()))
            raise ValueError(f"{text!r} names a density of {pct}%, which is "
                             f"{'no' if not rounds else 'more than one'} ticket round of the run ({known})")
        return cls(name, rounds[0])


def check_condition_name(name: str) -> str:
    """`name`, if it can be a condition's name (its labels must read back); else ValueError."""
    if not name or Label.split(f"{name}-1") != (name, 1) or Label.split(name)[1] is not None:
        raise ValueError(f"a condition's name must not be empty or end in -<digits>, got {name!r}")
    return name


def condition_name(row: Mapping) -> str:
    """A row's condition name: its `condition_name` column, or read from its label when it has none."""
    name = row.get("condition_name")
    return str(name) if name not in (None, "") else Label.split(row["condition"])[0]


def with_labels(rows: list[dict], experiments: list[Mapping], reference: bool = False) -> list[dict]:
    """`rows` (dicts, changed in place) with condition_name and round, and with `reference` the
    reference_name, filled where a table written before those columns lacks them.

    `experiments` are config.json's experiment entries: their prune_rate names each round's density.
    """
    densities = {experiment_of(e): {r: round_density(e, r)
                                    for r in range(int(e["prune_rounds"]) + 1)} for e in experiments}
    for row in rows:
        if row.get("round") in (None, ""):
            label = Label.parse(row["condition"], densities.get(row["experiment"], {}))
            row["condition_name"], row["round"] = label.condition, label.round
        elif row.get("condition_name") in (None, ""):
            row["condition_name"] = Label.split(row["condition"])[0]
        if reference and row.get("reference_name") in (None, ""):
            row["reference_name"] = Label.split(row["reference"])[0]
    return rows
