"""Figures of `dn analyze histograms` (matplotlib, Agg): Figure 5, per-layer overlays, D_n across rounds.

Every figure is saved as figures/<name>.png (dpi 150) and figures/<name>.pdf, written atomically.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dn_analysis.samplers import KDEDn  # noqa: E402
from dn_analysis.views import VIEWS  # noqa: E402

XLABEL = {"raw": "initial weight θ0 of surviving connections",
          "standardized": "θ0 / layer init std (Xavier bound at ±√3)"}


def _save(fig: Any, folder: Path, name: str) -> dict:
    from results.store import atomic_write_bytes

    folder.mkdir(parents=True, exist_ok=True)
    for ext, kw in (("png", {"dpi": 150}), ("pdf", {})):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, bbox_inches="tight", **kw)
        atomic_write_bytes(folder / f"{name}.{ext}", buf.getvalue())
    plt.close(fig)
    return {"name": name, "png": f"figures/{name}.png", "pdf": f"figures/{name}.pdf"}


def _grid(x: np.ndarray, pad: float = 0.05) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    w = hi - lo
    return np.linspace(lo - pad * w, hi + pad * w, 800)


def fig5(an: Any, view: str, folder: Path) -> dict:
    exps = an.exps
    rounds = sorted({r for e in exps for r in e.config.get("ticket_rounds", [])})
    fig, axes = plt.subplots(len(exps), max(1, len(rounds)), figsize=(5.2 * max(1, len(rounds)), 3.6 * len(exps)),
                             squeeze=False)
    for i, e in enumerate(exps):
        for j, r in enumerate(rounds):
            ax = axes[i][j]
            if r not in e.analyzed:
                ax.text(0.5, 0.5, f"{e.label}\nround {r} not there yet\n(rounds available: "
                        f"{', '.join(map(str, e.rounds))})", ha="center", va="center", transform=ax.transAxes)
                ax.set_xticks([])
                ax.set_yticks([])
                continue
            x = e.pooled(r, view)
            kde, gmm = an.fit_pair(e, r, view)
            ax.hist(x, bins=120, density=True, color="0.75", edgecolor="none", label="θ_LT (5 trials pooled)"
                    if len(e.handle.trials) == 5 else f"θ_LT ({len(e.handle.trials)} trials pooled)")
            g = _grid(x)
            ax.plot(g, kde.pdf(g), color="C0", lw=1.6, label=f"KDE (Silverman, h={kde.bandwidth_:.2g})")
            ax.plot(g, gmm.pdf(g), color="C3", lw=1.4, ls="--", label=f"GMM (BIC: K={gmm.n_components_}"
                    + (", the largest searched)" if gmm.n_components_ == gmm.max_components else ")"))
            ax.set_title(f"{e.label}, {100 * e.density(r):.1f}% weights left (round {r})", fontsize=10)
            ax.set_xlabel(XLABEL[view], fontsize=9)
            ax.set_ylabel("density", fontsize=9)
            ax.legend(fontsize=7, loc="upper right", frameon=False)
    fig.suptitle(f"D_n: initial weights of winning tickets ({view})", fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / fig.get_figheight()))
    info = _save(fig, folder, f"fig5-{view}")
    info.update(kind="fig5", experiment=None, round=None, view=view,
                caption=f"Figure 5 ({view}): θ_LT pooled over trials per experiment and ticket round, "
                        "with KDE (Silverman) and BIC-chosen GMM overlaid.")
    return info


def layers(an: Any, e: Any, r: int, view: str, folder: Path) -> dict:
    per = e.per_layer(r, view)
    fig, ax = plt.subplots(figsize=(7, 4))
    allx = np.concatenate(list(per.values()))
    bins = np.linspace(float(allx.min()), float(allx.max()), 100)
    for k, (name, v) in enumerate(per.items()):
        if v.size == 0:
            continue
        ax.hist(v, bins=bins, density=True, histtype="step", lw=1.4, color=f"C{k % 10}",
                label=f"{name} (n={v.size}, {100 * v.size / allx.size:.1f}%)")
    ax.set_title(f"{e.label}: θ_LT per layer, {100 * e.density(r):.1f}% left (round {r}, {view})", fontsize=10)
    ax.set_xlabel(XLABEL[view], fontsize=9)
    ax.set_ylabel("density (each layer normalized)", fontsize=9)
    ax.legend(fontsize=7, frameon=False, loc="upper right")
    fig.tight_layout()
    info = _save(fig, folder, f"layers-{e.name}-r{r}-{view}")
    info.update(kind="layers", experiment=e.name, round=r, view=view,
                caption=f"{e.label}, round {r} ({view}): θ_LT of each layer, pooled over trials.")
    return info


def rounds(an: Any, e: Any, view: str, folder: Path) -> dict:
    fig, ax = plt.subplots(figsize=(7, 4))
    cmap = plt.get_cmap("viridis")
    n = max(e.rounds) if e.rounds else 1
    for r in e.rounds:
        x = e.pooled(r, view)
        kde = KDEDn(bandwidth="silverman").fit(x)
        g = _grid(x, 0.02)
        ax.plot(g, kde.pdf(g), color=cmap(r / max(n, 1)), lw=1.3, label=f"round {r}: {100 * e.density(r):.1f}%")
    ax.set_title(f"{e.label}: D_n across pruning rounds ({view}, KDE Silverman)", fontsize=10)
    ax.set_xlabel(XLABEL[view], fontsize=9)
    ax.set_ylabel("density", fontsize=9)
    ax.legend(fontsize=7, frameon=False, ncol=2, loc="upper right")
    fig.tight_layout()
    info = _save(fig, folder, f"rounds-{e.name}-{view}")
    info.update(kind="rounds", experiment=e.name, round=None, view=view,
                caption=f"{e.label} ({view}): density of surviving initial weights after each pruning round.")
    return info


def draw_all(an: Any, folder: Path) -> list[dict]:
    out = []
    for view in VIEWS:
        out.append(fig5(an, view, folder))
    for e in an.exps:
        for view in VIEWS:
            for r in e.analyzed:
                out.append(layers(an, e, r, view, folder))
            out.append(rounds(an, e, view, folder))
    return out
