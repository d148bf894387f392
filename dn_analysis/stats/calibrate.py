"""Calibration by simulation: level on null samples and power against stated alternatives.

    python -m dn_analysis.stats.calibrate [--quick] [--out docs/calibration] [--only NAME,...]

Every test is run on seeded samples; a row is the rejection rate at alpha = 0.05 (p <= alpha)
with its Monte-Carlo standard error sqrt(r (1 - r) / reps). Null rows of calibrated tests must
fall in [0.02, 0.08]; conservative-by-design tests must stay <= 0.08; power rows state what they
must do. Null runs use smaller n (randomization tests are exact at any n; the bootstrap tests are
cheaper there) and power runs n = 10,000. Writes calibration.csv, calibration.json and
calibration.md (copied to docs/calibration.md next to the out folder by default).
Run it niced: it shares the machine (`nice -n 19 python -m dn_analysis.stats.calibrate`).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats as sps

from dn_analysis.stats import simulate as sim
from dn_analysis.stats.compare import COMPARE_METHODS, compare_pvalues
from dn_analysis.stats.dip import dip_test
from dn_analysis.stats.modes import fixed_count, merged_modes, mode_pvalues_raw, sequential_count
from dn_analysis.stats.symmetry import symmetry_pvalues

ALPHA = 0.05
BAND = (0.02, 0.08)
FLIPS = ("flip-ks", "flip-cvm", "skewness")


@dataclass(frozen=True)
class Experiment:
    """One simulated scenario: which tests, which data, what the rejection rate must be."""

    name: str
    test: str
    data: str
    n: int
    reps: int
    boot: int
    expect: dict[str, str]  # method -> "calibrated" | "conservative" | "power" | "no-power" | "diagnostic"
    run: Callable[[np.random.Generator, int, int], dict[str, float]]
    true_modes: int | None = None  # set: a mode-count scenario; `run` returns counts, not p-values


def _sign_p(x: np.ndarray) -> float:
    pos, neg = int(np.sum(x > 0)), int(np.sum(x < 0))
    return float(sps.binomtest(pos, pos + neg, 0.5).pvalue)


def _skewnorm_at_median(n: int, a: float, rng: np.random.Generator) -> np.ndarray:
    dist = sps.skewnorm(a)
    return dist.rvs(size=n, random_state=rng) - dist.median()


def _dn(n: int, rng: np.random.Generator, layers=sim.FC1_LAYERS) -> np.ndarray:
    return sim.pruned_dn(n, layers=layers, drift=1.0, random_state=rng)


def _sym_known(make: Callable[[int, np.random.Generator], np.ndarray]):
    def run(rng: np.random.Generator, n: int, b: int) -> dict[str, float]:
        x = make(n, rng)
        out = symmetry_pvalues(x, 0.0, FLIPS, b, rng)
        out["sign"] = _sign_p(x)
        return out
    return run


def _sym_estimated(make, center: str):
    def run(rng: np.random.Generator, n: int, b: int) -> dict[str, float]:
        return symmetry_pvalues(make(n, rng), center, FLIPS, b, rng)
    return run


def _modes(make, k: int, methods=("silverman-hy", "excess-mass", "silverman"), dip: bool = False, dip_abs: bool = False):
    def run(rng: np.random.Generator, n: int, b: int) -> dict[str, float]:
        x = make(n, rng)
        res = mode_pvalues_raw(x, [k], methods=methods, n_boot=b, alpha=ALPHA, rng=rng)
        out = {m: res[m][k]["p"] for m in methods}
        if dip:
            out["dip"] = dip_test(x).pvalue
        if dip_abs:
            out["dip |x|"] = dip_test(x, absolute=True).pvalue
        return out
    return run


def _dip_only(make):
    def run(rng: np.random.Generator, n: int, b: int) -> dict[str, float]:
        return {"dip": dip_test(make(n, rng)).pvalue}
    return run


def _compare(make_x, make_y, standardize):
    def run(rng: np.random.Generator, n: int, b: int) -> dict[str, float]:
        _, pv = compare_pvalues(make_x(n, rng), make_y(n, rng), standardize, COMPARE_METHODS, b, rng)
        return pv
    return run


def _pruned_nets(rng: np.random.Generator, trials: int, drift: float, trend: float,
                 shape: tuple[int, int] = (200, 100), keep: float = 0.262):
    """θ0 ~ Xavier-uniform; 'trained' = θ0 + drift + trend * feature mean + symmetric noise;
    masks keep the largest trained magnitudes. drift = trend = 0 is the null of no sign lean."""
    out, inn = shape
    bound = float(np.sqrt(6.0 / (out + inn)))
    mean = np.linspace(-1.0, 1.0, inn)
    thetas, masks = [], []
    for _ in range(trials):
        w = rng.uniform(-bound, bound, shape)
        trained = w + bound * (drift + trend * mean[None, :] + 0.5 * rng.standard_normal(shape))
        masks.append({"w": np.abs(trained) >= np.quantile(np.abs(trained), 1.0 - keep)})
        thetas.append({"w": w})
    return thetas, masks, mean


def _signs(drift: float, trend: float):
    from dn_analysis.signs import input_mean_trend, layer_lean

    def run(rng: np.random.Generator, n: int, b: int) -> dict[str, float]:
        thetas, masks, mean = _pruned_nets(rng, n, drift, trend)
        return {"layer-lean": layer_lean(thetas, masks, ["w"])[0]["pvalue"],
                "input-trend": input_mean_trend(thetas, masks, "w", mean)["pvalue"]}
    return run


def _paired(shift: float, heavy: bool = False):
    """Five trials, two conditions sharing each trial's level (θ0 and data order); results.paired's tests.

    `shift` is in units of the sd of the within-trial difference; `heavy`: t(3) noise, scaled to sd 1.
    """
    from results.paired import paired_summary

    def run(rng: np.random.Generator, n: int, b: int) -> dict[str, float]:
        level = rng.normal(0.9, 0.05, n)
        noise = rng.standard_t(3, (2, n)) / np.sqrt(3.0) if heavy else rng.standard_normal((2, n))
        ref, cond = level + 0.003 * noise[0], level + shift * 0.003 * np.sqrt(2.0) + 0.003 * noise[1]
        s = paired_summary(cond - ref)
        return {"paired-t": s["p_value"], "sign-flip": s["p_signflip"]}
    return run


def _holm_family(k: int, shift: float, sd: float = 0.003 * np.sqrt(2.0)):
    """k conditions against one ticket (a paired.csv family), five trials sharing each trial's level;
    results.contrasts' Holm adjustment of the paired t p-values.

    `sd`: of each within-trial difference to the ticket (differences share the ticket's noise, so
    they are correlated, 0.5). shift = 0: the rates are family-wise errors (any p <= 0.05); else
    condition 0 is shifted by `shift` sd and the rates are its power, with the family-wise error of
    the other k - 1 (all null) beside it.
    """
    from results.contrasts import holm
    from results.paired import t_summary

    def run(rng: np.random.Generator, n: int, b: int) -> dict[str, float]:
        level = rng.normal(0.9, 0.05, n)
        noise = rng.standard_normal((k + 1, n)) * sd / np.sqrt(2.0)
        ticket, conds = level + noise[0], level + noise[1:]
        conds[0] += shift * sd
        p = np.array([t_summary(c - ticket)[3] for c in conds])
        adjusted = holm(p)
        if shift == 0:
            return {"holm": float(adjusted.min()), "unadjusted": float(p.min())}
        return {"holm": float(adjusted[0]), "unadjusted": float(p[0]), "holm-nulls": float(adjusted[1:].min())}
    return run


def _tost(diff: float, sd: float, margin: float = 0.005):
    """Five trials, two conditions sharing each trial's level, the true difference +-`diff` (sign
    drawn per sample), within-trial differences of sd `sd`; results.contrasts' TOST at `margin`."""
    from results.contrasts import tost_pvalue

    def run(rng: np.random.Generator, n: int, b: int) -> dict[str, float]:
        level = rng.normal(0.9, 0.05, n)
        noise = rng.standard_normal((2, n)) * sd / np.sqrt(2.0)
        ref, cond = level + noise[0], level + diff * rng.choice((-1.0, 1.0)) + noise[1]
        return {"tost": tost_pvalue(cond, ref, margin)}
    return run


SHELF_SIZES = {"5k": 5_000, "28k": 28_000, "70k": 70_000}  # one layer; θ_LT of FC-1 at 10.7% and 26%
SHELF_TEXT = {
    "cliffs": "cliffs: |w| on (0.25,1) 60%, (1.2,2) 30%, (0.25,3) 10% (a floor): 4 flat shelves, sharp cliffs, hole at 0",
    "stairs": "stairs: one global threshold 0.3 on layers of scales 1, 1.6, 2.4 (50/30/20%): a staircase falling outwards",
    "hole": "hard hole: U(-1,1) without (-0.3,0.3): two flat shelves",
    "divot": "soft divot: U(-1,1), density on (-0.3,0.3) 40% of the rest",
    "unequal": "unequal: FC-1's layers (235,200/30,000/1,000 weights) each pruned to 26% of itself: shelves "
               "of heights 45 : 3.5 : 0.02 with holes between (the smallest outside the central 98%)",
}
MERGE_ZS = (2.0, 3.0, 4.0)
TEST_COUNTS = ("silverman-hy", "excess-mass")


def shelf_truth(name: str) -> int:
    """True number of modes of a shelf scenario inside its central 98% (`simulate.shelf_modes`)."""
    s = sim.SHELF_SCENARIOS[name]
    return len(sim.shelf_modes(s, (sim.shelf_quantile(0.01, s), sim.shelf_quantile(0.99, s))))


def _shelf_counts(name: str, tests: bool):
    """Mode counts of one shelf sample: the merge rule at several z and a fixed bandwidth, or
    (`tests`) the counts by sequential Hall-York and excess-mass tests (smallest k not rejected).

    The fixed bandwidth emulates trials.py before the merge rule: every trial's KDE at the pooled
    bandwidth sqrt(h_3 h_4) of five trials (one seeded pooled sample per scenario and size).
    """
    shelves = sim.SHELF_SCENARIOS[name]
    cache: dict[int, float] = {}

    def fixed_h(n: int) -> float:
        if n not in cache:
            from dn_analysis.stats import _kde

            pooled = sim.shelf_sample(5 * n, shelves, random_state=zlib.crc32(name.encode()))
            lo, hi = _kde.central_interval(pooled, 0.98)
            hk = _kde.critical_bandwidths(pooled, [3, 4], _kde.analysis_grid(lo, hi), lo, hi)
            cache[n] = float(np.sqrt(hk[3] * hk[4]))
        return cache[n]

    def run(rng: np.random.Generator, n: int, b: int) -> dict[str, float]:
        x = sim.shelf_sample(n, shelves, random_state=rng)
        if tests:
            return {m: float(sequential_count(x, m, n_boot=b, random_state=rng)) for m in TEST_COUNTS}
        out = {f"merge z={z:g}": float(merged_modes(x, z=z)["n_modes"]) for z in MERGE_ZS}
        out["fixed-h"] = float(fixed_count(x, fixed_h(n)))
        return out
    return run


def shelf_experiments(quick: bool) -> list[Experiment]:
    """Per-sample mode counts on the shelf densities at the sizes of real tickets.

    `shelf-<shape>-<size>`: the merge rule and the fixed bandwidth (cheap: many samples);
    `shelf-tests-<shape>-<size>`: the test-based counts (a bootstrap per k: fewer samples).
    """
    out = []
    for name, text in SHELF_TEXT.items():
        truth = shelf_truth(name)
        for tag, n in SHELF_SIZES.items():
            cheap = 20 if quick else (200 if n <= 5000 else 100)
            costly = 5 if quick else {5_000: 40, 28_000: 20, 70_000: 12}[n]
            out.append(Experiment(f"shelf-{name}-{tag}", f"number of modes = {truth}", text, n, cheap, 0,
                                  {}, _shelf_counts(name, False), truth))
            out.append(Experiment(f"shelf-tests-{name}-{tag}", f"number of modes = {truth}", text, n, costly, 49,
                                  {}, _shelf_counts(name, True), truth))
    return out


def experiments(quick: bool) -> list[Experiment]:
    """The scenarios; `quick` shrinks reps (not n) for a smoke run."""
    r_null, r_pow = (60, 20) if quick else (500, 100)
    cal4 = dict.fromkeys(("sign",) + FLIPS, "calibrated")
    est = dict.fromkeys(FLIPS, "calibrated")
    cmp_cal = dict.fromkeys(COMPARE_METHODS, "calibrated")
    cmp_pow = dict.fromkeys(COMPARE_METHODS, "power")
    normal = lambda n, g: g.standard_normal(n)  # noqa: E731
    dn = lambda n, g: _dn(n, g)  # noqa: E731
    return [
        # --- symmetry -------------------------------------------------------------------------
        Experiment("sym-null-dn", "symmetry about 0", "D_n-like (FC-1 sim, 6 rounds), symmetric", 1000,
                   r_null, 199, cal4, _sym_known(dn)),
        Experiment("sym-null-normal", "symmetry about 0", "N(0,1)", 1000, r_null, 199, cal4, _sym_known(normal)),
        Experiment("sym-null-midq", "symmetry about the midquantile", "D_n-like + 0.5 sd shift", 1000, r_null, 99,
                   est, _sym_estimated(lambda n, g: (x := dn(n, g)) + 0.5 * x.std(), "midquantile")),
        Experiment("sym-null-median", "symmetry about the median", "logistic(0.7, 1)", 1000, r_null, 99, est,
                   _sym_estimated(lambda n, g: g.logistic(0.7, 1.0, n), "median")),
        Experiment("sym-diag-median-hole", "symmetry about the median", "D_n-like + 0.5 sd shift (hole at center)",
                   1000, r_null // 2 if not quick else r_null, 99, dict.fromkeys(FLIPS, "diagnostic"),
                   _sym_estimated(lambda n, g: (x := dn(n, g)) + 0.5 * x.std(), "median")),
        Experiment("sym-pow-sign55", "symmetry about 0", "D_n-like re-signed 55% positive / 45% negative", 10_000,
                   r_pow, 199, dict.fromkeys(("sign",) + FLIPS, "power"),
                   _sym_known(lambda n, g: sim.with_sign_imbalance(dn(n, g), 0.55, random_state=g))),
        Experiment("sym-pow-skew", "symmetry about 0", "skew-normal(a=1) minus its median (skewness 0.14, "
                   "no sign imbalance)", 10_000, r_pow, 199,
                   {"sign": "no-power", "skewness": "power", "flip-ks": "report", "flip-cvm": "report"},
                   _sym_known(lambda n, g: _skewnorm_at_median(n, 1.0, g))),
        Experiment("sym-pow-skew-midq", "symmetry about the midquantile", "skew-normal(a=1) + 3", 10_000,
                   max(r_pow // 2, 10), 99, {"skewness": "power", "flip-ks": "report", "flip-cvm": "report"},
                   _sym_estimated(lambda n, g: _skewnorm_at_median(n, 1.0, g) + 3.0, "midquantile")),
        # --- modes ----------------------------------------------------------------------------
        Experiment("modes-null-k1", "at most 1 mode", "N(0,1)", 2000, r_null, 99,
                   {"silverman-hy": "calibrated", "excess-mass": "conservative", "silverman": "conservative",
                    "dip": "conservative"}, _modes(normal, 1, dip=True)),
        Experiment("dip-null-uniform", "at most 1 mode", "U(0,1) (the dip's least favourable null)", 1000,
                   r_null, 0, {"dip": "calibrated"}, _dip_only(lambda n, g: g.uniform(size=n))),
        Experiment("modes-null-k2", "at most 2 modes", "0.5 N(-2.5,1) + 0.5 N(2.5,1)", 1000, r_null, 99,
                   {"silverman-hy": "calibrated", "excess-mass": "conservative"},
                   _modes(lambda n, g: sim.gaussian_mixture(n, (-2.5, 2.5), random_state=g), 2,
                          methods=("silverman-hy", "excess-mass"))),
        Experiment("modes-null-k2-dn1", "at most 2 modes", "one-layer D_n-like (Xavier-uniform, 6 rounds): "
                   "2 modes, cliffs at +-bound", 2000, r_null, 99,
                   {"silverman-hy": "calibrated", "excess-mass": "conservative", "silverman": "conservative"},
                   _modes(lambda n, g: _dn(n, g, ((784, 300, 1),)), 2)),
        Experiment("modes-null-k4", "at most 4 modes", "D_n-like (FC-1 sim): 4 modes, outer two on nearly flat "
                   "shelves ending at the edge of the central 98%", 2000,
                   r_null, 99, {"silverman-hy": "calibrated", "excess-mass": "conservative", "silverman": "conservative"},
                   _modes(dn, 4)),
        Experiment("modes-null-k4-smooth", "at most 4 modes", "mixture N(+-1, 0.35^2) x3, N(+-3, 0.35^2) x1 "
                   "(smooth, four peaked, hole at 0)", 2000, r_null, 99,
                   {"silverman-hy": "calibrated", "excess-mass": "conservative", "silverman": "conservative"},
                   _modes(lambda n, g: sim.gaussian_mixture(n, (-3.0, -1.0, 1.0, 3.0), sd=0.35,
                                                            weights=(1, 3, 3, 1), random_state=g), 4)),
        Experiment("modes-pow-bimodal", "at most 1 mode", "0.5 N(-1.5,1) + 0.5 N(1.5,1)", 10_000, r_pow, 99,
                   dict.fromkeys(("silverman-hy", "excess-mass", "silverman", "dip"), "power"),
                   _modes(lambda n, g: sim.gaussian_mixture(n, (-1.5, 1.5), random_state=g), 1, dip=True)),
        Experiment("modes-pow-dn-k2", "at most 2 modes", "D_n-like (FC-1 sim), 4 modes", 10_000, r_pow, 99,
                   {"silverman-hy": "power", "silverman": "power", "excess-mass": "report", "dip |x|": "report"},
                   _modes(dn, 2, dip_abs=True)),
        # --- two-sample -----------------------------------------------------------------------
        Experiment("cmp-null-raw", "same distribution (raw)", "D_n-like vs D_n-like", 1000, r_null, 99, cmp_cal,
                   _compare(dn, dn, None)),
        Experiment("cmp-null-std", "same shape (each / own std)", "D_n-like vs 1.3 x D_n-like", 1000, r_null, 99,
                   cmp_cal, _compare(dn, lambda n, g: 1.3 * dn(n, g), "std")),
        Experiment("cmp-pow-scale-raw", "same distribution (raw)", "D_n-like vs 1.3 x D_n-like (scale only)",
                   10_000, r_pow, 99, cmp_pow, _compare(dn, lambda n, g: 1.3 * dn(n, g), None)),
        Experiment("cmp-scale-std", "same shape (each / own std)", "D_n-like vs 1.3 x D_n-like (scale only: "
                   "must NOT reject)", 10_000, 3 * r_pow, 99, cmp_cal,
                   _compare(dn, lambda n, g: 1.3 * dn(n, g), "std")),
        Experiment("cmp-pow-shape-std", "same shape (each / own std)", "FC-1 sim vs LeNet5 sim D_n", 10_000,
                   max(r_pow * 2 // 5, 8), 99, {"ks": "power", "ad": "power", "energy": "report", "wasserstein": "report"},
                   _compare(dn, lambda n, g: _dn(n, g, sim.LENET5_LAYERS), "std")),
        # --- survivor signs (dn_analysis.signs; n = trials, the t-tests' replicates) ------------
        Experiment("signs-null", "no sign lean / no trend with input mean", "5 pruned 200x100 layers, "
                   "trained = θ0 + symmetric noise", 5, r_null, 0,
                   {"layer-lean": "calibrated", "input-trend": "calibrated"}, _signs(0.0, 0.0)),
        Experiment("signs-pow-lean", "no sign lean", "as signs-null, trained = θ0 + 0.02 bound + noise "
                   "(survivors ~52% positive)", 5, r_pow, 0, {"layer-lean": "power", "input-trend": "report"},
                   _signs(0.02, 0.0)),
        Experiment("signs-pow-trend", "no trend with input mean", "as signs-null, trained = θ0 + 0.03 bound x "
                   "input mean (in [-1, 1]) + noise (share positive a few points lower on the lowest-mean inputs than on the highest)", 5, r_pow, 0,
                   {"layer-lean": "calibrated", "input-trend": "power"}, _signs(0.0, 0.03)),
        # --- paired.csv (results.paired; n = trials): a condition against its reference ----------
        Experiment("paired-null", "no difference between two conditions", "5 trials, each with its own level "
                   "(sd 0.05) shared by both conditions, N(0, 0.003^2) noise", 5, 4 * r_null, 0,
                   {"paired-t": "calibrated", "sign-flip": "conservative"}, _paired(0.0)),
        Experiment("paired-null-heavy", "no difference between two conditions", "as paired-null, t(3) noise "
                   "scaled to the same sd", 5, 4 * r_null, 0,
                   {"paired-t": "conservative", "sign-flip": "conservative"}, _paired(0.0, heavy=True)),
        Experiment("paired-pow", "no difference between two conditions", "as paired-null, the condition "
                   "shifted by 2 sd of the within-trial difference (paired t power 0.909 by the noncentral t)",
                   5, 4 * r_pow, 0, {"paired-t": "power", "sign-flip": "report"}, _paired(2.0)),
        Experiment("paired-pow-8", "no difference between two conditions", "as paired-pow with 8 trials "
                   "(the sign-flip test can reach p = 2/256)", 8, 4 * r_pow, 0,
                   {"paired-t": "power", "sign-flip": "power"}, _paired(2.0)),
        # --- paired.csv's verdicts (results.contrasts): Holm within a family, TOST at the margin ---
        Experiment("paired-holm-null", "no condition differs from the ticket (a family of 10)", "10 conditions "
                   "against one ticket, 5 trials, shared trial level, within-trial difference sd 0.42 points; "
                   "rate: any p <= 0.05 in the family (family-wise error)", 5, 4 * r_null, 0,
                   {"holm": "conservative", "unadjusted": "diagnostic"}, _holm_family(10, 0.0)),
        Experiment("paired-holm-pow", "no condition differs from the ticket (a family of 10)", "as "
                   "paired-holm-null, one condition shifted by 3.5 sd of the within-trial difference (its "
                   "power is between Bonferroni's 0.879 and the unadjusted 1.000, noncentral t); holm-nulls: "
                   "family-wise error of the other nine", 5, 4 * r_pow, 0,
                   {"holm": "power", "unadjusted": "report", "holm-nulls": "conservative"}, _holm_family(10, 3.5)),
        Experiment("paired-tost-margin", "difference outside +-margin (TOST, margin 0.5 points)", "5 trials, true "
                   "difference +-0.5 points (on the margin), within-trial difference sd 0.1 points", 5, 4 * r_null,
                   0, {"tost": "conservative"}, _tost(0.005, 0.001)),
        Experiment("paired-tost-pow", "difference outside +-margin (TOST, margin 0.5 points)", "5 trials, no "
                   "difference, within-trial difference sd 0.1 points (FC-1/MNIST-like)", 5, 4 * r_pow, 0,
                   {"tost": "power"}, _tost(0.0, 0.001)),
        Experiment("paired-tost-pow-noisy", "difference outside +-margin (TOST, margin 0.5 points)", "5 trials, no "
                   "difference, within-trial difference sd 1 point (LeNet5/CIFAR-10-like)", 5, 4 * r_pow, 0,
                   {"tost": "report"}, _tost(0.0, 0.01)),
    ] + shelf_experiments(quick)


def _judge(kind: str, rate: float) -> bool:
    """Does a rejection rate meet what its row expects?"""
    if kind == "calibrated":
        return BAND[0] <= rate <= BAND[1]
    if kind in ("conservative", "no-power"):
        return rate <= BAND[1]
    if kind == "power":
        return rate >= 0.8
    return True


def run_experiment(exp: Experiment, seed: int) -> list[dict]:
    """Run all reps of one experiment; one row per method."""
    pvals: dict[str, list[float]] = {}
    t0 = time.process_time()
    for rep in range(exp.reps):
        rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(exp.name.encode()), rep]))
        for m, p in exp.run(rng, exp.n, exp.boot).items():
            pvals.setdefault(m, []).append(p)
    cpu = time.process_time() - t0
    if exp.true_modes is not None:
        return _count_rows(exp, pvals, cpu)
    rows = []
    for m, ps in pvals.items():
        arr = np.array(ps)
        rate = float(np.mean(arr <= ALPHA))
        se = float(np.sqrt(rate * (1 - rate) / arr.size))
        kind = exp.expect.get(m, "diagnostic")
        ok = _judge(kind, rate)
        rows.append({"experiment": exp.name, "test": exp.test, "method": m, "data": exp.data, "n": exp.n,
                     "reps": arr.size, "B": exp.boot, "alpha": ALPHA, "rejection_rate": rate, "mc_se": se,
                     "expect": kind, "ok": ok, "cpu_s": round(cpu, 1)})
    return rows


def _count_rows(exp: Experiment, counts: dict[str, list[float]], cpu: float) -> list[dict]:
    """One row per method of a mode-count scenario: shares right / too many / too few, with MC SEs.

    `rejection_rate` holds the share wrong (too many + too few), so the main table's columns
    still mean 'how often the method errs'.
    """
    rows = []
    for m, cs in counts.items():
        c = np.asarray(cs)
        reps = c.size
        share = {k: float(np.mean(v)) for k, v in (("right", c == exp.true_modes), ("too_many", c > exp.true_modes),
                                                      ("too_few", c < exp.true_modes))}
        se = {f"{k}_se": float(np.sqrt(v * (1 - v) / reps)) for k, v in share.items()}
        wrong = 1.0 - share["right"]
        rows.append({"experiment": exp.name, "test": exp.test, "method": m, "data": exp.data, "n": exp.n,
                     "reps": reps, "B": exp.boot, "alpha": ALPHA, "rejection_rate": wrong,
                     "mc_se": float(np.sqrt(wrong * (1 - wrong) / reps)), "expect": "count", "ok": True,
                     "cpu_s": round(cpu, 1), "true_modes": exp.true_modes, **share, **se,
                     "counts": {int(k): int(v) for k, v in zip(*np.unique(c, return_counts=True), strict=True)}})
    return rows


EXPECT_TEXT = {
    "calibrated": "level 0.05: must lie in [0.02, 0.08]",
    "conservative": "conservative by design: must be <= 0.08",
    "power": "power: should be >= 0.8",
    "report": "power, reported (no target)",
    "no-power": "no power by design (sign-balanced): <= 0.08",
    "diagnostic": "diagnostic (known failure mode)",
    "count": "mode count: share wrong (see the shelf section)",
}


def write_markdown(rows: list[dict], path: Path, quick: bool, cpu: float) -> None:
    lines = [
        "# Calibration of the `dn_analysis.stats` tests",
        "",
        "Produced by `nice -n 19 python -m dn_analysis.stats.calibrate" + (" --quick" if quick else "") + "`"
        f" (seeded; {cpu / 60:.1f} CPU-minutes including re-runs). Rejection rate = share of seeded samples with p <= 0.05;",
        "MC SE = sqrt(r(1-r)/reps). `B` = bootstrap draws / sign flips / permutations per test (0 = table).",
        "Null runs use n = 1,000-2,000 (randomization tests are exact at any n); power runs n = 10,000 "
        "(the survivor-sign tests: n = 5 trials).",
        "",
        "| experiment | H0 | method | data | n | reps | B | rejection rate | MC SE | expectation | ok |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.get("true_modes") is not None:
            continue  # mode-count rows: their own section
        lines.append(
            f"| {r['experiment']} | {r['test']} | {r['method']} | {r['data']} | {r['n']} | {r['reps']} | {r['B']} "
            f"| {r['rejection_rate']:.3f} | {r['mc_se']:.3f} | {EXPECT_TEXT[r['expect']]} | {'yes' if r['ok'] else 'NO'} |"
        )
    lines += ["", "## How each null is calibrated", "",
              "- `sign`: exact binomial test of #positive vs #negative about a known center (discrete, so at most 0.05).",
              "- `flip-ks`, `flip-cvm`, `skewness` about a known center: exact randomization test over random sign flips.",
              "- the same about an estimated center (`midquantile`, `median`): symmetric bootstrap (resample the sample "
              "reflected about its center, re-estimate the center in every draw).",
              "- `silverman-hy`: Silverman's critical bandwidth h_k with the smoothed bootstrap from the KDE at h_k and "
              "Hall & York's (2001) calibration (modes of the bootstrap KDE at 1.13 h_k for alpha = 0.05); modes "
              "counted in the central 98%.",
              "- `silverman`: Silverman's (1981) original variance-rescaled bootstrap at h_k: conservative by design.",
              "- `excess-mass`: binned excess-mass gain D_{k+1} (256 bins of the central 98%), bootstrap from the KDE "
              "at h_k, which is on the verge of a (k+1)-th mode: no asymptotic calibration, so it is held to <= 0.08 "
              "(measured 0.036-0.07 on the nulls here).",
              "- `dip`: Hartigan's dip, p-value from the uniform null (the least favourable unimodal law): exact for "
              "uniform data, conservative for any other unimodal law.",
              "- two-sample `ks`, `ad`, `energy`, `wasserstein`: permutation p-values; with `standardize`, each permuted "
              "group is re-divided by its own scale inside every permutation.",
              "- survivor signs (`layer-lean`, `input-trend`, dn_analysis.signs): one-sample t-tests across trials "
              "(n = trials; survivors within one network are not independent, so trials are the replicates).",
              "- paired.csv (`paired-t`, `sign-flip`, results.paired): the paired t test and the exact sign-flip test "
              "of the within-trial differences. With 5 trials the sign-flip p-value cannot go below 2/32 = 0.0625, "
              "so it never rejects at 0.05 (it is reported beside the t test, not instead of it); the report's "
              "verdicts use the t interval, i.e. the paired t test.",
              "- paired.csv's verdicts (`holm`, `tost`, results.contrasts): see the last section.", "",
              "## Known failures (rows marked NO or diagnostic)", "",
              "- **Bandwidth mode tests over-reject 'at most 4 modes' on FC-1-like D_n** (`modes-null-k4`): its outer "
              "peaks are cliffs at the end of nearly flat shelves (and the hole floor is nearly flat), and sampling "
              "noise on flat stretches makes extra KDE modes that survive to large bandwidths. The same tests are "
              "calibrated on a smooth four-peaked law (`modes-null-k4-smooth`) and on one-layer D_n (`modes-null-k2-dn1`). "
              "The excess-mass test, which weighs a new mode by the mass it captures, stays calibrated there: "
              "`shape_verdict` answers H0 'at most 4' with it, and H0 'at most 2' with Hall-York. `count_modes` "
              "(Hall-York for every k) can report 5-6 modes on such data.",
              "- **Per-sample mode counts on shelves** (`shelf-*`, last section): a fixed bandwidth and the "
              "test-based counts (Hall-York, excess mass: smallest k not rejected) count too many modes on flat "
              "shelves, staircases and holes; the merge rule (`merged_modes`) is the per-trial counter of "
              "dn_analysis.trials. Its z is the value whose error on these shapes is smallest with no "
              "over-count (see the table); its limit is a small outer shelf at 5k weights (too few).",
              "- **The sample median is not a usable center for D_n** (`sym-diag-median-hole`): the density is ~0 "
              "there, the median sits on one edge of the hole and the symmetric bootstrap cannot mimic that; use "
              "`center='midquantile'` (calibrated, `sym-null-midq`).",
              "- Omnibus flip tests (`flip-ks`, `flip-cvm`) have little power against mild skew; `skewness` has it. "
              "The excess-mass test and the dip on |x| have little power for the small outer peaks of FC-1-like D_n.",
              ""]
    lines += _verdict_section(rows)
    lines += _shelf_section(rows)
    path.write_text("\n".join(lines) + "\n")


def _shelf_section(rows: list[dict]) -> list[str]:
    """The per-sample mode counts on shelf densities (none run: no section)."""
    got = [r for r in rows if r.get("true_modes") is not None]
    if not got:
        return []

    def cell(r: dict, k: str) -> str:
        return f"{r[k]:.2f} ± {r[k + '_se']:.2f}"

    lines = [
        "## Per-sample mode counts on shelf densities", "",
        "A shelf density is piecewise constant (a mixture of uniforms: each layer's survivors fill "
        "lo < |w| < hi). **A mode** of such a density is a maximal connected plateau whose density is "
        "strictly higher than on both sides of it (0 off the support): a flat top is one mode however "
        "wide, a step down is none, and a hole at 0 (no mass in (-t, t)) between two shelves makes two. "
        "The true number below is that count inside the population's central 98% (where every method "
        "counts), from the exact density (`simulate.shelf_modes`). Each cell is the share of samples "
        "counted right / too many / too few, ± its Monte-Carlo standard error sqrt(r(1-r)/reps). "
        "Sizes: 5k (one layer), 28k and 70k (θ_LT of FC-1 at 10.7% and 26%).", "",
        "- `merge z=...` (`modes.merged_modes`): modes of the KDE at Silverman's rule-of-thumb bandwidth, "
        "merging neighbours whose dip is under z standard errors of the KDE; **z = 3 is the counter of "
        "trials.py** (`MERGE_Z`).",
        "- `fixed-h`: modes of the KDE at one bandwidth for every trial, sqrt(h_3 h_4) of five pooled "
        "trials (trials.py's counts before the merge rule).",
        "- `silverman-hy`, `excess-mass` (`modes.sequential_count`, B = 49): the smallest k whose KDE at "
        "h_k has k modes and whose test of 'at most k modes' is not rejected at 0.05.", "",
        "| experiment | shape | true modes | n | method | reps | right | too many | too few | counts seen |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in got:
        seen = ", ".join(f"{k}: {v}" for k, v in sorted((int(k), v) for k, v in r["counts"].items()))
        lines.append(f"| {r['experiment']} | {r['data'].replace('|', chr(92) + '|')} | {r['true_modes']} | {r['n']} | {r['method']} | "
                     f"{r['reps']} | {cell(r, 'right')} | {cell(r, 'too_many')} | {cell(r, 'too_few')} | {seen} |")
    return lines + [""]


VERDICT_EXPERIMENTS = ("paired-holm-null", "paired-holm-pow", "paired-tost-margin", "paired-tost-pow",
                       "paired-tost-pow-noisy")


def _verdict_section(rows: list[dict]) -> list[str]:
    """What the rows of results.contrasts' scenarios say about paired.csv's verdicts (none: no section)."""
    got = {(r["experiment"], r["method"]): r for r in rows if r["experiment"] in VERDICT_EXPERIMENTS}
    if not got:
        return []

    def rate(experiment: str, method: str) -> str:
        r = got.get((experiment, method))
        return f"{r['rejection_rate']:.3f} (MC SE {r['mc_se']:.3f}, {r['reps']} samples)" if r else "not run"

    return [
        "## paired.csv's verdicts: Holm within a family, TOST at the margin", "",
        "A row of paired.csv is called `lower`/`higher` when its paired t p-value, Holm-adjusted within its "
        "family (contrasts of one kind, experiment and round) and metric, is <= 0.05, and `equivalent` when "
        "the TOST p-value at the metric's margin (0.5 points of accuracy by default) is <= 0.05 "
        "(results.contrasts). The rows above named `paired-holm-*` and `paired-tost-*` check both, with five "
        "trials sharing each trial's level: `nice -n 19 python -m dn_analysis.stats.calibrate --only "
        + ",".join(VERDICT_EXPERIMENTS) + "`. `tests/test_paired.py` re-simulates the null, a power case "
        "and the margin in a few seconds, against bounds of 3 binomial standard errors.", "",
        f"- **Family-wise error**, ten conditions against one ticket, no difference (their differences share "
        f"the ticket's noise): Holm {rate('paired-holm-null', 'holm')}; without the adjustment "
        f"{rate('paired-holm-null', 'unadjusted')}, i.e. a false `lower`/`higher` in that share of families.",
        f"- **Power**, one of the ten 3.5 sd of the within-trial difference off the ticket: Holm "
        f"{rate('paired-holm-pow', 'holm')} (its true value lies between Bonferroni's 0.879 and the unadjusted "
        f"1.000, by the noncentral t); the "
        f"other nine's family-wise error {rate('paired-holm-pow', 'holm-nulls')}. Alone, a 2 sd gap has "
        f"power 0.909 (`paired-pow`): a family of ten needs about 3.5 sd for the same power.",
        f"- **TOST on the margin** (true difference +-0.5 points, within-trial sd 0.1 points): "
        f"{rate('paired-tost-margin', 'tost')}: its size, at most 0.05 up to the Monte-Carlo error. With no difference it shows equivalence "
        f"{rate('paired-tost-pow', 'tost')} at sd 0.1 points (FC-1/MNIST-like) and "
        f"{rate('paired-tost-pow-noisy', 'tost')} at sd 1 point (LeNet5/CIFAR-10-like): with 5 trials a "
        "0.5-point margin cannot be shown there, and such a row stays `not resolved`.",
        "",
    ]


def _write(rows: list[dict], out: Path, args: argparse.Namespace, cpu: float) -> None:
    expects = {e.name: e.expect for e in experiments(args.quick)}
    for r in rows:  # judge every row by the current expectations (rows may come from earlier runs)
        if r.get("true_modes") is not None:
            r["expect"], r["ok"] = "count", True
            continue
        r["expect"] = expects.get(r["experiment"], {}).get(r["method"], "diagnostic")
        r["ok"] = _judge(r["expect"], r["rejection_rate"])
    fields: list[str] = []
    for r in rows:  # the mode-count rows add columns; the others leave them empty
        fields += [k for k in r if k not in fields]
    with open(out / "calibration.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, restval="")
        w.writeheader()
        w.writerows(rows)
    (out / "calibration.json").write_text(json.dumps(
        {"alpha": ALPHA, "band": BAND, "quick": args.quick, "seed": args.seed, "cpu_s": round(cpu, 1),
         "rows": rows}, indent=1))
    md = out.parent / "calibration.md" if out.name == "calibration" else out / "calibration.md"
    write_markdown(rows, md, args.quick, cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few reps: a smoke run, not a calibration")
    parser.add_argument("--out", default="docs/calibration", help="folder for calibration.csv/.json/.md")
    parser.add_argument("--only", default="", help="comma-separated experiment names")
    parser.add_argument("--resume", action="store_true", help="keep rows of experiments already in calibration.json")
    parser.add_argument("--merge", default="", help="only merge the rows of another out folder into this one")
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    exps = experiments(args.quick)
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {e.name for e in exps}
        if unknown:
            parser.error(f"unknown experiment(s): {sorted(unknown)}")
        exps = [e for e in exps if e.name in wanted]
    rows: list[dict] = []
    cpu_prev = 0.0
    if args.resume and (out / "calibration.json").exists():
        prev = json.loads((out / "calibration.json").read_text())
        rows = [r for r in prev["rows"] if r["experiment"] not in {e.name for e in exps}]
        cpu_prev = float(prev.get("cpu_s", 0.0))
    if args.merge:
        other = json.loads((Path(args.merge) / "calibration.json").read_text())
        mine = json.loads((out / "calibration.json").read_text()) if (out / "calibration.json").exists() else {"rows": []}
        names = {r["experiment"] for r in other["rows"]}
        rows = [r for r in mine["rows"] if r["experiment"] not in names] + other["rows"]
        cpu_prev = float(mine.get("cpu_s", 0.0)) + float(other.get("cpu_s", 0.0))
        exps = []
    t0 = time.process_time()
    order = [e.name for e in experiments(args.quick)]
    if args.merge:
        rows.sort(key=lambda r: order.index(r["experiment"]))
        _write(rows, out, args, cpu_prev)
    for exp in exps:
        new = run_experiment(exp, args.seed)
        rows = [r for r in rows if r["experiment"] != exp.name] + new
        rows.sort(key=lambda r: order.index(r["experiment"]))
        cpu = cpu_prev + time.process_time() - t0
        for r in new:
            print(f"{r['experiment']:22s} {r['method']:12s} n={r['n']:<6d} reps={r['reps']:<4d} "
                  f"rate={r['rejection_rate']:.3f} se={r['mc_se']:.3f} {r['expect']:12s} "
                  f"{'ok' if r['ok'] else 'NOT OK'}", flush=True)
        _write(rows, out, args, cpu)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
