"""Our authors-protocol curves over the authors' published ones (dmanikt/lottery-ticket-distributions).

One row per authors-protocol experiment that the authors published (`authors_table.authors_runs`),
one panel per condition of the paper (full, pruned, reinit, remask) with both ticket densities:
our trial mean with its 95% t band (solid), theirs with the min-max band over their trials (dashed,
hatched), over the epochs we trained. The y axis is zoomed to the range where the curves differ.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reports import fmt
from reports.authors_table import authors_runs
from reports.figures import figure, save, t_band, zoom
from reports.reference import authors_bands
from reports.runs import ExperimentStatus
from reports.trialstats import density_of, levels
from results.labels import Label
from results.summary import curves

KINDS = ("full", "pruned", "reinit", "remask")
SHADES = ("tab:blue", "tab:red", "tab:green", "tab:purple")  # one per ticket density
SOURCE = "dmanikt/lottery-ticket-distributions"


def _theirs(exp: ExperimentStatus, label: str, last: int) -> tuple[np.ndarray, ...] | None:
    band = [p for p in authors_bands().get((exp.name, label), ()) if p[0] <= last]
    return tuple(np.array(v) for v in zip(*band, strict=True)) if band else None


def authors_figure(exps: list[ExperimentStatus], path: Path) -> bool:
    """False when no experiment has the authors' published curves to set ours against."""
    runs = authors_runs(exps)
    if not runs:
        return False
    fig, axes = figure(len(runs), len(KINDS), 1.7 * len(runs) + 0.35)
    for i, e in enumerate(runs):
        acc = curves(e.rows, "test_acc")
        for j, kind in enumerate(KINDS):
            ax = axes[i][j]
            lv = [None] if kind == "full" else levels(e)
            bands = []
            for k, level in enumerate(lv):
                label = Label.named(kind, level)
                if (e.name, label) not in acc:
                    continue
                c = "black" if level is None else SHADES[k % len(SHADES)]
                name = "" if level is None else f" {fmt.pct(density_of(e, level))}"
                epochs, values = acc[(e.name, label)]
                mean, lo, hi = t_band(values)
                ax.plot(epochs, mean, color=c, lw=0.9, label=f"ours{name}")
                ax.fill_between(epochs, lo, hi, color=c, alpha=0.25, lw=0)
                bands.append((mean, lo, hi))
                theirs = _theirs(e, label, int(epochs.max()))
                if theirs is not None:
                    ep, m, tlo, thi = theirs
                    ax.plot(ep, m, color=c, lw=0.8, ls="--", label=f"authors{name}")
                    ax.fill_between(ep, tlo, thi, facecolor="none", edgecolor=c, hatch="////", lw=0, alpha=0.5)
                    bands.append((m, tlo, thi))
            zoom(ax, bands)
            ax.set_title(f"{e.label}: {kind}", fontsize=6.5)
            ax.grid(alpha=0.3, lw=0.4)
            ax.legend(loc="lower right", fontsize=5.5, handlelength=1.6, labelspacing=0.2, framealpha=0.7)
            if j == 0:
                ax.set_ylabel("test accuracy")
            if i == len(runs) - 1:
                ax.set_xlabel("epoch")
    save(fig, path)
    return True
