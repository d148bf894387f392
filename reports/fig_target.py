"""Epochs to target per condition: each trial's epoch, censored trials marked, the Kaplan-Meier median.

The target is the experiment's `full` trial-mean max accuracy less `results.paired.TARGET_DROP`
(results.paired.trial_metrics). A trial that never reaches it is censored at the last epoch + 1:
drawn as an open triangle there (a lower bound, not a time). The median is paired.csv's
Kaplan-Meier median of the condition (its contrast against `full`), never a mean of censored values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.gridspec import GridSpec

from reports import fmt, verdicts
from reports.figures import blank, color, save
from reports.runs import ExperimentStatus
from reports.trialstats import per_trial
from results.labels import Label
from results.paired import TARGET_DROP


def km_median(exp: ExperimentStatus, condition: str) -> float:
    """paired.csv's Kaplan-Meier median epochs to target of `condition` (NaN: fewer than half reach it)."""
    if condition == "full":
        row = next((r for r in verdicts.rows(exp) if r["reference"] == "full" and r["metric"] == "epochs_to_target"),
                   None)
        return row["km_median_reference"] if row else float("nan")
    row = verdicts.find(exp, condition, "full", "epochs_to_target")
    return row["km_median"] if row else float("nan")


def target(exp: ExperimentStatus) -> float:
    full = per_trial(exp).get("full", {})
    return float(np.mean([m["max_acc"] for m in full.values()])) - TARGET_DROP if full else float("nan")


def conditions(exp: ExperimentStatus) -> list[str]:
    return [c for c in exp.expected_conditions if c in exp.epochs_done and c in per_trial(exp)]


def _panel(ax, exp: ExperimentStatus) -> None:
    conds = conditions(exp)
    trials = per_trial(exp)
    labels = []
    for y, cond in enumerate(conds):
        ms = list(trials[cond].values())
        hit = [m["epochs_to_target"] for m in ms if m["target_reached"] == 1.0]
        cut = [m["epochs_to_target"] for m in ms if m["target_reached"] != 1.0]
        c = color(Label.split(cond)[0])
        jitter = np.linspace(-0.22, 0.22, max(len(ms), 2))
        ax.scatter(hit, y + jitter[:len(hit)], s=7, color=c, zorder=3, lw=0)
        ax.scatter(cut, y + jitter[len(hit):len(hit) + len(cut)], s=9, marker=">", facecolor="none", edgecolor=c,
                   lw=0.6, zorder=3)
        med = km_median(exp, cond)
        if fmt.finite(med):
            ax.plot([med, med], [y - 0.38, y + 0.38], color="black", lw=1.3, zorder=4)
        labels.append(f"{cond} ({len(hit)}/{len(ms)})")
    ax.set_yticks(range(len(conds)))
    ax.set_yticklabels(labels, fontsize=5.5)
    ax.set_ylim(len(conds) - 0.5, -0.5)
    ax.axvline(exp.epochs + 1, color="0.5", lw=0.6, ls=":")
    ax.set_xlim(0, exp.epochs + 2.5)
    ax.grid(axis="x", alpha=0.3, lw=0.4)
    ax.set_title(f"{exp.label}: target {fmt.acc(target(exp))}", fontsize=6.5)
    ax.set_xlabel("epochs to target (▷ censored at last epoch + 1)", fontsize=6)


def target_figure(exps: list[ExperimentStatus], path: Path) -> bool:
    """Panels in two columns, each as tall as its conditions need; False without a `full` anywhere."""
    shown = [e for e in exps if e.rows and "full" in per_trial(e) and len(conditions(e)) > 1]
    if not shown:
        return False
    shown.sort(key=lambda e: -len(conditions(e)))  # panels of similar height share a row
    pairs = [shown[i:i + 2] for i in range(0, len(shown), 2)]
    heights = [0.095 * max(len(conditions(e)) for e in row) + 0.55 for row in pairs]
    fig = blank(sum(heights) + 0.1)
    grid = GridSpec(len(pairs), 2, figure=fig, height_ratios=heights)
    for i, row in enumerate(pairs):
        for j, e in enumerate(row):
            _panel(fig.add_subplot(grid[i, j]), e)
    save(fig, path)
    return True
