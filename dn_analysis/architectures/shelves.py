"""Shelves of a predicted D_n: which layers are one shelf, and how many modes the density has.

A layer's survivors fill a shelf inner <= |θ| <= outer; layers whose edges cannot be told apart at
the resolution D_n is read at are one shelf. Modes are counted as the calibrated counter's
definition counts them, so predicted and measured counts compare like with like.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

COUNT_MASS = 0.98  # modes are counted in the central 98% (as dn_analysis.stats.modes does)


@dataclass(frozen=True)
class Shelf:
    """Layers whose survivors fill one shelf: inner <= |θ| <= outer (outer = inf for a normal init)."""

    layers: tuple[str, ...]
    inner: float
    outer: float
    share: float  # the shelf's expected share of θ_LT

    def describe(self, digits: int = 3) -> str:
        outer = "inf" if math.isinf(self.outer) else f"{self.outer:.{digits}g}"
        return f"{'+'.join(self.layers)} ±[{self.inner:.{digits}g}, {outer}] ({100 * self.share:.1f}%)"


def merge_shelves(edges: Sequence[tuple[str, float, float, float]], share: Mapping[str, float],
                  tolerance: float) -> list[Shelf]:
    """One shelf per cluster of layers whose edges agree within `tolerance` (single linkage).

    `edges` are (layer, inner edge, outer edge, reach): reach is where the layer's density ends or
    falls (the bound of a uniform init, the std of a normal one), compared instead of an infinite
    outer edge. Two layers are one shelf when both inner edges and reaches are within `tolerance`
    (Chebyshev distance), the smoothing at which the mode counter reads D_n.
    """
    kept = [e for e in edges if share[e[0]] > 0]
    if not kept:
        return []
    if len(kept) == 1:
        labels = np.array([1])
    else:
        points = np.array([[inner, reach] for _, inner, _, reach in kept])
        labels = fcluster(linkage(points, method="single", metric="chebyshev"), t=tolerance, criterion="distance")
    shelves = []
    for lab in np.unique(labels):
        members = [e for e, k in zip(kept, labels, strict=True) if k == lab]
        w = np.array([share[e[0]] for e in members])
        outer = [e[2] for e in members]
        shelves.append(Shelf(tuple(e[0] for e in members), float(np.average([e[1] for e in members], weights=w)),
                             math.inf if any(map(math.isinf, outer)) else float(np.average(outer, weights=w)),
                             float(w.sum())))
    return sorted(shelves, key=lambda s: (s.inner, s.outer))


def exact_modes(pdf: Callable[[np.ndarray], np.ndarray], cdf: Callable[[np.ndarray], np.ndarray], top: float,
                n_points: int = 200_001) -> tuple[tuple[float, float], int]:
    """(central 98% interval, modes in it) of a density on [-top, top], read on a fine grid.

    A mode is a maximal plateau strictly higher than its neighbours (0 off the support), the
    definition the mode counter is calibrated on (dn_analysis.stats.simulate.shelf_modes), counted
    where the plateau's midpoint lies in the interval. A uniform shelf is exactly flat on the grid,
    a normal tail strictly falling, so runs of equal values are the plateaus.
    """
    x = np.linspace(-top, top, n_points)
    f, F = pdf(x), cdf(x)
    tail = (1.0 - COUNT_MASS) / 2.0
    lo, hi = float(np.interp(tail, F, x)), float(np.interp(1.0 - tail, F, x))
    change = np.flatnonzero(~np.isclose(f[1:], f[:-1], rtol=1e-9, atol=1e-12 * float(f.max()))) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [f.size]]) - 1
    level = f[starts]
    padded = np.concatenate([[0.0], level, [0.0]])
    is_mode = (level > 0) & (level > padded[:-2]) & (level > padded[2:])
    mid = 0.5 * (x[starts] + x[ends])
    return (lo, hi), int(np.count_nonzero(is_mode & (mid >= lo) & (mid <= hi)))
