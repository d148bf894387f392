"""What a ticket carries: each condition against the ticket (pruned-p), and dense starts against `full`.

A ticket condition is compared with its round's ticket; a dense condition (`dense-dn-p`, drawn
from the round's D_n but trained without a mask) with the dense θ0 it replaces (`full`), never with
the sparse ticket. Every cell is a paired.csv contrast with its verdict (`reports.verdicts`).
"""

from __future__ import annotations

from reports import fmt, verdicts
from reports.doc import Table
from reports.runs import ExperimentStatus
from reports.trialstats import density_of, levels
from results.labels import Label

METRICS = (("max_acc", "max acc"), ("final_acc", "final acc"))


def is_dense(condition: str) -> bool:
    """A condition trained without a mask (the registry's dense conditions, or a dense-* control)."""
    from train.conditions import CONDITIONS

    name = Label.split(condition)[0]
    return name == "full" or name.startswith("dense-") or (name in CONDITIONS and not CONDITIONS[name].uses_ticket)


def others(exp: ExperimentStatus, level: str) -> list[str]:
    """Sparse condition labels of one ticket level other than the ticket, in config order."""
    return [c for c in exp.expected_conditions if Label.split(c)[1] == int(level) and c != Label.named("pruned", level)
            and c in exp.epochs_done and not is_dense(c)]


def dense_others(exp: ExperimentStatus, level: str) -> list[str]:
    """Dense conditions drawn at one ticket level (dense-dn-p, ...): compared with `full`."""
    return [c for c in exp.expected_conditions if Label.split(c)[1] == int(level) and c in exp.epochs_done
            and is_dense(c)]


def has_controls(exp: ExperimentStatus) -> bool:
    from train.conditions import PAPER_CONDITIONS

    return any(c not in PAPER_CONDITIONS for c in exp.config.get("conditions", []))


def gaps(exp: ExperimentStatus, metric: str = "max_acc") -> dict[str, dict[str, dict | None]]:
    """{level: {condition: contrast row}}: sparse conditions - ticket, dense conditions - full."""
    out = {}
    for level in levels(exp):
        ticket = Label.named("pruned", level)
        row = {c: verdicts.find(exp, c, ticket, metric) for c in others(exp, level)}
        row.update({c: verdicts.find(exp, c, "full", metric) for c in dense_others(exp, level)})
        out[level] = row
    return out


def controls_table(exp: ExperimentStatus, caption: str) -> Table | None:
    """Rows: conditions; columns: ticket level x metric; cells: paired difference in points and verdict."""
    per_metric = {m: gaps(exp, m) for m, _ in METRICS}
    lv = [level for level in per_metric["max_acc"] if per_metric["max_acc"][level]]
    if not lv:
        return None
    kinds = list(dict.fromkeys(Label.split(c)[0] for level in lv for c in per_metric["max_acc"][level]))
    headers = ["Condition"] + [f"{fmt.pct(density_of(exp, level))} {name}" for level in lv for _, name in METRICS]
    rows = []
    for kind in kinds:
        label = f"{kind} vs full" if is_dense(Label.named(kind, lv[0])) else kind
        rows.append([label] + [verdicts.cell(per_metric[m][level].get(Label.named(kind, level)))
                               for level in lv for m, _ in METRICS])
    return Table(headers, rows, caption=caption)
