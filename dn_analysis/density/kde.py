"""A Gaussian KDE of D_n, tabulated once on a fine grid and then evaluated by interpolation.

Evaluating a KDE of 60,000 weights directly costs 60,000 kernel evaluations per point; the
tabulated density (binned FFT KDE, :func:`dn_analysis.density.binned.kde_on_grid`) costs a few
milliseconds once, and then pdf/cdf at any number of points are interpolations. The grid is
kept fine relative to the bandwidth (at most h/4 per step), so the interpolation error is far
below the KDE's own statistical error.
"""

from __future__ import annotations

import numpy as np

from dn_analysis.density.binned import kde_on_grid
from dn_analysis.density.modes import grid_modes


class GridDensity:
    """A density tabulated on a regular grid, zero outside it.

    pdf is the piecewise-linear interpolant (renormalized to integrate to exactly 1), and cdf
    is that interpolant's exact integral, so pdf, cdf and the support agree with each other.
    """

    def __init__(self, grid: np.ndarray, density: np.ndarray) -> None:
        grid = np.asarray(grid, dtype=np.float64)
        density = np.maximum(np.asarray(density, dtype=np.float64), 0.0)
        if grid.ndim != 1 or grid.shape != density.shape or grid.size < 3:
            raise ValueError("grid and density must be 1-D arrays of the same length (at least 3).")
        steps = np.diff(grid)
        if not np.all(steps > 0):
            raise ValueError("grid must be strictly increasing.")
        pieces = 0.5 * (density[1:] + density[:-1]) * steps
        total = float(pieces.sum())
        if not total > 0:
            raise ValueError("density is zero everywhere on the grid.")
        self.grid = grid
        self.raw_density = density  # as given: rebuilding from it reproduces this object exactly
        self.density = density / total
        self._cum = np.concatenate([[0.0], np.cumsum(pieces / total)])

    @property
    def support(self) -> tuple[float, float]:
        """The grid's ends; the density is 0 outside them."""
        return float(self.grid[0]), float(self.grid[-1])

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Density at `x` (linear interpolation, 0 outside the grid)."""
        return np.interp(
            np.asarray(x, dtype=np.float64), self.grid, self.density, left=0.0, right=0.0
        )

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """log of :meth:`pdf`; -inf outside the grid."""
        with np.errstate(divide="ignore"):
            return np.log(self.pdf(x))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """Exact integral of the piecewise-linear pdf from the grid's start to `x`."""
        x = np.asarray(x, dtype=np.float64)
        g, d = self.grid, self.density
        i = np.clip(np.searchsorted(g, x, side="right") - 1, 0, g.size - 2)
        dx = np.clip(x - g[i], 0.0, g[i + 1] - g[i])
        slope = (d[i + 1] - d[i]) / (g[i + 1] - g[i])
        out = self._cum[i] + d[i] * dx + 0.5 * slope * dx**2
        out[x >= g[-1]] = 1.0  # exactly, despite round-off in the cumulative sum
        return np.clip(out, 0.0, 1.0)

    def modes(self, *, min_rel_height: float = 1e-6) -> np.ndarray:
        """Local maxima of the tabulated density (see :func:`grid_modes`)."""
        return grid_modes(self.grid, self.density, min_rel_height=min_rel_height)


def kde_grid_density(
    x: np.ndarray, bandwidth: float, *, grid_size: int = 2048, cut: float = 6.0
) -> GridDensity:
    """Tabulate the Gaussian KDE of `x` on [min - cut*h, max + cut*h].

    `grid_size` is a minimum: it grows (to a power of two, at most 2^20) until the spacing is
    at most h/4, because an ISJ bandwidth on D_n's hard edges can be ~1/1000 of the range.
    """
    x = np.asarray(x, dtype=np.float64)
    h = float(bandwidth)
    if not (np.isfinite(h) and h > 0):
        raise ValueError(f"bandwidth must be a positive finite number, got {bandwidth}.")
    lo, hi = float(x.min()) - cut * h, float(x.max()) + cut * h
    size = max(int(grid_size), 3)
    need = int(np.ceil((hi - lo) / (h / 4.0))) + 1
    if need > size:
        size = int(min(2**20, 2 ** np.ceil(np.log2(need))))
    grid, density = kde_on_grid(x, h, size=size, lo=lo, hi=hi)
    return GridDensity(grid, density)
