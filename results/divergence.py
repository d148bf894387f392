"""Spiked or diverged: decided from a model's metric rows alone (so it is always derivable).

A model is one (experiment, condition, trial); in the pruning rounds, one (experiment, round,
trial). Its rows are taken in epoch order; C = 10 classes, chance loss ln C = 2.30 (a uniform
guess's cross-entropy).

*Spike threshold.* An epoch crosses it when its train or test loss is not finite, or exceeds
``FACTOR`` (10) times its baseline: the same loss at the model's first epoch, capped at ln C. The
cap matters: a model that blows up within its first epoch (a far too large learning rate) has a
first-epoch loss of 1e13 and would never exceed ten times it.

*Above chance.* An epoch is above chance when a loss (train or test) is not finite or its train
loss exceeds ln C. The finite test loss is left out: a test loss above chance while the train
loss is below it is overfitting, not a network that has stopped fitting its data.

*Diverged*: the model crossed the spike threshold at some epoch and never recovered: its last
epoch is above chance, so from some epoch on (``Verdict.since``, the first of that final run of
above-chance epochs) every remaining epoch is above chance, through the end of training.

*Spiked*: the model crossed the spike threshold at some epoch but is not diverged: its last
epoch's losses are finite and its train loss is at most ln C (``Verdict.back`` is the first epoch
at or after the spike that is no longer above chance). A transient blow-up that training
recovers from is a spike, not a divergence.

A model that never crosses the threshold is neither, even if it ends above chance (it never
learned, or it overfits). The verdict is on the epochs there are: a model still training is
judged on its epochs so far.

Three places use the rule: a warning line while training at the first spike (:class:`Watch`;
whether the model diverged is only known at the end), the ``diverged`` and ``spiked`` columns of
summary.csv (:func:`verdicts`) and a line in the report (``reports.divergence.describe``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from results.integrity import notice

FACTOR = 10.0
LOSSES = ("train_loss", "test_loss")
CLASSES = 10  # every dataset dn trains (MNIST, Fashion-MNIST, CIFAR-10, the digits) has ten
CHANCE_LOSS = math.log(CLASSES)

SPIKE_RULE = (f"a train or test loss not finite, or above {FACTOR:g}x its first epoch's "
              f"(counted at most ln {CLASSES} = {CHANCE_LOSS:.2f}, a uniform guess's)")
CHANCE_RULE = f"train loss above ln {CLASSES} = {CHANCE_LOSS:.2f} or a loss not finite"
RULE = (f"a spike ({SPIKE_RULE}) never recovered from: from the epoch named to the last, every "
        f"epoch's {CHANCE_RULE}")
RECOVERED_RULE = (f"then recovered: losses finite and train loss at most ln {CLASSES} = {CHANCE_LOSS:.2f} "
                  "at the last epoch")

Key = tuple[str, str, int]
Row = Mapping[str, Any]  # a metric row: metrics.csv or pruning_metrics.csv columns


def model_key(row: Row) -> Key:
    """Which model a metric row belongs to; a pruning row's model is its round."""
    what = row["condition"] if "condition" in row else f"pruning round {row['round']}"
    return (str(row["experiment"]), str(what), int(row["trial"]))


def baseline(first: float) -> float:
    """The loss a model is compared with: its first epoch's, at most a uniform guess's."""
    return min(first, CHANCE_LOSS) if math.isfinite(first) else CHANCE_LOSS


def crosses_threshold(row: Row, first: Row) -> bool:
    """True when a loss of `row` is not finite or above FACTOR x the baseline from `first` (a spike)."""
    for key in LOSSES:
        value = float(row[key])
        if not math.isfinite(value) or value > FACTOR * baseline(float(first[key])):
            return True
    return False


def above_chance(row: Row) -> bool:
    """True when a loss of `row` is not finite or its train loss is above chance (ln C)."""
    if not all(math.isfinite(float(row[key])) for key in LOSSES):
        return True
    return float(row["train_loss"]) > CHANCE_LOSS


@dataclass(frozen=True)
class Verdict:
    """How one model that crossed the spike threshold ended: ``diverged`` or ``spiked``."""

    kind: str  # "diverged" or "spiked"
    spike: Row  # the first epoch that crossed the threshold
    since: Row | None  # diverged: the first epoch of the final run of above-chance epochs
    back: Row | None  # spiked: the first epoch at or after the spike that is not above chance

    @property
    def diverged(self) -> bool:
        return self.kind == "diverged"


def verdict(model_rows: list[Row]) -> Verdict | None:
    """The verdict on one model's rows (any order); None when it never crossed the threshold."""
    ordered = sorted(model_rows, key=lambda r: int(r["epoch"]))
    spikes = [i for i, r in enumerate(ordered) if crosses_threshold(r, ordered[0])]
    if not spikes:
        return None
    if above_chance(ordered[-1]):
        start = len(ordered) - 1
        while start > 0 and above_chance(ordered[start - 1]):
            start -= 1
        return Verdict("diverged", ordered[spikes[0]], ordered[start], None)
    back = next(r for r in ordered[spikes[0]:] if not above_chance(r))
    return Verdict("spiked", ordered[spikes[0]], None, back)


def verdicts(rows: Iterable[Row]) -> dict[Key, Verdict]:
    """The verdict of every model that crossed the spike threshold, in model order."""
    by_model: dict[Key, list[Row]] = {}
    for row in rows:
        by_model.setdefault(model_key(row), []).append(row)
    out = {}
    for key, model_rows in by_model.items():
        if (v := verdict(model_rows)) is not None:
            out[key] = v
    return out


def diverged_models(rows: Iterable[Row]) -> dict[Key, Row]:
    """Every diverged model: the first epoch from which it stayed above chance, in model order."""
    return {key: v.since for key, v in verdicts(rows).items() if v.diverged and v.since is not None}


def spiked_models(rows: Iterable[Row]) -> dict[Key, Row]:
    """Every spiked (and recovered) model: its first epoch over the spike threshold, in model order."""
    return {key: v.spike for key, v in verdicts(rows).items() if not v.diverged}


def _losses(row: Row) -> str:
    return f"train loss {float(row['train_loss']):.3g}, test loss {float(row['test_loss']):.3g}"


class Watch:
    """Sees every metric row as it is made and warns once per model at its first spike."""

    def __init__(self) -> None:
        self.first: dict[Key, Row] = {}
        self.warned: set[Key] = set()

    def see(self, row: Row) -> None:
        key = model_key(row)
        first = self.first.setdefault(key, row)
        if key not in self.warned and crosses_threshold(row, first):
            self.warned.add(key)
            experiment, what, trial = key
            notice(f"warning: {experiment} {what} trial {trial} spiked at epoch {row['epoch']} "
                   f"({_losses(row)}; {SPIKE_RULE}); training goes on, and whether it diverged is "
                   f"decided at the end: summary.csv marks it diverged if it never recovers "
                   f"({CHANCE_RULE} through the last epoch), spiked if it does")
