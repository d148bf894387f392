"""θ_LT of each layer over D_θ, that layer's initial distribution, pooled over trials.

One row per experiment, one panel per weight layer. Grey: the layer's initial weights (every
weight of the start θ0, or θ_k for a run that rewinds), a density. Lines: the survivors θ_LT at each
ticket round on the same scale, so the area under a line is the share of the layer that survives and
the gap between a line and the grey is what pruning removed. Four peaks of pooled D_n are layers
with different init scales seen together; per layer the survivors are the init's two tails.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.ticker import MaxNLocator

from reports import fmt
from reports.figures import figure, hide_unused, save
from reports.runs import ExperimentStatus

SHADES = ("tab:blue", "tab:red", "tab:green", "tab:purple")  # one per ticket round
BINS = 60


def layer_values(exp: ExperimentStatus) -> tuple[list[str], dict[str, np.ndarray], dict[int, dict[str, np.ndarray]]]:
    """(layer names, {layer: start values pooled over trials}, {round: {layer: θ_LT pooled over trials}})."""
    res = exp.run.experiment(exp.name)
    names = [layer["name"] for layer in res.layers]
    params = {layer["name"]: layer["param"] for layer in res.layers}
    start = {n: np.concatenate([res.start(t)[params[n]].ravel() for t in res.trials]) for n in names}
    rounds = [r for r in sorted(exp.config["ticket_rounds"]) if r in res.rounds]
    kept = {}
    for r in rounds:
        per_trial = [res.theta_lt(t, r, per_layer=True) for t in res.trials]
        kept[r] = {n: np.concatenate([p[n] for p in per_trial]) for n in names}
    return names, start, kept


def layers_figure(exps: list[ExperimentStatus], path: Path) -> bool:
    """False when no experiment has tickets."""
    shown = [e for e in exps if e.has_tickets]
    if not shown:
        return False
    data = [(e, *layer_values(e)) for e in shown]
    cols = max(len(names) for _, names, _, _ in data)
    fig, axes = figure(len(data), cols, 1.0 * len(data) + 0.35)
    used = set()
    for i, (e, names, start, kept) in enumerate(data):
        res = e.run.experiment(e.name)
        for j, name in enumerate(names):
            ax = axes[i][j]
            used.add((i, j))
            x = start[name]
            edges = np.linspace(x.min(), x.max(), BINS + 1)
            width = edges[1] - edges[0]
            all_counts = np.histogram(x, edges)[0]
            ax.fill_between(edges[:-1], all_counts / (x.size * width), step="post", color="0.8", lw=0,
                            label="D_θ (all weights)")
            shares = []
            for k, (r, layers) in enumerate(kept.items()):
                counts = np.histogram(layers[name], edges)[0]
                ax.step(edges[:-1], counts / (x.size * width), where="post", color=SHADES[k % len(SHADES)], lw=0.8,
                        label=f"θ_LT at {fmt.pct(res.density(r))} of the network")
                shares.append(fmt.pct(layers[name].size / x.size, 0))
            ax.set_title(f"{name}: {' / '.join(shares)} kept", fontsize=6.5)
            ax.set_yticks([])
            ax.xaxis.set_major_locator(MaxNLocator(3))
            ax.tick_params(axis="x", labelsize=5.5)
            ax.set_ylim(0, 1.15 * (all_counts.max() / (x.size * width)))
        axes[i][0].set_ylabel(e.label, fontsize=6)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=6, frameon=False)
    hide_unused(axes, used)
    save(fig, path, top=0.25)
    return True
