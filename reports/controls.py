"""What a ticket carries: every condition's gap to the ticket (pruned-p), paired over trials.

One table per experiment (rows = conditions, columns = sparsity x metric), a figure with one
panel per experiment and sparsity, and the paper's Future Work question: a dense network drawn
from D_n (`dense-dn-p`) against the dense θ0 (`full`).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from reports import fmt  # noqa: E402
from reports.doc import Table  # noqa: E402
from reports.runs import ExperimentStatus  # noqa: E402
from reports.trialstats import density_of, levels, paired  # noqa: E402
from results.labels import Label

METRICS = (("max_acc", "max acc"), ("final_acc", "final acc"))


def others(exp: ExperimentStatus, level: str) -> list[str]:
    """Condition labels of one sparsity other than the ticket, in config order."""
    return [c for c in exp.expected_conditions if Label.split(c)[1] == int(level) and c != Label.named("pruned", level)
            and c in exp.epochs_done]


def has_controls(exp: ExperimentStatus) -> bool:
    from train.conditions import PAPER_CONDITIONS

    return any(c not in PAPER_CONDITIONS for c in exp.config.get("conditions", []))


def gaps(exp: ExperimentStatus) -> dict[str, dict[str, dict]]:
    """{level: {condition: {metric: paired row against pruned-level}}}."""
    return {level: {c: {m: paired(exp, c, Label.named("pruned", level), m) for m, _ in METRICS} for c in others(exp, level)}
            for level in levels(exp)}


def controls_table(exp: ExperimentStatus, caption: str) -> Table | None:
    g = gaps(exp)
    lv = [level for level in g if g[level]]
    if not lv:
        return None
    kinds = list(dict.fromkeys(Label.split(c)[0] for level in lv for c in g[level]))
    headers = ["Condition"] + [f"{fmt.pct(density_of(exp, level))} {name}" for level in lv for _, name in METRICS]
    rows = []
    for kind in kinds:
        row = [kind]
        for level in lv:
            for m, _ in METRICS:
                r = g[level].get(Label.named(kind, level), {}).get(m)
                row.append(fmt.ci_of(r) if r else "-")
        rows.append(row)
    dense = [fmt.ci_of(r) if (r := paired(exp, Label.named("dense-dn", level), "full", m)) else "-" for level in lv for m, _ in METRICS]
    if any(c != "-" for c in dense):
        rows.append(["dense-dn vs full"] + dense)
    return Table(headers, rows, caption=caption)


def controls_figure(exps: list[ExperimentStatus], path: Path) -> bool:
    """One panel per experiment and sparsity: each condition's gap to the ticket with its interval."""
    panels = [(e, level, g) for e in exps if has_controls(e) for level, g in gaps(e).items() if g]
    if not panels:
        return False
    cols = min(2, len(panels))
    rows = (len(panels) + cols - 1) // cols
    height = max(len(g) for _, _, g in panels) * 0.32 + 1.3
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, height * rows), squeeze=False)
    for ax, (e, level, g) in zip(axes.flat, panels, strict=False):
        names = list(g)
        for k, (m, label) in enumerate(METRICS):
            ys = [i + (k - 0.5) * 0.3 for i in range(len(names))]
            rs = [g[c][m] or {} for c in names]
            mean = [100 * r["mean_diff"] if fmt.finite(r.get("mean_diff")) else float("nan") for r in rs]
            lo = [100 * (r["mean_diff"] - r["ci_low"]) if fmt.finite(r.get("ci_low")) else 0.0 for r in rs]
            hi = [100 * (r["ci_high"] - r["mean_diff"]) if fmt.finite(r.get("ci_high")) else 0.0 for r in rs]
            ax.errorbar(mean, ys, xerr=[lo, hi], fmt="o" if k == 0 else "s", ms=4, capsize=2, lw=1.1,
                        color=f"C{k}", label=label)
        ax.axvline(0, color="0.3", lw=0.8)
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels([Label.split(c)[0] for c in names], fontsize=9)
        ax.invert_yaxis()
        ax.set_title(f"{e.label}, {fmt.pct(density_of(e, level))} of weights", fontsize=10)
        ax.set_xlabel("condition - ticket (points of test accuracy), 95% interval over trials", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=8, loc="best", framealpha=0.8)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return True
