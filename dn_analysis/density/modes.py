"""Modes of a density tabulated on a grid.

The paper reads D_n's shape off its peaks ("four peaks, the middle two much higher"), so every
density model reports the modes of the density it fitted, found the same way: local maxima of
the tabulated density, refined by a parabola through the three grid points around each one.
"""

from __future__ import annotations

import numpy as np


def grid_modes(
    grid: np.ndarray, density: np.ndarray, *, min_rel_height: float = 1e-6
) -> np.ndarray:
    """Return the locations of the local maxima of `density` on the regular `grid`, ascending.

    A plateau counts once (at its middle). Maxima lower than `min_rel_height` x the global
    maximum are dropped: far in the tails, FFT round-off (~1e-16 relative) makes wiggles that
    are not modes of anything.
    """
    grid = np.asarray(grid, dtype=np.float64)
    d = np.asarray(density, dtype=np.float64)
    if grid.shape != d.shape or grid.ndim != 1 or grid.size < 3:
        raise ValueError("grid and density must be 1-D arrays of the same length (at least 3).")
    # Collapse runs of equal values so plateaus become single points.
    change = np.flatnonzero(np.diff(d) != 0) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [d.size]]) - 1
    vals = d[starts]
    left_ok = np.concatenate([[True], vals[1:] > vals[:-1]])
    right_ok = np.concatenate([vals[:-1] > vals[1:], [True]])
    peak = left_ok & right_ok
    keep = peak & (vals >= min_rel_height * vals.max())
    delta = grid[1] - grid[0]
    out = []
    for run in np.flatnonzero(keep):
        i0, i1 = int(starts[run]), int(ends[run])
        if i0 != i1 or i0 == 0 or i0 == d.size - 1:
            out.append(0.5 * (grid[i0] + grid[i1]))
            continue
        y0, y1, y2 = d[i0 - 1], d[i0], d[i0 + 1]
        denom = y0 - 2.0 * y1 + y2
        shift = 0.5 * (y0 - y2) / denom if denom < 0 else 0.0
        out.append(grid[i0] + float(np.clip(shift, -0.5, 0.5)) * delta)
    return np.asarray(out, dtype=np.float64)
