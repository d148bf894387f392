"""The per-experiment table (the paper's Figures 1 and 3): one row per condition, from metrics.csv.

The reference columns appear only when the experiment is the paper's (`reports.reference`).
"""

from __future__ import annotations

from reports import fmt
from reports.doc import Table
from reports.reference import Reference
from reports.runs import ExperimentStatus

ACC_HEADER = "Max avg test acc (epoch)"
LOSS_HEADER = "Min avg train loss (epoch)"


def experiment_table(exp: ExperimentStatus, ref: Reference | None, caption: str) -> Table:
    """Max of the trial-averaged accuracy curve and min of the trial-averaged train loss, per condition."""
    headers = ["Condition", "Density", "Trials", "Epochs", ACC_HEADER, "Trials min-max"]
    if ref:
        headers.append(f"{ref.header} acc (epoch)")
    headers.append(LOSS_HEADER)
    if ref:
        headers.append(f"{ref.header} loss (epoch)")
    rows = []
    for s in exp.summary:
        cond = s["condition"]
        row = [cond, fmt.pct(s["density"]), str(s["trials"]), str(exp.epochs_done[cond]),
               f"{fmt.acc(s['max_avg_acc'])} ({s['max_avg_acc_epoch']})",
               f"{fmt.acc(s['acc_at_max_min'])}-{fmt.acc(s['acc_at_max_max'])}"]
        p = ref.rows.get(cond) if ref else None
        if ref:
            row.append(f"{fmt.acc(p[0])} ({p[1]})" if p else "-")
        row.append(f"{fmt.loss(s['min_avg_train_loss'])} ({s['min_avg_train_loss_epoch']})")
        if ref:
            row.append(f"{fmt.loss(p[2])} ({p[3]})" if p else "-")
        rows.append(row)
    return Table(headers, rows, caption=caption)
