"""How many modes has D_n? Silverman's critical-bandwidth test, Hall-York calibrated.

The number of modes of a Gaussian KDE falls as the bandwidth h grows (Silverman 1981), so
h_k = the smallest h whose KDE has <= k modes measures how much smoothing it takes to hide
a (k+1)-th mode. H0: "at most k modes" is rejected when h_k is large compared with its law
under the smoothed bootstrap from the KDE at h_k itself.

Silverman's p-value, P*(h*_k > h_k), is conservative: its actual level is far below alpha
(Hall & York 2001). Their calibration compares the bootstrap with lambda_alpha * h_k instead,
lambda_0.05 = 1.13; their theory is for k = 1, and we apply the same lambda for every k (the
conservativeness is a local effect at the place where the next mode forms), and measure the
resulting level by simulation (`python -m dn_analysis.stats.calibrate`).

Modes are counted only inside a declared interval, the central 98% of the sample by default:
sparse tails grow spurious modes at small h and inflate h_k. For symmetric samples modes come
in +/- pairs, so h_3 = h_2, h_5 = h_4 and p-values are not monotone in k: read the whole
vector, and answer "four peaks" with the targeted tests k = 2 and k = 4.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dn_analysis._validate import as_sample
from dn_analysis.stats import _kde
from dn_analysis.stats.excess_mass import binned_probabilities, excess_mass_gain
from dn_analysis.stats.result import TestResult, fmt_p, mc_pvalue

MODE_METHODS = ("silverman-hy", "silverman", "excess-mass", "dip")
MIN_SIZE = 50


def hall_york_lambda(alpha: float) -> float:
    """Hall & York's (2001) bandwidth inflation lambda_alpha for a level-alpha Silverman test."""
    a = float(alpha)
    num = 0.94029 * a**3 - 1.59914 * a**2 + 0.17695 * a + 0.48971
    den = a**3 - 1.77793 * a**2 + 0.36162 * a + 0.42423
    return num / den


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _setup(x: np.ndarray, interval: float | tuple[float, float]) -> tuple[float, float, np.ndarray]:
    lo, hi = _kde.central_interval(x, interval)
    return lo, hi, _kde.analysis_grid(lo, hi)


def mode_pvalues_raw(
    x: np.ndarray,
    ks: Sequence[int],
    *,
    methods: Sequence[str] = ("silverman-hy",),
    n_boot: int = 199,
    alpha: float = 0.05,
    interval: float | tuple[float, float] = 0.98,
    rng: np.random.Generator,
) -> dict[str, dict[int, dict]]:
    """p-values (and statistics) of the bootstrap mode tests for every k, sharing the draws.

    For each k one set of bootstrap samples from the KDE at h_k serves "silverman-hy" (modes at
    lambda_alpha h_k) and "excess-mass" (its gain D_{k+1}); "silverman" needs its own
    variance-rescaled draws. Returns {method: {k: {"p", "statistic", "h_k", "modes_at_h_k"}}}.
    """
    lo, hi, grid = _setup(x, interval)
    hk = _kde.critical_bandwidths(x, sorted(set(ks)), grid, lo, hi)
    lam = hall_york_lambda(alpha)
    out: dict[str, dict[int, dict]] = {m: {} for m in methods}
    for k in ks:
        h = hk[k]
        at_h = int(_kde.mode_counts_by_bandwidth(x, grid, lo, hi, np.array([h]))[0])
        base = {"h_k": h, "modes_at_h_k": at_h}
        want_plain = [m for m in methods if m in ("silverman-hy", "excess-mass")]
        if want_plain:
            exceed = 0
            em_null = []
            em_obs = (float(excess_mass_gain(binned_probabilities(x[None, :], lo, hi), k)[0])
                      if "excess-mass" in methods else 0.0)
            for rows in _kde.smoothed_bootstrap(x, h, n_boot, rng):
                if "silverman-hy" in methods:
                    dens = _kde.kde_rows(rows, grid, lam * h)
                    exceed += int(np.count_nonzero(_kde.count_modes_rows(dens, grid, lo, hi) > k))
                if "excess-mass" in methods:
                    em_null.append(excess_mass_gain(binned_probabilities(rows, lo, hi), k))
            if "silverman-hy" in methods:
                out["silverman-hy"][k] = {**base, "statistic": h, "p": mc_pvalue(exceed, n_boot), "lambda": lam}
            if "excess-mass" in methods:
                null = np.concatenate(em_null)
                ex = int(np.count_nonzero(null >= em_obs * (1 - 1e-12)))
                out["excess-mass"][k] = {**base, "statistic": em_obs, "p": mc_pvalue(ex, n_boot)}
        if "silverman" in methods:
            exceed = 0
            for rows in _kde.smoothed_bootstrap(x, h, n_boot, rng, rescale=True):
                dens = _kde.kde_rows(rows, grid, h)
                exceed += int(np.count_nonzero(_kde.count_modes_rows(dens, grid, lo, hi) > k))
            out["silverman"][k] = {**base, "statistic": h, "p": mc_pvalue(exceed, n_boot)}
    return out


def _check_k(k: int, max_k: int = 20) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= int(k) <= max_k:
        raise ValueError(f"k must be an integer number of modes between 1 and {max_k}, got {k!r}.")
    return int(k)


def mode_test(
    x: np.ndarray,
    k: int = 1,
    method: str = "silverman-hy",
    *,
    n_boot: int = 499,
    alpha: float = 0.05,
    interval: float | tuple[float, float] = 0.98,
    random_state: int | np.random.Generator | None = None,
) -> TestResult:
    """Test H0: the density of x has at most k modes inside `interval` (default central 98%).

    Methods: "silverman-hy" (critical bandwidth, Hall-York calibrated at level `alpha`: compare
    its p-value with that alpha), "silverman" (Silverman's original bootstrap: conservative by
    design), "excess-mass" (gain of a (k+1)-th interval, bootstrap from the KDE at h_k:
    conservative by design), "dip" (k = 1 only; Hartigan's dip, uniform null: conservative).
    """
    x = as_sample(x, min_size=MIN_SIZE)
    k = _check_k(k)
    if method not in MODE_METHODS:
        raise ValueError(f"method must be one of {MODE_METHODS}, got {method!r}.")
    if method == "dip":
        if k != 1:
            raise ValueError("the dip test only tests unimodality (k = 1); use another method for k > 1.")
        from dn_analysis.stats.dip import dip_test

        return dip_test(x)
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha}.")
    if n_boot < 19:
        raise ValueError(f"n_boot must be at least 19 for a p-value below 0.05, got {n_boot}.")
    res = mode_pvalues_raw(x, [k], methods=(method,), n_boot=n_boot, alpha=alpha,
                           interval=interval, rng=_rng(random_state))[method][k]
    lo, hi = _kde.central_interval(x, interval)
    p = res["p"]
    details = {"k": k, "n": x.size, "n_boot": n_boot, "interval": (lo, hi),
               "critical_bandwidth": res["h_k"], "modes_at_critical_bandwidth": res["modes_at_h_k"]}
    if method == "silverman-hy":
        details.update(alpha=alpha, lambda_alpha=res["lambda"])
        how = (f"critical bandwidth h_{k} = {res['h_k']:.4g}; Hall-York calibrated p = {fmt_p(p)} "
               f"(valid for comparison with alpha = {alpha:g})")
    elif method == "silverman":
        how = f"critical bandwidth h_{k} = {res['h_k']:.4g}; Silverman's bootstrap p = {fmt_p(p)} (conservative)"
    else:
        how = (f"excess-mass gain of a {k + 1}-th interval = {res['statistic']:.4g}; bootstrap p = "
               f"{fmt_p(p)} from the KDE at h_{k} (conservative)")
    verdict = f"more than {k} mode{'s' if k > 1 else ''}" if p <= alpha else f"no evidence of more than {k}"
    summary = (f"H0 'at most {k} mode{'s' if k > 1 else ''} in [{lo:.4g}, {hi:.4g}]': {how}: "
               f"{verdict} at the {alpha:g} level.")
    return TestResult(float(res["statistic"]), float(p), method, summary, details)


def mode_pvalues(
    x: np.ndarray,
    max_modes: int = 6,
    method: str = "silverman-hy",
    *,
    n_boot: int = 199,
    alpha: float = 0.05,
    interval: float | tuple[float, float] = 0.98,
    random_state: int | np.random.Generator | None = 0,
) -> dict[int, dict]:
    """The whole p-vector over k = 1..max_modes: {k: {"p", "h_k", "modes_at_h_k", ...}}.

    Read it whole: with +/- pairs of modes it is not monotone in k.
    """
    x = as_sample(x, min_size=MIN_SIZE)
    max_modes = _check_k(max_modes)
    if method not in ("silverman-hy", "silverman", "excess-mass"):
        raise ValueError(f"method must be 'silverman-hy', 'silverman' or 'excess-mass', got {method!r}.")
    return mode_pvalues_raw(x, list(range(1, max_modes + 1)), methods=(method,), n_boot=n_boot,
                            alpha=alpha, interval=interval, rng=_rng(random_state))[method]


def count_from_pvalues(pv: dict[int, dict], alpha: float, max_modes: int) -> int:
    """The counting rule: the smallest ACHIEVABLE k whose H0 'at most k modes' is not rejected.

    k is achievable when the KDE at h_k has exactly k modes; for symmetric data h_3 = h_2 (the
    outer pair appears at once), so k = 3 is skipped rather than read as 'three modes'.
    Returns max_modes + 1 when every achievable k <= max_modes is rejected.
    """
    for k in sorted(pv):
        if pv[k]["modes_at_h_k"] == k and pv[k]["p"] > alpha:
            return k
    return max_modes + 1


def count_modes(
    x: np.ndarray,
    *,
    alpha: float = 0.05,
    max_modes: int = 6,
    n_boot: int = 199,
    interval: float | tuple[float, float] = 0.98,
    random_state: int | np.random.Generator | None = 0,
) -> int:
    """Robust number of modes of the density of x inside `interval` (default central 98%).

    Rule: run the Hall-York-calibrated Silverman test for k = 1..max_modes and return the
    smallest k with h_k achieving exactly k modes that is not rejected at `alpha` (p > alpha)
    (max_modes + 1 means 'more than max_modes'). Never a mode count at a plug-in bandwidth:
    that finds dozens. Seeded (random_state=0) so the same sample always gets the same count.
    """
    pv = mode_pvalues(x, max_modes, "silverman-hy", n_boot=n_boot, alpha=alpha,
                      interval=interval, random_state=random_state)
    return count_from_pvalues(pv, alpha, max_modes)


# ---------------------------------------------------------------- per-sample mode counts
COUNT_METHODS = ("merge", "silverman-hy", "excess-mass", "fixed")
MERGE_Z = 3.0  # see `merged_modes`: calibrated on shelf densities (docs/calibration.md)
_R_GAUSS = 1.0 / (2.0 * np.sqrt(np.pi))  # integral of the squared Gaussian kernel


def _extrema(dens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the peaks and of the valleys of one density row, alternating (plateaus once)."""
    d = np.diff(dens)
    tol = 1e-9 * float(dens.max())
    s = np.where(d > tol, 1, np.where(d < -tol, -1, 0))
    nz = np.nonzero(s)[0]
    if nz.size == 0:
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    sg = s[nz]
    turn = np.nonzero(sg[:-1] != sg[1:])[0]  # the slope changes sign between nz[turn] and nz[turn + 1]
    at = nz[turn] + 1  # first point after the last step of the old sign
    peaks = at[sg[turn] > 0]
    valleys = at[sg[turn] < 0]
    return peaks, valleys


def merged_modes(
    x: np.ndarray,
    *,
    z: float = MERGE_Z,
    bandwidth: float | None = None,
    interval: float | tuple[float, float] = 0.98,
) -> dict:
    """Modes of the KDE of x, merging every pair separated by a dip that sampling noise explains.

    The KDE is taken at `bandwidth` (default: Silverman's rule of thumb for x). Between two
    neighbouring peaks, the dip is the lower peak minus the valley between them, in units of
    its standard error sqrt(v(peak) + v(valley)), v(t) = f(t) R(K) / (n h) (the KDE's variance;
    R(K) = 1 / (2 sqrt(pi)) for the Gaussian kernel). The shallowest dip below `z` is removed
    (its lower peak joins the higher one, the lower of the two valleys remains), and so on until
    every dip is at least `z` standard errors deep. The noise bumps of a flat shelf are shallow in
    these units whatever n, a hole or a divot is deep: what is left is one mode per plateau or
    peak. `z` = 3 is chosen by the shelf calibration (`python -m dn_analysis.stats.calibrate`).

    Returns {"n_modes", "locations", "heights", "dips" (z of each remaining dip), "bandwidth",
    "interval", "z", "density_at_zero"}; modes are counted inside `interval` (default the
    central 98%).
    """
    x = as_sample(x, min_size=MIN_SIZE)
    if not z > 0:
        raise ValueError(f"z must be positive, got {z}.")
    lo, hi, grid = _setup(x, interval)
    h = float(_kde.silverman_bandwidth(x) if bandwidth is None else bandwidth)
    if not h > 0:
        raise ValueError(f"bandwidth must be positive, got {h}.")
    dens = _kde.kde_rows(x[None, :], grid, h)[0]
    var = dens * _R_GAUSS / (x.size * h)
    peaks, valleys = _extrema(dens)
    # keep the alternation P V P ... V P: drop a leading valley or a trailing one
    pk, vl = list(peaks), list(valleys)
    if vl and pk and vl[0] < pk[0]:
        vl = vl[1:]
    if vl and pk and vl[-1] > pk[-1]:
        vl = vl[:-1]

    def depth(i: int) -> float:  # z of valley i, between peaks i and i + 1
        low = pk[i] if dens[pk[i]] <= dens[pk[i + 1]] else pk[i + 1]
        se = np.sqrt(var[low] + var[vl[i]])
        return float((dens[low] - dens[vl[i]]) / se) if se > 0 else np.inf

    zs = [depth(i) for i in range(len(vl))]
    while zs and min(zs) < z:
        i = int(np.argmin(zs))
        drop = i if dens[pk[i]] <= dens[pk[i + 1]] else i + 1  # the lower peak goes
        # the valley kept is the lower of the two beside the dropped peak
        side = [j for j in (drop - 1, drop) if 0 <= j < len(vl)]
        keep_v = min(side, key=lambda j: dens[vl[j]])
        gone_v = [j for j in side if j != keep_v]
        v_keep = vl[keep_v]
        del pk[drop]
        for j in sorted(gone_v + [keep_v], reverse=True):
            del vl[j]
        if len(side) == 2:
            vl.insert(min(side), v_keep)
        zs = [depth(j) for j in range(len(vl))]
    locs = np.array([grid[p] for p in pk if lo <= grid[p] <= hi])
    heights = np.array([dens[p] for p in pk if lo <= grid[p] <= hi])
    inner = [zs[j] for j in range(len(vl)) if lo <= grid[pk[j]] <= hi and lo <= grid[pk[j + 1]] <= hi]
    return {"n_modes": int(locs.size), "locations": locs, "heights": heights, "dips": inner,
            "bandwidth": h, "interval": (lo, hi), "z": float(z),
            "density_at_zero": float(np.interp(0.0, grid, dens, left=0.0, right=0.0))}


def sequential_count(
    x: np.ndarray,
    method: str = "silverman-hy",
    *,
    alpha: float = 0.05,
    max_modes: int = 6,
    n_boot: int = 199,
    interval: float | tuple[float, float] = 0.98,
    random_state: int | np.random.Generator | None = 0,
) -> int:
    """`count_from_pvalues`' rule (smallest achievable k not rejected), testing k = 1, 2, ... in turn.

    Stops at the first k not rejected, so it costs one or two tests where `count_modes` runs
    max_modes of them; `method` "silverman-hy" or "excess-mass". Same rule, other random draws:
    the two can differ on a sample near the boundary. max_modes + 1 means 'more'.
    """
    x = as_sample(x, min_size=MIN_SIZE)
    if method not in ("silverman-hy", "excess-mass"):
        raise ValueError(f"method must be 'silverman-hy' or 'excess-mass', got {method!r}.")
    rng = _rng(random_state)
    lo, hi, grid = _setup(x, interval)
    hk = _kde.critical_bandwidths(x, list(range(1, max_modes + 1)), grid, lo, hi)
    for k in range(1, max_modes + 1):
        at_h = int(_kde.mode_counts_by_bandwidth(x, grid, lo, hi, np.array([hk[k]]))[0])
        if at_h != k:
            continue
        p = mode_pvalues_raw(x, [k], methods=(method,), n_boot=n_boot, alpha=alpha, interval=interval,
                             rng=rng)[method][k]["p"]
        if p > alpha:
            return k
    return max_modes + 1


def fixed_count(x: np.ndarray, bandwidth: float, interval: float | tuple[float, float] = 0.98) -> int:
    """Modes inside `interval` of the KDE of x at one given bandwidth (no test, no merging)."""
    x = as_sample(x, min_size=MIN_SIZE)
    lo, hi, grid = _setup(x, interval)
    return int(_kde.mode_counts_by_bandwidth(x, grid, lo, hi, np.array([float(bandwidth)]))[0])
