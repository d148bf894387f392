"""Excess-mass statistic for the number of modes (Müller & Sawitzki 1991; Cheng & Hall 1998).

E_m(lam) = sup over unions C of at most m intervals of [P_n(C) - lam |C|]: the mass a density
puts above the level lam that m intervals can capture. One more mode than m shows up as a gain
D_{m+1} = max_lam [E_{m+1}(lam) - E_m(lam)] > 0 (for m = 1 this is twice the dip).

Computed on G = 256 linear bins of the declared counting interval (the central 98% of the
sample by default, as for Silverman's test) and a grid of 64 levels lam per sample, by a
dynamic program over the bins that finds the best <= m bin-runs for every level at once, for a
whole batch of bootstrap samples at once.
"""

from __future__ import annotations

import numpy as np

N_BINS = 256
N_LEVELS = 64


def binned_probabilities(rows: np.ndarray, lo: float, hi: float, n_bins: int = N_BINS) -> np.ndarray:
    """Fraction of each row's points in each of `n_bins` equal bins of [lo, hi] (others dropped)."""
    rows = np.atleast_2d(rows)
    n_rows, n = rows.shape
    idx = np.floor((rows - lo) / (hi - lo) * n_bins).astype(np.int64)
    ok = (idx >= 0) & (idx < n_bins)
    flat = (idx + (np.arange(n_rows) * n_bins)[:, None])[ok]
    return np.bincount(flat, minlength=n_rows * n_bins).reshape(n_rows, n_bins) / n


def excess_mass_gain(probs: np.ndarray, k: int) -> np.ndarray:
    """D_{k+1} of each row of bin probabilities (B, G): the gain of a (k+1)-th interval."""
    probs = np.atleast_2d(probs)
    n_rows, n_bins = probs.shape
    levels = probs.max(axis=1, keepdims=True) * np.linspace(1.0 / N_LEVELS, 1.0, N_LEVELS)[None, :]
    m = k + 1
    open_ = np.full((m, n_rows, N_LEVELS), -np.inf)
    closed = np.zeros((m + 1, n_rows, N_LEVELS))
    for j in range(n_bins):
        v = probs[:, j : j + 1] - levels  # gain of bin j at each level
        np.maximum(open_, closed[:-1], out=open_)
        open_ += v[None]
        np.maximum(closed[1:], open_, out=closed[1:])
    return np.max(closed[m] - closed[k], axis=1)
