"""What an experiment is compared with: the paper's table, the authors' outputs, or nothing.

A run is "the paper's experiment" when it trains fc1-mnist or lenet5-cifar10 at the paper
preset's settings for its protocol, on the whole train and test sets. Then:
- text protocol, the paper's epochs: the paper's Figure 1 / Figure 3 table;
- authors protocol, the paper's epochs: the authors' published outputs (their trial-mean curve,
  `authors_reference.csv`; its maxima are the paper's table);
- fewer epochs (either protocol): the authors' curve over the same epochs, labelled so.
Any other run (digits, smoke, quick, other settings) has no reference column.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from dataclasses import dataclass
from functools import cache

from reports.paper import PAPER_TABLES
from reports.runs import ExperimentStatus
from studies.authors_match import REFERENCE_CSV

IGNORED = {"epochs", "conditions", "fitted_sampler"}  # settings that do not change what is compared


@dataclass(frozen=True)
class Reference:
    """The numbers an experiment is set beside: condition -> (max acc, epoch, min loss, epoch)."""

    header: str    # column header, e.g. "Paper (Fig. 1)"
    source: str    # one phrase for captions and sentences
    rows: dict[str, tuple[float, int, float, int]]


@cache
def authors_curves() -> dict[tuple[str, str], list[tuple[int, float, float]]]:
    """{(experiment, condition): [(epoch, mean test acc, mean train loss)]} from authors_reference.csv."""
    out: dict[tuple[str, str], list[tuple[int, float, float]]] = {}
    with open(REFERENCE_CSV) as f:
        for r in csv.DictReader(f):
            out.setdefault((r["experiment"], r["condition"]), []).append(
                (int(r["epoch"]), float(r["test_acc_mean"]), float(r["train_loss_mean"])))
    for v in out.values():
        v.sort()
    return out


@cache
def authors_bands() -> dict[tuple[str, str], tuple[tuple[int, float, float, float], ...]]:
    """{(experiment, condition): ((epoch, mean, min, max) test accuracy over the authors' trials), ...}."""
    out: dict[tuple[str, str], list[tuple[int, float, float, float]]] = {}
    with open(REFERENCE_CSV) as f:
        for r in csv.DictReader(f):
            out.setdefault((r["experiment"], r["condition"]), []).append(
                (int(r["epoch"]), float(r["test_acc_mean"]), float(r["test_acc_min"]), float(r["test_acc_max"])))
    return {k: tuple(sorted(v)) for k, v in out.items()}


def authors_extremes(experiment: str, condition: str, last_epoch: int) -> tuple[float, int, float, int] | None:
    """Max of the authors' trial-mean accuracy and min of their mean train loss over epochs 0..last_epoch."""
    curve = [p for p in authors_curves().get((experiment, condition), []) if p[0] <= last_epoch]
    if not curve:
        return None
    best = max(curve, key=lambda p: (p[1], -p[0]))
    low = min(curve, key=lambda p: (p[2], p[0]))
    return best[1], best[0], low[2], low[0]


def is_paper_experiment(exp: ExperimentStatus) -> bool:
    """fc1-mnist / lenet5-cifar10 at the paper preset's settings for its protocol, full data."""
    from train.config import PAPER_EXPERIMENTS, preset_experiment

    if exp.name not in PAPER_EXPERIMENTS or exp.preset != "paper":
        return False
    expected = json.loads(json.dumps(dataclasses.asdict(preset_experiment("paper", exp.name, protocol=exp.protocol))))
    have = json.loads(json.dumps(exp.config))
    return all(have.get(k) == v for k, v in expected.items() if k in have and k not in IGNORED)


def reference_for(exp: ExperimentStatus) -> Reference | None:
    if not is_paper_experiment(exp):
        return None
    table_name, table, paper_epochs = PAPER_TABLES[exp.model]
    if exp.epochs >= paper_epochs and exp.protocol == "text":
        return Reference(f"Paper ({table_name.replace('Figure', 'Fig.')})", f"the paper's {table_name}", dict(table))
    rows = {c: v for c in table if (v := authors_extremes(exp.name, c, min(exp.epochs, paper_epochs)))}
    if exp.epochs >= paper_epochs:
        return Reference("Authors' outputs", "the authors' published outputs (their maxima are the paper's "
                         f"{table_name})", rows)
    return Reference(f"Paper run, epochs ≤ {exp.epochs}", f"the authors' published curve over its first "
                     f"{exp.epochs} epochs (the paper trains {paper_epochs})", rows)
