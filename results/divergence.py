"""When a model has diverged, decided from its metric rows alone (so it is always derivable).

A model (experiment, condition, trial; in the pruning rounds: experiment, round, trial) has
diverged at the first epoch whose train or test loss is not finite, or exceeds ``FACTOR`` times
its baseline: the same loss at the model's first epoch, capped at the loss of a uniform guess
over the classes (ln C). The cap matters: a model that blows up within its first epoch (a far
too large learning rate) has a first-epoch loss of 1e13 and would never exceed ten times it.

Three places use the rule: a warning line while training (:class:`Watch`), the ``diverged``
column of summary.csv (:func:`diverged_models`) and a line in the report (``reports.divergence.describe``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from results.integrity import notice

FACTOR = 10.0
LOSSES = ("train_loss", "test_loss")
CLASSES = 10  # every dataset dn trains (MNIST, Fashion-MNIST, CIFAR-10, the digits) has ten
CHANCE_LOSS = math.log(CLASSES)

RULE = (f"a train or test loss not finite, or above {FACTOR:g}x its first epoch's "
        f"(counted at most ln {CLASSES} = {CHANCE_LOSS:.2f}, a uniform guess's)")

Key = tuple[str, str, int]
Row = Mapping[str, Any]  # a metric row: metrics.csv or pruning_metrics.csv columns


def model_key(row: Row) -> Key:
    """Which model a metric row belongs to; a pruning row's model is its round."""
    what = row["condition"] if "condition" in row else f"pruning round {row['round']}"
    return (str(row["experiment"]), str(what), int(row["trial"]))


def baseline(first: float) -> float:
    """The loss a model is compared with: its first epoch's, at most a uniform guess's."""
    return min(first, CHANCE_LOSS) if math.isfinite(first) else CHANCE_LOSS


def is_diverged(row: Row, first: Row) -> bool:
    """True when a loss of `row` is not finite or above FACTOR x the baseline from `first`."""
    for key in LOSSES:
        value = float(row[key])
        if not math.isfinite(value) or value > FACTOR * baseline(float(first[key])):
            return True
    return False


def diverged_models(rows: Iterable[Row]) -> dict[Key, Row]:
    """The first diverged row of every model that diverged, in model order."""
    by_model: dict[Key, list[Row]] = {}
    for row in rows:
        by_model.setdefault(model_key(row), []).append(row)
    out = {}
    for key, model_rows in by_model.items():
        model_rows.sort(key=lambda r: int(r["epoch"]))
        hit = next((r for r in model_rows if is_diverged(r, model_rows[0])), None)
        if hit is not None:
            out[key] = hit
    return out


def _losses(row: Row) -> str:
    return f"train loss {float(row['train_loss']):.3g}, test loss {float(row['test_loss']):.3g}"


class Watch:
    """Sees every metric row as it is made and warns once per model when it diverges."""

    def __init__(self) -> None:
        self.first: dict[Key, Row] = {}
        self.warned: set[Key] = set()

    def see(self, row: Row) -> None:
        key = model_key(row)
        first = self.first.setdefault(key, row)
        if key not in self.warned and is_diverged(row, first):
            self.warned.add(key)
            experiment, what, trial = key
            notice(f"warning: {experiment} {what} trial {trial} diverged at epoch {row['epoch']} "
                   f"({_losses(row)}; {RULE}); training goes on, summary.csv marks it diverged")
