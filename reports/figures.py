"""What the report's figures share: colors per condition, the 95% t band over trials, the y zoom, saving.

Figures are drawn at the PDF's text width (7.3 inches), so a 7-point label prints at 7 points.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from results.paired import LEVEL  # noqa: E402

WIDTH = 7.3  # inches: the PDF's text width (A4 less 12 mm margins)
FIXED = {"full": "black", "pruned": "tab:blue", "reinit": "tab:orange", "remask": "tab:green"}
PALETTE = ("tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray", "gold",
           "navy", "teal", "crimson")
STYLE = {"font.size": 7, "axes.titlesize": 7, "axes.labelsize": 7, "xtick.labelsize": 6, "ytick.labelsize": 6,
         "legend.fontsize": 6, "axes.linewidth": 0.6, "lines.linewidth": 1.1}


def color(name: str) -> str:
    """One color per condition name, the same in every figure (registry order for the controls)."""
    from train.conditions import CONDITIONS

    if name in FIXED:
        return FIXED[name]
    others = [c for c in CONDITIONS if c not in FIXED]
    return PALETTE[others.index(name) % len(PALETTE)] if name in others else "0.5"


def figure(rows: int, cols: int, height: float, **kw) -> tuple[plt.Figure, np.ndarray]:
    """A figure at the text width with `rows` x `cols` panels, `height` inches tall."""
    plt.rcParams.update(STYLE)
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, height), squeeze=False, **kw)
    return fig, axes


def blank(height: float) -> plt.Figure:
    """An empty figure at the text width, for a layout of its own (GridSpec)."""
    plt.rcParams.update(STYLE)
    return plt.figure(figsize=(WIDTH, height))


def t_band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, low, high) over trials (axis 0) per epoch: the 95% t interval of the mean (no band for one trial)."""
    mean = values.mean(axis=0)
    n = values.shape[0]
    if n < 2:
        return mean, mean, mean
    half = stats.t.ppf(0.5 + LEVEL / 2, n - 1) * values.std(axis=0, ddof=1) / np.sqrt(n)
    return mean, mean - half, mean + half


def zoom(ax: plt.Axes, curves: list[tuple[np.ndarray, np.ndarray, np.ndarray]], skip: float = 0.1) -> None:
    """Limit the y axis to where the curves differ: from the lowest mean after the first `skip` of the
    epochs to the highest band, with a little room (accuracy curves otherwise fill 0-1)."""
    lows, highs = [], []
    for mean, _, high in curves:
        start = min(int(np.ceil(skip * mean.size)), mean.size - 1)
        lows.append(np.nanmin(mean[start:]))
        highs.append(np.nanmax(high[start:]))
    if not lows:
        return
    lo, hi = min(lows), max(highs)
    pad = 0.08 * (hi - lo) if hi > lo else 0.01
    ax.set_ylim(lo - pad, hi + pad)


def save(fig: plt.Figure, path: Path, top: float = 0.0) -> None:
    """Lay out and write at 160 dpi; `top` inches kept free above the panels (for a figure legend)."""
    height = fig.get_size_inches()[1]
    fig.tight_layout(pad=0.4, h_pad=0.6, w_pad=0.5, rect=(0, 0, 1, 1 - top / height))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=160)
    plt.close(fig)


def hide_unused(axes: np.ndarray, used: set[tuple[int, int]]) -> None:
    for (i, j), ax in np.ndenumerate(axes):
        if (i, j) not in used:
            ax.axis("off")
