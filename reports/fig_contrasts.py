"""Each condition against its reference in max test accuracy, with its 95% interval and verdict.

Sparse conditions are set against their round's ticket, one panel per ticket density; dense starts
(dense-dn-p) against the dense θ0 they replace (`full`), in a panel of their own, so that neither
sets the other's axis. Each panel's axis spans its own intervals; the grey band is the equivalence
margin. Markers follow paired.csv's verdicts: filled for lower/higher (Holm-adjusted paired t),
diamond for equivalent (TOST), open for not resolved.
"""

from __future__ import annotations

from pathlib import Path

from reports import fmt
from reports.controls import dense_others, gaps, has_controls, others
from reports.figures import figure, hide_unused, save
from reports.runs import ExperimentStatus
from reports.trialstats import density_of, levels
from results import contrasts

MARKERS = {contrasts.LOWER: ("o", True), contrasts.HIGHER: ("o", True), contrasts.EQUIVALENT: ("D", True),
           contrasts.OPEN: ("o", False)}


def _draw(ax, entries: list[tuple[str, dict | None]], title: str) -> None:
    names = [n for n, r in entries if r is not None and fmt.finite(r.get("mean_diff"))]
    rows = [r for _, r in entries if r is not None and fmt.finite(r.get("mean_diff"))]
    for y, r in enumerate(rows):
        marker, filled = MARKERS.get(r["verdict"], ("o", False))
        m = 100 * r["mean_diff"]
        lo = 100 * r["ci_low"] if fmt.finite(r["ci_low"]) else m
        hi = 100 * r["ci_high"] if fmt.finite(r["ci_high"]) else m
        ax.plot([lo, hi], [y, y], color="0.2", lw=0.9)
        ax.plot([m], [y], marker=marker, ms=3.5, color="0.1", mfc="0.1" if filled else "white", mew=0.8)
    ends = [0.0] + [100 * r[k] for r in rows for k in ("ci_low", "ci_high", "mean_diff") if fmt.finite(r[k])]
    lo, hi = min(ends), max(ends)
    pad = 0.08 * (hi - lo) or 0.1
    margin = next((r["margin"] for r in rows if fmt.finite(r.get("margin"))), None)
    if margin:
        ax.axvspan(-100 * margin, 100 * margin, color="0.88", lw=0, zorder=0)
    ax.set_xlim(lo - pad, hi + pad)  # the intervals set the axis, not the margin band
    ax.axvline(0, color="0.4", lw=0.6)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=6)
    ax.set_ylim(len(names) - 0.5, -0.6)
    ax.set_title(title, fontsize=6.5)
    ax.grid(axis="x", alpha=0.3, lw=0.4)


def contrasts_figure(exps: list[ExperimentStatus], path: Path) -> bool:
    """Rows: experiments with controls; columns: ticket densities, then dense starts vs full."""
    shown = [e for e in exps if has_controls(e) and e.summary]
    if not shown:
        return False
    cols = max(len(levels(e)) for e in shown) + 1
    height = max(len(others(e, lv)) for e in shown for lv in levels(e)) * 0.16 + 0.65
    fig, axes = figure(len(shown), cols, height * len(shown) + 0.2)
    used = set()
    for i, e in enumerate(shown):
        g = gaps(e)
        dense = []
        for j, level in enumerate(levels(e)):
            entries = [(c.rsplit("-", 1)[0], g[level].get(c)) for c in others(e, level)]
            _draw(axes[i][j], entries, f"{e.label} {fmt.pct(density_of(e, level))}: vs ticket")
            used.add((i, j))
            dense += [(c, g[level].get(c)) for c in dense_others(e, level)]
        if dense:
            _draw(axes[i][cols - 1], dense, f"{e.label}: dense vs full")
            used.add((i, cols - 1))
        if i == len(shown) - 1:
            for ax in axes[i]:
                ax.set_xlabel("points of max test accuracy", fontsize=6)
    hide_unused(axes, used)
    save(fig, path)
    return True
