"""The paper's Section 4.4 claim about D_n as one verdict, each part with bootstrap confidence.

Claim: "four peaks, of which the middle two are much higher than the outer two; a strong divot
near 0; a rough symmetry". Checked as:
- number of modes: the Hall-York-calibrated Silverman p-vector for k = 1..6 and the count rule of
  `count_modes`, and the shelf-calibrated merge count (`merged_modes`, reported as
  `count_merged`, the per-trial counter of dn_analysis.trials); the claim itself is answered by targeted tests: H0 "at most 2 modes" by
  Hall-York (calibrated on D_n-like data whose modes are cliffs) and H0 "at most 4 modes" by the
  excess-mass test, because on simulated FC-1 D_n, whose outer peaks sit on nearly flat shelves,
  every bandwidth test over-rejects "at most 4" (Hall-York 0.34, Silverman 0.15 at alpha 0.05;
  excess mass 0.046, see docs/calibration.md); plus the dip test on |x| (bandwidth-free);
- where and how high: the modes of the KDE (not mixture components) at a bandwidth in the middle,
  on a log scale, of the range of bandwidths that show exactly that many modes, h = sqrt(h_m
  h_{m-1}); nonparametric bootstrap of the sample at that bandwidth gives percentile intervals
  and the share of resamples with exactly m modes;
- middle two higher: min(middle heights) / max(outer heights), with its bootstrap interval;
- hole near 0: density at 0 / the lower of the two peaks either side of 0 (a "strong divot"
  when its upper bootstrap bound is below 1/2);
- rough symmetry: an equivalence check (TOST at 5%: the 90% bootstrap interval inside the bounds)
  that mirror mode pairs sit at matching distances (|l + r| / (r - l) <= 0.1) and have matching
  heights (left/right ratio within [0.8, 1.25], the bioequivalence bounds), plus the exact flip test about 0 and
  the sign test, reported but not required: at n = 60,000 an exact test sees any tiny asymmetry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dn_analysis._validate import as_sample
from dn_analysis.stats import _kde
from dn_analysis.stats.dip import dip_test
from dn_analysis.stats.modes import MIN_SIZE, count_from_pvalues, merged_modes, mode_pvalues_raw
from dn_analysis.stats.symmetry import symmetry_test

ROUGH_LOCATION = 0.1
ROUGH_HEIGHT = (0.8, 1.25)
DIVOT = 0.5


@dataclass(frozen=True)
class ShapeVerdict:
    """Verdict on the paper's claimed shape of D_n; `claims` holds one entry per part."""

    n_modes: int
    matches_paper: bool
    modes: tuple[dict[str, Any], ...]
    claims: dict[str, dict[str, Any]]
    mode_pvalues: dict[int, float]
    bandwidth: float
    summary: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly copy."""
        return {
            "n_modes": self.n_modes, "matches_paper": self.matches_paper, "modes": list(self.modes),
            "claims": self.claims, "mode_pvalues": {str(k): v for k, v in self.mode_pvalues.items()},
            "bandwidth": self.bandwidth, "summary": self.summary, "details": self.details,
        }


def _ci(v: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    if v.size == 0:
        return (float("nan"), float("nan"))
    tail = 50.0 * (1.0 - level)
    lo, hi = np.percentile(v, [tail, 100.0 - tail])
    return (float(lo), float(hi))


def _value_at(grid: np.ndarray, dens: np.ndarray, x0: float) -> np.ndarray:
    """Density rows at x0 by linear interpolation on the grid."""
    j = int(np.clip(np.searchsorted(grid, x0) - 1, 0, grid.size - 2))
    w = (x0 - grid[j]) / (grid[j + 1] - grid[j])
    return (1 - w) * dens[..., j] + w * dens[..., j + 1]


def _shape_numbers(locs: np.ndarray, heights: np.ndarray, f0: np.ndarray) -> dict[str, np.ndarray]:
    """Per-replicate numbers (rows = replicates, columns = modes sorted by location)."""
    m = locs.shape[1]
    out: dict[str, np.ndarray] = {}
    if m == 4:
        out["middle_to_outer"] = np.minimum(heights[:, 1], heights[:, 2]) / np.maximum(heights[:, 0], heights[:, 3])
    if m >= 2:
        right = np.argmax(locs > 0, axis=1)  # first mode right of 0
        has_both = (locs[:, 0] < 0) & (locs[:, -1] > 0)
        rows = np.arange(locs.shape[0])
        adj = np.minimum(heights[rows, np.maximum(right - 1, 0)], heights[rows, right])
        out["zero_to_peak"] = np.where(has_both, f0 / adj, np.inf)
    if m % 2 == 0 and m >= 2:
        pairs = [(i, m - 1 - i) for i in range(m // 2)]
        out["location_asymmetry"] = np.max(
            [np.abs(locs[:, i] + locs[:, j]) / (locs[:, j] - locs[:, i]) for i, j in pairs], axis=0)
        ratios = np.array([heights[:, i] / heights[:, j] for i, j in pairs])  # (pairs, replicates)
        worst = np.abs(np.log(ratios)).argmax(axis=0)
        out["height_ratio_worst"] = ratios[worst, np.arange(locs.shape[0])]
    return out


def shape_verdict(
    x: np.ndarray,
    *,
    n_boot: int = 200,
    n_test_boot: int = 199,
    alpha: float = 0.05,
    interval: float | tuple[float, float] = 0.98,
    random_state: int | np.random.Generator | None = 0,
) -> ShapeVerdict:
    """Check D_n against Section 4.4: number of modes, where, how high, middle two higher, hole at 0, symmetry.

    `n_boot` resamples give the confidence of each part; `n_test_boot` draws calibrate each mode test.
    """
    x = as_sample(x, min_size=MIN_SIZE)
    if n_boot < 20:
        raise ValueError(f"n_boot must be at least 20 for a bootstrap interval, got {n_boot}.")
    rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
    ks = list(range(1, 7))
    pv = mode_pvalues_raw(x, ks, methods=("silverman-hy",), n_boot=n_test_boot, alpha=alpha,
                          interval=interval, rng=rng)["silverman-hy"]
    em = mode_pvalues_raw(x, [2, 4], methods=("excess-mass",), n_boot=n_test_boot, alpha=alpha,
                          interval=interval, rng=rng)["excess-mass"]
    m_count = count_from_pvalues(pv, alpha, 6)
    p2, p4_em = pv[2]["p"], em[4]["p"]
    four_supported = p2 <= alpha and p4_em > alpha and pv[4]["modes_at_h_k"] == 4
    m = 4 if four_supported else m_count
    lo, hi = _kde.central_interval(x, interval)
    grid = _kde.analysis_grid(lo, hi)
    m_fit = min(m, 6)
    hk = {k: v["h_k"] for k, v in pv.items()}
    if m_fit >= 2:
        h_fit = float(np.sqrt(hk[m_fit] * hk[m_fit - 1]))
    else:
        h_fit = float(max(hk[1], _kde.silverman_bandwidth(x)))
    dens = _kde.kde_rows(x[None, :], grid, h_fit)
    locs, heights = _kde.modes_of(dens, grid, lo, hi)
    m_seen = locs.size
    f0 = _value_at(grid, dens, 0.0)

    # bootstrap at the same bandwidth
    counts_b, locs_b, heights_b, f0_b = [], [], [], []
    n = x.size
    step = max(1, 2_000_000 // n)
    for start in range(0, n_boot, step):
        b = min(step, n_boot - start)
        rows = x[rng.integers(0, n, size=(b, n))]
        d = _kde.kde_rows(rows, grid, h_fit)
        peaks = _kde.mode_mask(d) & ((grid >= lo) & (grid <= hi))[None, :]
        c = peaks.sum(axis=1)
        counts_b.append(c)
        f0_b.append(_value_at(grid, d, 0.0))
        for r in np.nonzero(c == m_seen)[0]:
            locs_b.append(grid[peaks[r]])
            heights_b.append(d[r, peaks[r]])
    counts_b = np.concatenate(counts_b)
    f0_all = np.concatenate(f0_b)
    same = counts_b == m_seen
    support_m = float(np.mean(same))
    lb = np.array(locs_b).reshape(-1, m_seen)
    hb = np.array(heights_b).reshape(-1, m_seen)

    modes = tuple(
        {"location": float(locs[i]), "location_ci": _ci(lb[:, i]),
         "height": float(heights[i]), "height_ci": _ci(hb[:, i])}
        for i in range(m_seen)
    )
    obs_nums = _shape_numbers(locs[None, :], heights[None, :], np.atleast_1d(f0)) if m_seen else {}
    boot_nums = _shape_numbers(lb, hb, f0_all[same]) if m_seen and lb.shape[0] else {}

    claims: dict[str, dict[str, Any]] = {}
    dip_abs = dip_test(x, absolute=True)
    claims["four_peaks"] = {
        "holds": bool(four_supported and m_seen == 4),
        "estimate": m, "count_modes": m_count, "count_merged": merged_modes(x, interval=(lo, hi))["n_modes"],
        "support": float(np.mean(counts_b == 4)),
        "p_at_most_2": p2, "p_at_most_4_excess_mass": p4_em, "p_at_most_4_hall_york": pv[4]["p"],
        "p_at_most_2_excess_mass": em[2]["p"], "dip_abs_p": dip_abs.pvalue,
        "detail": (f"H0 <=2 modes: Hall-York p = {p2:.3g}; H0 <=4 modes: excess-mass p = {p4_em:.3g} "
                   f"(Hall-York p = {pv[4]['p']:.3g}, over-rejects on flat shelves); count rule: {m_count}; "
                   f"dip test on |x| p = {dip_abs.pvalue:.3g}; {100 * np.mean(counts_b == 4):.0f}% of resamples "
                   f"show 4 modes in [{lo:.4g}, {hi:.4g}] at h = {h_fit:.4g}"),
    }

    def ratio_claim(key: str, holds_fn, what: str) -> None:
        if key not in obs_nums:
            claims[what] = {"holds": False, "estimate": None, "ci": None, "support": 0.0,
                            "detail": f"not applicable with {m_seen} modes"}
            return
        est = float(obs_nums[key][0])
        v = boot_nums.get(key, np.array([]))
        v = v[np.isfinite(v)]
        ci = _ci(v)
        claims[what] = {"holds": bool(holds_fn(ci)), "estimate": est, "ci": ci, "ci_level": 0.95,
                        "support": float(np.mean([holds_fn((t, t)) for t in v])) if v.size else 0.0}

    ratio_claim("middle_to_outer", lambda ci: ci[0] > 1.0, "middle_two_higher")
    if "middle_two_higher" in claims and claims["middle_two_higher"]["estimate"] is not None:
        c = claims["middle_two_higher"]
        c["detail"] = (f"lower middle peak / higher outer peak = {c['estimate']:.3g} "
                       f"(95% CI {c['ci'][0]:.3g}..{c['ci'][1]:.3g})")
    ratio_claim("zero_to_peak", lambda ci: ci[1] < DIVOT, "hole_near_zero")
    if claims["hole_near_zero"]["estimate"] is not None:
        c = claims["hole_near_zero"]
        c["detail"] = (f"density at 0 / lower peak beside it = {c['estimate']:.3g} (95% CI "
                       f"{c['ci'][0]:.3g}..{c['ci'][1]:.3g}); strong divot if below {DIVOT}")

    sym = symmetry_test(x, 0.0, "flip-cvm", n_resamples=999, random_state=rng)
    sign = symmetry_test(x, 0.0, "sign")
    if "location_asymmetry" in obs_nums and boot_nums:
        la, hr = boot_nums["location_asymmetry"], boot_nums["height_ratio_worst"]
        la_ci, hr_ci = _ci(la, 0.90), _ci(hr, 0.90)  # equivalence (TOST) at 5%: 90% CI inside the bounds
        holds = la_ci[1] <= ROUGH_LOCATION and ROUGH_HEIGHT[0] <= hr_ci[0] and hr_ci[1] <= ROUGH_HEIGHT[1]
        claims["rough_symmetry"] = {
            "holds": bool(holds), "estimate": float(obs_nums["location_asymmetry"][0]), "ci": la_ci, "ci_level": 0.90,
            "height_ratio": float(obs_nums["height_ratio_worst"][0]), "height_ratio_ci": hr_ci,
            "support": float(np.mean((la <= ROUGH_LOCATION) & (hr >= ROUGH_HEIGHT[0]) & (hr <= ROUGH_HEIGHT[1]))),
            "flip_cvm_p": sym.pvalue, "sign_p": sign.pvalue, "fraction_positive": sign.statistic,
            "detail": (f"worst mirror-pair location asymmetry {obs_nums['location_asymmetry'][0]:.3g} (90% CI up to "
                       f"{la_ci[1]:.3g}), worst left/right height ratio {obs_nums['height_ratio_worst'][0]:.3g} "
                       f"(90% CI {hr_ci[0]:.3g}..{hr_ci[1]:.3g}); exact symmetry about 0: flip-cvm p = {sym.pvalue:.3g}, "
                       f"sign test p = {sign.pvalue:.3g} ({100 * sign.statistic:.1f}% positive)"),
        }
    else:
        claims["rough_symmetry"] = {"holds": False, "estimate": None, "ci": None, "support": 0.0,
                                    "flip_cvm_p": sym.pvalue, "sign_p": sign.pvalue,
                                    "detail": f"no mirror pairs of modes ({m_seen} modes)"}

    parts = ("four_peaks", "middle_two_higher", "hole_near_zero", "rough_symmetry")
    matches = all(claims[p]["holds"] for p in parts)
    where = ", ".join(f"{d['location']:.3g}" for d in modes)
    summary = (
        f"{m if m <= 6 else '>6'} modes (at {where}); "
        + "; ".join(f"{p.replace('_', ' ')}: {'yes' if claims[p]['holds'] else 'no'}" for p in parts)
        + f". {'Matches' if matches else 'Does not match'} the paper's four-peaked, holed, roughly symmetric shape."
    )
    details = {"n": n, "interval": (lo, hi), "n_boot": n_boot, "n_test_boot": n_test_boot, "alpha": alpha,
               "bootstrap_mode_counts": {int(k): int(v) for k, v in zip(*np.unique(counts_b, return_counts=True), strict=True)},
               "support_same_count": support_m, "density_at_zero": float(np.atleast_1d(f0)[0]),
               "critical_bandwidths": hk}
    return ShapeVerdict(m, matches, modes, claims, {k: v["p"] for k, v in pv.items()}, h_fit, summary, details)
