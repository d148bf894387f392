"""Trial-level statistics of D_n: the networks, not the weights, are the replicates.

A pooled test over θ_LT counts every surviving weight of every network as an independent draw.
The survivors of one network share its pruning and training, so such a p-value describes the
weights of those networks, not a population of networks (pooled sign tests reach p = 1e-150 on
five networks). Here every question gets one number per trial (one network) and the mean of
those numbers with a 95% t interval over trials, mean ± t(0.975, n-1)·s/√n (`t_interval`).

- sign lean: the fraction of positive survivors per trial, against 1/2;
- shape: each trial's modes inside the pooled central 98%, counted by the calibrated merge rule
  (`dn_analysis.stats.modes.merged_modes`, z = 3: the trial's KDE at its rule-of-thumb bandwidth,
  neighbouring modes merged while the dip between them is under 3 standard errors of the KDE;
  right on 4-shelf, staircase, hard-hole and divot shapes where a fixed bandwidth finds 4-7 modes,
  docs/calibration.md), and from those modes: with 4 modes the lower middle peak over the higher
  outer peak, with a mode on each side of 0 the density at 0 over the lower peak beside it, and
  each mirror pair's left/right height ratio. Each ratio is averaged only over the trials where it
  is defined, and says over how many: `n_defined` of `n_trials`. `trial_shapes(..., count="fixed")`
  is the former reading (every trial's KDE at the pooled shape verdict's bandwidth);
- FC-1 against LeNet5 (`ks_excess`): for each trial, the KS distance of its D_n (divided by its
  own sd) to the other architecture's pooled D_n minus that to its own architecture's other
  trials: about 0 when the shapes agree up to scale, positive when they differ by more than
  network-to-network variation.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy import stats

from dn_analysis.stats import _kde
from dn_analysis.stats.modes import MERGE_Z, merged_modes
from dn_analysis.stats.shape import DIVOT, ROUGH_HEIGHT, _shape_numbers, _value_at
from results.paired import t_summary

LEVEL = 0.95
METHOD = ("mean over trials with a 95% t interval (mean ± t(0.975, n-1)·sd/√n, n = trials; "
          "an interval of a ratio is cut at 0)")


def t_interval(values: Sequence[float], level: float = LEVEL, floor: float | None = None) -> dict:
    """Mean, t interval and one-sample t-test p (against 0) of per-trial values (NaNs dropped).

    `floor`: the least value the statistic can take (0 for a ratio of densities); the interval's
    low end is cut there, since a symmetric t interval on a few skewed values can reach below it.
    Verdicts compare the interval with bounds above the floor, so the cut changes none of them.
    """
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    mean, low, high, p = t_summary(v, level)
    if floor is not None and math.isfinite(low):
        low = max(low, floor)
    return {"n": int(v.size), "mean": mean, "ci_low": low, "ci_high": high, "pvalue": p, "level": level,
            "values": v.tolist()}


def side(ci: dict, value: float) -> str:
    """'above', 'below' or 'across': where the interval lies relative to `value`."""
    lo, hi = ci["ci_low"], ci["ci_high"]
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "across"
    return "above" if lo > value else "below" if hi < value else "across"


def sign_lean(xs: Sequence[np.ndarray]) -> dict:
    """Fraction of positive survivors per trial; interval of (fraction - 1/2)."""
    fractions = [float(np.mean(np.asarray(x) > 0)) for x in xs]
    lean = t_interval([f - 0.5 for f in fractions])
    where = side(lean, 0.0)
    verdict = {"above": "leans positive", "below": "leans negative", "across": "not resolved"}[where]
    return {"question": "sign lean", "statistic": "fraction positive - 1/2", "per_trial": fractions,
            **lean, "verdict": verdict, "paper_claim": "not resolved" if where == "across" else "contradicted"}


COUNTS = ("merge", "fixed")


def trial_shapes(xs: Sequence[np.ndarray], bandwidth: float, lo: float, hi: float, *,
                 count: str = "fixed", z: float = MERGE_Z) -> list[dict]:
    """Per trial: modes inside [lo, hi] and the shape numbers read from them.

    `count="fixed"`: the modes of each trial's KDE at `bandwidth`. `count="merge"`: the calibrated
    rule, `merged_modes(x, z=z, interval=(lo, hi))` (each trial's KDE at its own rule-of-thumb
    bandwidth, dips under z standard errors merged; `bandwidth` is not used); the heights and the
    density at 0 are read from that KDE.
    """
    if count not in COUNTS:
        raise ValueError(f"count must be one of {COUNTS}, got {count!r}.")
    grid = _kde.analysis_grid(lo, hi)
    out = []
    for x in xs:
        x = np.asarray(x, dtype=np.float64)
        if count == "merge":
            m = merged_modes(x, z=z, interval=(lo, hi))
            locs, heights = np.asarray(m["locations"]), np.asarray(m["heights"])
            f0 = np.atleast_1d(m["density_at_zero"])
            h = m["bandwidth"]
        else:
            dens = _kde.kde_rows(x[None, :], grid, bandwidth)
            locs, heights = _kde.modes_of(dens, grid, lo, hi)
            f0 = np.atleast_1d(_value_at(grid, dens, 0.0)) if locs.size else None
            h = float(bandwidth)
        row: dict = {"n_modes": int(locs.size), "modes": locs.tolist(), "heights": heights.tolist(),
                     "bandwidth": float(h), "count_method": f"merge z={z:g}" if count == "merge" else "fixed"}
        if locs.size:
            nums = _shape_numbers(locs[None, :], heights[None, :], f0)
            row.update({k: float(v[0]) for k, v in nums.items()})
            k = locs.size
            if k % 2 == 0:
                row["pair_ratios"] = [float(heights[i] / heights[k - 1 - i]) for i in range(k // 2)]
        out.append(row)
    return out


def shape_questions(rows: list[dict]) -> list[dict]:
    """Number of modes, four peaks, hole at zero and symmetry, each answered over the trials.

    A ratio is only defined on some trials (the four-peak ratio with 4 modes, the hole ratio with a
    mode on each side of 0, a mirror pair's ratio with the modal even count): its mean and interval
    are over those trials only, and every question carries `n_defined` (trials used) beside
    `n_trials` (trials in all), and says so in its verdict.
    """
    counts = [r["n_modes"] for r in rows]
    n = len(rows)
    modal, modal_n = Counter(counts).most_common(1)[0] if counts else (0, 0)
    four = [r for r in rows if r["n_modes"] == 4]
    method = rows[0].get("count_method", "fixed") if rows else "fixed"
    out = [{"question": "number of modes", "statistic": "modes per trial", "per_trial": counts,
            **t_interval(counts), "modal": modal, "modal_trials": modal_n, "n_defined": n, "n_trials": n,
            "count_method": method, "verdict": f"{modal} modes in {modal_n} of {n} trials",
            "paper_claim": "held" if len(four) == n else "contradicted" if not four else "not resolved"}]
    mid = t_interval([r["middle_to_outer"] for r in four], floor=0.0)
    where = side(mid, 1.0)
    claim = ("not applicable" if not four else "held" if where == "above" and len(four) == n
             else "contradicted" if where == "below" else "not resolved")
    out.append({"question": "four peaks", "statistic": "lower middle peak / higher outer peak",
                "per_trial": [r.get("middle_to_outer") for r in rows], **mid, "trials_with_4": len(four),
                "n_defined": len(four), "n_trials": n, "count_method": method,
                "verdict": {"held": "middle two higher in every trial", "contradicted": "middle two lower",
                            "not resolved": "not resolved", "not applicable": "no trial shows 4 modes"}[claim]
                + f" (ratio over the {len(four)} of {n} trials with 4 modes)", "paper_claim": claim})
    defined = [r for r in rows if math.isfinite(r.get("zero_to_peak", math.nan))]
    hole = t_interval([r["zero_to_peak"] for r in defined], floor=0.0)
    where = side(hole, DIVOT) if hole["n"] else "none"
    out.append({"question": "hole at zero", "statistic": "density at 0 / lower peak beside it",
                "per_trial": [r.get("zero_to_peak") for r in rows], **hole,
                "n_defined": len(defined), "n_trials": n, "count_method": method,
                "verdict": {"below": f"strong hole (below {DIVOT})", "above": f"no strong hole (above {DIVOT})",
                            "across": "not resolved", "none": "not applicable"}[where]
                + f" (ratio over the {len(defined)} of {n} trials with a mode on each side of 0)",
                "paper_claim": {"below": "held", "above": "contradicted", "across": "not resolved",
                                "none": "not applicable"}[where]})
    out.append({**_symmetry(rows, modal, n), "n_trials": n, "count_method": method})
    return out


def _symmetry(rows: list[dict], modal: int, n: int) -> dict:
    """Left/right height ratio of each mirror pair of modes, over the trials with the modal count."""
    same = [r for r in rows if r["n_modes"] == modal and "pair_ratios" in r]
    base = {"question": "symmetry", "statistic": "left/right peak-height ratio", "n_defined": len(same)}
    if not same:
        return {**base, **t_interval([]), "verdict": f"not applicable ({modal} modes: no mirror pairs)",
                "paper_claim": "not applicable"}
    pairs = [t_interval([r["pair_ratios"][i] for r in same], floor=0.0) for i in range(modal // 2)]
    worst = max(range(len(pairs)), key=lambda i: abs(math.log(pairs[i]["mean"])) if pairs[i]["mean"] > 0 else math.inf)
    lo, hi = ROUGH_HEIGHT
    inside = all(p["ci_low"] >= lo and p["ci_high"] <= hi for p in pairs)
    outside = any(p["ci_low"] > hi or p["ci_high"] < lo for p in pairs)
    names = ["outer", "inner"] if modal == 4 else [f"pair {i + 1} (from outside)" for i in range(len(pairs))]
    verdict = (f"roughly symmetric (every pair's interval inside [{lo}, {hi}])" if inside else
               f"asymmetric ({names[worst]} pair outside [{lo}, {hi}])" if outside else "not resolved")
    return {**base, **pairs[worst], "pair": names[worst], "pairs": pairs, "trials_used": len(same),
            "per_trial": [r["pair_ratios"][worst] for r in same],
            "verdict": verdict + f" (over the {len(same)} of {n} trials with {modal} modes)",
            "paper_claim": "held" if inside else "contradicted" if outside else "not resolved"}


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    return float(stats.ks_2samp(a, b).statistic)


def ks_excess(xs_a: Sequence[np.ndarray], xs_b: Sequence[np.ndarray]) -> dict:
    """Per trial of either architecture: KS to the other's pooled D_n minus KS to its own other trials.

    Every trial is divided by its own sd first, so a pure scale difference gives 0.
    """
    za = [np.asarray(x) / np.std(x) for x in xs_a]
    zb = [np.asarray(x) / np.std(x) for x in xs_b]
    diffs = []
    for own, other in ((za, zb), (zb, za)):
        if len(own) < 2:
            continue
        pooled_other = np.concatenate(other)
        for i, z in enumerate(own):
            rest = np.concatenate([w for j, w in enumerate(own) if j != i])
            diffs.append(_ks(z, pooled_other) - _ks(z, rest))
    ci = t_interval(diffs)
    verdict = {"above": "different shapes (beyond network-to-network variation)",
               "below": "closer across architectures than within (unexpected)",
               "across": "not resolved: consistent with one shape up to scale"}[side(ci, 0.0)]
    return {"question": "FC-1 against LeNet5", "statistic": "KS to other architecture - KS to own (sd-scaled)",
            "per_trial": diffs, **ci, "verdict": verdict if ci["n"] else "needs 2 or more trials per experiment",
            "paper_claim": "contradicted" if side(ci, 0.0) == "above" else "not resolved" if ci["n"] else "not applicable"}


def explain_intervals(ks: Sequence[float], overlap: Sequence[float], chance: Sequence[float]) -> dict:
    """Intervals over trials for the layer-threshold model: KS distance, overlap, overlap - chance."""
    return {"ks": t_interval(ks), "overlap": t_interval(overlap),
            "overlap_minus_chance": t_interval(np.subtract(overlap, chance).tolist())}


def _bandwidth(e, r: int, view: str, verdicts: list[dict], max_n: int, seed: int) -> tuple[float, float, float]:
    """(h, lo, hi): the pooled shape verdict's bandwidth and counting interval, else h = √(h_3·h_4)."""
    for v in verdicts:
        if (v["experiment"], v["round"], v["view"]) == (e.name, r, view) and v.get("bandwidth"):
            lo, hi = v["details"]["interval"]
            return float(v["bandwidth"]), float(lo), float(hi)
    x = e.pooled(r, view)
    if x.size > max_n:
        x = np.random.default_rng(seed).choice(x, size=max_n, replace=False)
    lo, hi = _kde.central_interval(x, 0.98)
    hk = _kde.critical_bandwidths(x, [3, 4], _kde.analysis_grid(lo, hi), lo, hi)
    return float(math.sqrt(hk[3] * hk[4])), lo, hi


def trial_level(exps: list, verdicts: list[dict], views: Sequence[str], max_n: int = 20000,
                seed: int = 0) -> list[dict]:
    """Every trial-level question for the analysis' experiments (the `trials` section)."""
    out = []
    for e in exps:
        for r in e.analyzed:
            base = {"experiment": e.name, "round": r, "density": e.density(r), "n_trials": len(e.handle.trials)}
            out.append({**base, "view": "raw", **sign_lean(e.per_trial(r, "raw"))})
            for view in views:
                h, lo, hi = _bandwidth(e, r, view, verdicts, max_n, seed)
                shapes = trial_shapes(e.per_trial(r, view), h, lo, hi, count="merge")
                for q in shape_questions(shapes):
                    out.append({**base, "view": view, "bandwidth": h, "interval": [lo, hi], **q})
    for i, a in enumerate(exps):
        for b in exps[i + 1:]:
            if a.config.get("model") == b.config.get("model") or \
                    a.config.get("protocol", "text") != b.config.get("protocol", "text"):
                continue
            for r in sorted(set(a.analyzed) & set(b.analyzed)):
                out.append({"experiment": f"{a.name} vs {b.name}", "round": r, "density": a.density(r),
                            "n_trials": len(a.handle.trials) + len(b.handle.trials), "view": "raw",
                            **ks_excess(a.per_trial(r, "raw"), b.per_trial(r, "raw"))})
    return out
