"""Test accuracy against epoch for every condition, mean over trials with its 95% t band.

One row per experiment and ticket density, one panel per group of conditions, so that no panel
holds more than a handful of curves: the paper's four, the sign and magnitude controls, the
placement and pool controls, and the dense starts (each set against `full`). A condition no group
names gets a panel of its own group ("other"), so every condition trained is drawn. The y axis is
zoomed to the range where the curves differ.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.lines import Line2D

from reports import fmt
from reports.authors_table import authors_runs
from reports.figures import color, figure, hide_unused, save, t_band, zoom
from reports.runs import ExperimentStatus
from reports.trialstats import density_of, levels
from results.labels import Label
from results.summary import curves

GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("the paper's four", ("full", "pruned", "reinit", "remask")),
    ("sign and magnitude", ("pruned", "keep-sign", "keep-magnitude", "sign-dtheta", "signed-constant", "rand-init")),
    ("placement and pool", ("pruned", "shuffle", "layer-reinit", "fitted", "random-mask")),
    ("dense starts", ("full", "dense-dn", "dense-dn-scaled")),
)
"""Groups of condition names, one panel each; the first name of a group is drawn in every row."""


def _groups(exp: ExperimentStatus) -> list[tuple[str, tuple[str, ...]]]:
    named = {n for _, names in GROUPS for n in names}
    rest = tuple(dict.fromkeys(Label.split(c)[0] for c in exp.epochs_done if Label.split(c)[0] not in named))
    return list(GROUPS) + ([("other", ("pruned", *rest))] if rest else [])


def panels(exp: ExperimentStatus) -> list[tuple[str, str, list[str]]]:
    """[(level, group, condition labels)] of one experiment: groups with more than one curve."""
    out = []
    for level in levels(exp) or [""]:
        for group, names in _groups(exp):
            labels = ["full" if n == "full" else Label.named(n, level) for n in names if n == "full" or level]
            labels = [c for c in dict.fromkeys(labels) if c in exp.epochs_done]
            if len(labels) > 1:
                out.append((level, group, labels))
    return out


def curves_figure(exps: list[ExperimentStatus], path: Path) -> bool:
    """The figure over `exps` (their rows: experiment x level); False when there is nothing to draw."""
    shown = authors_runs(exps)  # drawn over the authors' own curves instead (reports.fig_authors)
    rows = []
    for e in exps:
        ps = panels(e) if e.rows and e not in shown else []
        for level in dict.fromkeys(p[0] for p in ps):
            rows.append((e, level, [p for p in ps if p[0] == level]))
    if not rows:
        return False
    groups = list(dict.fromkeys(g for _, _, ps in rows for _, g, _ in ps))
    fig, axes = figure(len(rows), len(groups), 1.12 * len(rows) + 0.75)
    used = set()
    keys: dict[str, dict[str, str]] = {g: {} for g in groups}  # group -> {condition name: color}, for its legend
    for i, (e, level, ps) in enumerate(rows):
        acc = curves(e.rows, "test_acc")
        for _, group, labels in ps:
            j = groups.index(group)
            ax = axes[i][j]
            used.add((i, j))
            bands = []
            for label in labels:
                epochs, values = acc[(e.name, label)]
                mean, lo, hi = t_band(values)
                c = color(Label.split(label)[0])
                keys[group].setdefault(Label.split(label)[0], c)
                ax.plot(epochs, mean, color=c, lw=0.9)
                ax.fill_between(epochs, lo, hi, color=c, alpha=0.2, lw=0)
                bands.append((mean, lo, hi))
            zoom(ax, bands)
            ax.grid(alpha=0.3, lw=0.4)
            if j == 0:
                density = f", {fmt.pct(density_of(e, level))}" if level else ""
                ax.set_ylabel(f"{e.label}{density}\ntest accuracy", fontsize=6)
            if i == len(rows) - 1:
                ax.set_xlabel("epoch")
    for j, group in enumerate(groups):  # one legend per column, above it: the curves keep the panels
        top = next(i for i in range(len(rows)) if (i, j) in used)
        handles = [Line2D([], [], color=c, lw=1.2, label=name) for name, c in keys[group].items()]
        axes[top][j].legend(handles=handles, title=group, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2,
                            fontsize=5.5, title_fontsize=7, handlelength=1.2, columnspacing=0.8, labelspacing=0.2,
                            frameon=False)
    hide_unused(axes, used)
    save(fig, path)
    return True
