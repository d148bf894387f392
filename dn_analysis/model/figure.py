"""The model's figure: θ_LT histograms per layer (and pooled) with DnModel's density, a panel per round."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dn_analysis.model.dn_model import DnModel  # noqa: E402


def model_figure(exp: Any, model: DnModel, path: str | Path, rounds: tuple[int, ...] = (1, 6, 10),
                 trials: list[int] | None = None, title: str | None = None) -> list[Path]:
    """Write `path`.png and `path`.pdf; histograms pool `trials` (default: those the fit did not see)."""
    from results.store import atomic_write_bytes

    trials = trials or [t for t in exp.trials if t not in model.fit_trials_] or list(exp.trials)
    rounds = tuple(r for r in rounds if r in exp.rounds)
    rows = [None] + [s["param"] for s in exp.layers]
    fig, axes = plt.subplots(len(rows), len(rounds), figsize=(4.2 * len(rounds), 2.6 * len(rows)), squeeze=False)
    names = {s["param"]: s["name"] for s in exp.layers}
    for j, r in enumerate(rounds):
        per_layer = [exp.theta_lt(t, r, per_layer=True) for t in trials]
        for i, layer in enumerate(rows):
            ax = axes[i][j]
            if layer is None:
                x = np.concatenate([np.concatenate(list(p.values())) for p in per_layer])
            else:
                x = np.concatenate([p[names[layer]] for p in per_layer])
            if x.size == 0:
                ax.set_axis_off()
                continue
            lim = float(np.abs(x).max()) * 1.05
            grid = np.linspace(-lim, lim, 1200)
            ax.hist(x, bins=100, range=(-lim, lim), density=True, color="0.78", edgecolor="none",
                    label=f"θ_LT, trials {' '.join(map(str, trials))}")
            ax.plot(grid, model.pdf(grid, r, layer=layer), color="C3", lw=1.1, label="DnModel")
            ax.set_title(f"{'all layers' if layer is None else layer}, round {r} "
                         f"({100 * exp.density(r):.1f}%)", fontsize=9)
            ax.tick_params(labelsize=7)
            if i == 0 and j == 0:
                ax.legend(fontsize=7, frameon=False)
    fits = f"fit on trials {' '.join(map(str, model.fit_trials_))}, rounds 1-{max(model.fit_rounds_)}"
    fig.suptitle(title or f"{exp.name} ({exp.config.get('protocol', 'text')} protocol): DnModel {fits}", fontsize=10)
    fig.tight_layout()
    out = []
    for ext, kw in (("png", {"dpi": 130}), ("pdf", {})):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, bbox_inches="tight", **kw)
        target = Path(f"{path}.{ext}")
        atomic_write_bytes(target, buf.getvalue())
        out.append(target)
    plt.close(fig)
    return out
