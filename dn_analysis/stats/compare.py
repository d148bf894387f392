"""Do FC-1 and LeNet5 give the same D_n, raw or up to scale?

Four two-sample distances between the empirical CDFs F (of x) and G (of y): Kolmogorov-Smirnov
sup|F - G|, Anderson-Darling (k-sample A2_kN of Scholz & Stephens, tail-weighted), energy
distance sqrt(2 int (F - G)^2) and Wasserstein-1 int |F - G|. All p-values are permutation
p-values: under H0 the pooled values are exchangeable, and permuting needs no asymptotics
(scipy's anderson_ksamp clips its table p-values to [0.001, 0.25]).

"Same shape up to scale" (the paper: Xavier scales differ between the networks): each sample
is divided by its own scale (std, IQR, MAD, RMS, or given init scales). An estimated scale is
re-estimated INSIDE every permutation, on the permuted groups, so that the null distribution
carries the same estimation noise as the observed statistic. Scaling is about 0, without
centering: D_n is centred at 0 by construction, and a shift is a difference we want to see.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

from dn_analysis._validate import as_sample
from dn_analysis.stats.result import TestResult, fmt_p, mc_pvalue

COMPARE_METHODS = ("ks", "ad", "energy", "wasserstein")
SCALES = ("std", "iqr", "mad", "rms")
_CHUNK = 2_000_000


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def robust_scale(v: np.ndarray, how: str) -> np.ndarray:
    """Scale of each row of v (..., n): std, IQR/1.349, 1.4826 MAD, or RMS about 0."""
    if how == "std":
        return np.std(v, axis=-1)
    if how == "rms":
        return np.sqrt(np.mean(v**2, axis=-1))
    if how == "iqr":
        q75, q25 = np.quantile(v, [0.75, 0.25], axis=-1)
        return (q75 - q25) / 1.349
    med = np.median(v, axis=-1, keepdims=True)
    return 1.4826 * np.median(np.abs(v - med), axis=-1)


def _stats_sorted(z: np.ndarray, lab: np.ndarray, nx: int, methods: Sequence[str]) -> dict[str, np.ndarray]:
    """Distances from pooled values sorted along the last axis (B, N) and their labels (True = x)."""
    big_n = z.shape[-1]
    ny = big_n - nx
    mx = np.cumsum(lab, axis=-1, dtype=np.int64)[..., :-1]  # x-points among the j smallest
    j = np.arange(1, big_n, dtype=np.float64)
    diff = mx / nx - (j - mx) / ny  # F - G just after the j-th smallest pooled value
    dz = np.diff(z, axis=-1)
    step = dz > 0  # F - G is only evaluated where the pooled value changes (ties stay together)
    out: dict[str, np.ndarray] = {}
    if "ks" in methods:
        out["ks"] = np.where(step, np.abs(diff), 0.0).max(axis=-1)
    if "ad" in methods:
        num = (big_n * mx - j * nx) ** 2 / (j * (big_n - j))
        out["ad"] = np.where(step, num, 0.0).sum(axis=-1) * (1.0 / nx + 1.0 / ny) / big_n
    if "energy" in methods:
        out["energy"] = np.sqrt(2.0 * (diff**2 * dz).sum(axis=-1))
    if "wasserstein" in methods:
        out["wasserstein"] = (np.abs(diff) * dz).sum(axis=-1)
    return out


def _prepare(v: np.ndarray, scale: str | float | None) -> np.ndarray:
    if scale is None:
        return v
    if isinstance(scale, str):
        return v / robust_scale(v, scale)
    return v / float(scale)


def compare_pvalues(
    x: np.ndarray,
    y: np.ndarray,
    standardize: str | tuple[float, float] | None,
    methods: Sequence[str],
    n_resamples: int,
    rng: np.random.Generator,
) -> tuple[dict[str, float], dict[str, float]]:
    """(observed statistics, permutation p-values) of several distances, from ONE set of permutations."""
    nx = x.size
    if isinstance(standardize, tuple):
        x, y = x / float(standardize[0]), y / float(standardize[1])
        est = None
    else:
        est = standardize
        x, y = _prepare(x, est), _prepare(y, est)
    pooled = np.concatenate([x, y])
    big_n = pooled.size
    order = np.argsort(pooled, kind="stable")
    lab0 = np.zeros(big_n, dtype=bool)
    lab0[:nx] = True
    obs = {m: float(v[0]) for m, v in _stats_sorted(pooled[order][None], lab0[order][None], nx, methods).items()}
    exceed = dict.fromkeys(methods, 0)
    step = max(1, _CHUNK // big_n)
    for start in range(0, n_resamples, step):
        b = min(step, n_resamples - start)
        if est is None:  # labels shuffled over the fixed sorted pooled sample
            lab = rng.permuted(np.broadcast_to(lab0, (b, big_n)), axis=1)
            z = np.broadcast_to(pooled[order], (b, big_n))
            res = _stats_sorted(z, lab, nx, methods)
        else:  # re-standardize each permuted group by its own scale, then sort
            perm = rng.permuted(np.broadcast_to(np.arange(big_n), (b, big_n)), axis=1)
            g = pooled[perm]
            gx, gy = g[:, :nx], g[:, nx:]
            z = np.concatenate([gx / robust_scale(gx, est)[:, None], gy / robust_scale(gy, est)[:, None]], axis=1)
            o = np.argsort(z, axis=1, kind="stable")
            lab = np.broadcast_to(lab0, (b, big_n))
            res = _stats_sorted(np.take_along_axis(z, o, axis=1), np.take_along_axis(lab, o, axis=1), nx, methods)
        for m in methods:
            exceed[m] += int(np.count_nonzero(res[m] >= obs[m] * (1 - 1e-12)))
    return obs, {m: mc_pvalue(exceed[m], n_resamples) for m in methods}


def compare_distributions(
    x: np.ndarray,
    y: np.ndarray,
    standardize: str | tuple[float, float] | None = None,
    method: str = "ks",
    *,
    n_resamples: int = 999,
    random_state: int | np.random.Generator | None = None,
) -> TestResult:
    """Test H0: x and y come from the same distribution (after the chosen standardization).

    `standardize`: None (raw), "std", "iqr", "mad", "rms" (each sample divided by its own
    scale, re-estimated inside every permutation), or (scale_x, scale_y), e.g. the Xavier init
    std of each network. `method`: "ks", "ad", "energy" or "wasserstein". Permutation p-value.
    """
    x = as_sample(x, min_size=5, name="x")
    y = as_sample(y, min_size=5, name="y")
    if method not in COMPARE_METHODS:
        raise ValueError(f"method must be one of {COMPARE_METHODS}, got {method!r}.")
    if isinstance(standardize, list):
        standardize = tuple(standardize)
    if isinstance(standardize, str) and standardize not in SCALES:
        raise ValueError(f"standardize must be None, one of {SCALES} or (scale_x, scale_y), got {standardize!r}.")
    if isinstance(standardize, tuple):
        if len(standardize) != 2 or not all(np.isfinite(s) and s > 0 for s in map(float, standardize)):
            raise ValueError(f"standardize as scales must be two positive numbers, got {standardize!r}.")
    elif standardize is not None and not isinstance(standardize, str):
        raise ValueError(f"standardize must be None, one of {SCALES} or (scale_x, scale_y), got {standardize!r}.")
    if isinstance(standardize, str):
        for name, v in (("x", x), ("y", y)):
            if not robust_scale(v, standardize) > 0:
                raise ValueError(f"{name} has zero {standardize} scale, so it cannot be standardized that way.")
    if n_resamples < 19:
        raise ValueError(f"n_resamples must be at least 19 for a p-value below 0.05, got {n_resamples}.")
    obs, pv = compare_pvalues(x, y, standardize, (method,), n_resamples, _rng(random_state))
    stat, p = obs[method], pv[method]
    details: dict = {"n_x": x.size, "n_y": y.size, "standardize": standardize, "n_resamples": n_resamples,
                     "null": f"{n_resamples} random permutations of the pooled sample"}
    if isinstance(standardize, str):
        details["null"] += f", each group re-standardized by its own {standardize}"
        details["scale_x"], details["scale_y"] = float(robust_scale(x, standardize)), float(robust_scale(y, standardize))
    if method == "ks" and standardize is None:
        details["asymptotic_pvalue"] = float(stats.ks_2samp(x, y).pvalue)
    name = {"ks": "Kolmogorov-Smirnov sup|F - G|", "ad": "Anderson-Darling A2",
            "energy": "energy distance", "wasserstein": "Wasserstein-1 distance"}[method]
    how = "raw" if standardize is None else (
        f"each scaled by its {standardize}" if isinstance(standardize, str) else "each scaled by its given scale")
    verdict = "the distributions differ" if p <= 0.05 else "no evidence that the distributions differ"
    summary = (f"Two-sample comparison ({how}, n = {x.size} vs {y.size}): {name} = {stat:.4g}, "
               f"permutation p = {fmt_p(p)}: {verdict} at the 5% level.")
    return TestResult(stat, p, method, summary, details)
