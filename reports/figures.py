"""Training figures in the style of the paper's Figures 2 and 4 (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from reports.runs import ExperimentStatus  # noqa: E402
from results.labels import Label
from results.summary import curves  # noqa: E402

COLORS = {"full": "black", "pruned": "tab:blue", "reinit": "tab:orange", "remask": "tab:green"}


def training_figure(exp: ExperimentStatus, path: Path) -> bool:
    """Test accuracy (top) and train loss (bottom), one column per sparsity; False if nothing to plot."""
    if not exp.rows:
        return False
    acc, loss = curves(exp.rows, "test_acc"), curves(exp.rows, "train_loss")
    levels = sorted({str(pct) for c in exp.epochs_done if (pct := Label.split(c)[1]) is not None}, key=int,
                    reverse=True)
    if not levels:
        levels = [""]
    fig, axes = plt.subplots(2, len(levels), figsize=(5.2 * len(levels), 7.0), squeeze=False)
    for col, level in enumerate(levels):
        conds = ["full"] + [Label.named(k, level) for k in ("pruned", "reinit", "remask")]
        for row, (table, label) in enumerate(((acc, "test accuracy"), (loss, "train loss"))):
            ax = axes[row][col]
            for cond in conds:
                key = (exp.name, cond)
                if key not in table or not len(table[key][0]):
                    continue
                epochs, values = table[key]
                kind = Label.split(cond)[0]
                ax.plot(epochs, values.mean(axis=0), color=COLORS[kind], label=cond, lw=1.4)
                ax.fill_between(epochs, values.min(axis=0), values.max(axis=0), color=COLORS[kind], alpha=0.18, lw=0)
            if row == 1:
                ax.set_yscale("log")
                ax.set_xlabel("epoch")
            density = next((s["density"] for s in exp.summary if Label.split(s["condition"])[1] == int(level)), None)
            title = f"{density * 100:.1f}% of weights" if density else "full"
            ax.set_title(f"{exp.label}: {label}, {title}", fontsize=9)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    fig.suptitle(f"{exp.label}: mean over trials, band = min/max over trials "
                 f"({exp.epochs} epochs configured)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def histogram_figure(exps: list[ExperimentStatus], path: Path) -> bool:
    """Fallback Figure 5 when no analysis is available: θ_LT histograms (pooled over trials), KDE overlaid."""
    from scipy.stats import gaussian_kde

    panels = []
    for e in exps:
        if not e.has_tickets:
            continue
        res = e.run.experiment(e.name)
        for r in sorted(e.config["ticket_rounds"]):
            if r not in res.rounds:
                continue
            x = np.concatenate([res.theta_lt(t, r) for t in res.trials])
            panels.append((f"{e.name}, {100 * res.density(r):.1f}%", x))
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(4.0 * len(panels), 3.2), squeeze=False)
    rng = np.random.default_rng(0)
    for ax, (title, x) in zip(axes[0], panels, strict=True):
        ax.hist(x, bins=120, density=True, color="0.7")
        sub = x if x.size <= 5000 else rng.choice(x, 5000, replace=False)
        grid = np.linspace(x.min(), x.max(), 400)
        ax.plot(grid, gaussian_kde(sub, bw_method="silverman")(grid), color="tab:red", lw=1.2, label="KDE")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("initial weight θ0")
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
