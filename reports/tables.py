"""The paper's Figure 1 / Figure 3 tables for our runs, with the paper's values and the differences."""

from __future__ import annotations

from reports.doc import Table
from reports.paper import PAPER_TABLES, paper_row
from reports.runs import ExperimentStatus

ACC_FMT = ".4f"
LOSS_FMT = ".4g"

ACC_HEADERS = ["Condition", "Density", "Trials", "Epochs", "Max avg test acc", "Epoch",
               "Trials min-max", "Paper acc", "Paper epoch", "Ours - paper"]
LOSS_HEADERS = ["Condition", "Density", "Trials", "Epochs", "Min avg train loss", "Epoch",
                "Trials min-max", "Paper loss", "Paper epoch", "Ours - paper"]


def fmt(value: float, spec: str) -> str:
    return format(value, spec)


def signed(value: float, spec: str) -> str:
    return ("+" if value >= 0 else "") + format(value, spec)


def summary_tables(exp: ExperimentStatus) -> list[Table]:
    """Two tables (accuracy, loss) for one experiment; one row per condition that has metrics."""
    paper_name = PAPER_TABLES.get(exp.model, ("(no paper table)",))[0]
    acc_rows, loss_rows = [], []
    for s in exp.summary:
        cond = s["condition"]
        p = paper_row(exp.model, cond)
        common = [cond, f"{100 * s['density']:.1f}%", str(s["trials"]), str(exp.epochs_done[cond])]
        acc_rows.append(common + [
            fmt(s["max_avg_acc"], ACC_FMT), str(s["max_avg_acc_epoch"]),
            f"{fmt(s['acc_at_max_min'], ACC_FMT)}-{fmt(s['acc_at_max_max'], ACC_FMT)}",
            fmt(p[0], ACC_FMT) if p else "n/a", str(p[1]) if p else "n/a",
            signed(s["max_avg_acc"] - p[0], ACC_FMT) if p else "n/a",
        ])
        loss_rows.append(common + [
            fmt(s["min_avg_train_loss"], LOSS_FMT), str(s["min_avg_train_loss_epoch"]),
            f"{fmt(s['loss_at_min_min'], LOSS_FMT)}-{fmt(s['loss_at_min_max'], LOSS_FMT)}",
            fmt(p[2], LOSS_FMT) if p else "n/a", str(p[3]) if p else "n/a",
            signed(s["min_avg_train_loss"] - p[2], LOSS_FMT) if p else "n/a",
        ])
    widths = [1.3, 1.0, 0.8, 0.8, 1.4, 0.8, 1.9, 1.1, 1.0, 1.2]
    return [
        Table(ACC_HEADERS, acc_rows, widths=widths,
              caption=f"{exp.name}: max of the trial-averaged test accuracy curve, its epoch, the spread over trials at that epoch, beside the paper's {paper_name}."),
        Table(LOSS_HEADERS, loss_rows, widths=widths,
              caption=f"{exp.name}: min of the trial-averaged train loss curve, its epoch, the spread over trials at that epoch, beside the paper's {paper_name}."),
    ]


def paper_table(model: str) -> Table | None:
    """The paper's table as printed (for reference)."""
    if model not in PAPER_TABLES:
        return None
    name, rows, epochs = PAPER_TABLES[model]
    return Table(["Condition", "Max avg acc", "Epoch", "Min avg train loss", "Epoch"],
                 [[c, fmt(a, ACC_FMT), str(ea), fmt(lo, LOSS_FMT), str(el)] for c, (a, ea, lo, el) in rows.items()],
                 caption=f"The paper's {name} ({model}, {epochs} epochs), transcribed.")
