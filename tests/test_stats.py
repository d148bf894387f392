"""Seeded unit tests of dn_analysis.stats: known truths, exactness, validity, input errors.

Kept small (n <= 5,000, few bootstrap draws) so the file runs in well under a minute; the
levels and powers at realistic sizes are measured by `python -m dn_analysis.stats.calibrate`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

import dn_analysis
from dn_analysis.stats import _kde
from dn_analysis.stats import simulate as sim
from dn_analysis.stats.compare import COMPARE_METHODS, compare_pvalues
from dn_analysis.stats.excess_mass import excess_mass_gain
from dn_analysis.stats.modes import count_from_pvalues, hall_york_lambda, mode_pvalues_raw
from dn_analysis.stats.symmetry import midquantile, symmetry_pvalues

symmetry_test = dn_analysis.symmetry_test
mode_test = dn_analysis.mode_test
count_modes = dn_analysis.count_modes
dip_test = dn_analysis.dip_test
compare_distributions = dn_analysis.compare_distributions
shape_verdict = dn_analysis.shape_verdict
TestResult = dn_analysis.TestResult


@pytest.fixture(scope="module")
def dn5k() -> np.ndarray:
    """D_n-like sample with four peaks and a hole at 0 (simulated global pruning, 6 rounds)."""
    return sim.pruned_dn(5000, drift=1.0, random_state=11)


def four_normals(n: int, seed: int) -> np.ndarray:
    """Clearly four-peaked and D_n-shaped: hole at 0, middle two peaks 3x the outer two, symmetric."""
    return sim.gaussian_mixture(n, (-3.0, -1.0, 1.0, 3.0), sd=0.35, weights=(1, 3, 3, 1), random_state=seed)


@pytest.fixture(scope="module")
def four() -> np.ndarray:
    return four_normals(4000, 8)


# ---------------------------------------------------------------- result type
def test_result_is_frozen_scipy_like():
    r = symmetry_test(np.arange(1.0, 21.0) - 10.3, method="sign")
    stat, p = r
    assert (stat, p) == (r.statistic, r.pvalue)
    assert isinstance(r, TestResult) and r.method == "sign" and r.summary.endswith(".")
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.pvalue = 0.5  # type: ignore[misc]
    assert set(r.as_dict()) == {"statistic", "pvalue", "method", "summary", "details"}


# ---------------------------------------------------------------- symmetry
def test_sign_test_is_the_exact_binomial():
    x = np.concatenate([np.full(62, 1.5), -np.full(38, 0.5), np.zeros(7)])
    r = symmetry_test(x, 0.0, "sign")
    pmf = stats.binom.pmf(np.arange(101), 100, 0.5)
    exact = pmf[pmf <= pmf[62] * (1 + 1e-9)].sum()  # two-sided exact p by definition
    assert r.pvalue == pytest.approx(exact, rel=1e-9)
    assert r.statistic == pytest.approx(0.62)
    assert r.details["n_at_center"] == 7
    assert symmetry_test(x - 2.0, 0.0, "sign").statistic == pytest.approx(0.0)  # center matters


def test_flip_tests_are_exact_under_symmetry():
    """With B = 19 flips an exact randomization p-value is uniform on {1/20, ..., 1}."""
    ps = {m: [] for m in ("flip-ks", "flip-cvm", "skewness")}
    for seed in range(300):
        g = np.random.default_rng(seed)
        x = np.abs(g.standard_t(3, 60)) * g.choice([-1.0, 1.0], 60)  # symmetric, heavy tails
        for m, p in symmetry_pvalues(x, 0.0, tuple(ps), 19, g).items():
            ps[m].append(p)
    for m, v in ps.items():
        rate = np.mean(np.array(v) <= 0.25)
        assert abs(rate - 0.25) < 0.075, (m, rate)  # 3 SE of 300 Bernoulli(0.25)


def test_symmetry_detects_sign_imbalance_and_skew(dn5k):
    tilted = sim.with_sign_imbalance(dn5k, 0.56, random_state=1)
    assert symmetry_test(tilted, 0.0, "sign").pvalue < 1e-6
    assert symmetry_test(tilted, 0.0, "flip-cvm", n_resamples=199, random_state=0).pvalue <= 0.01
    assert symmetry_test(dn5k, 0.0, "flip-cvm", n_resamples=199, random_state=0).pvalue > 0.05
    dist = stats.skewnorm(4.0)
    skewed = dist.rvs(size=3000, random_state=2) - dist.median()
    assert symmetry_test(skewed, 0.0, "skewness", n_resamples=199, random_state=0).pvalue <= 0.01
    assert symmetry_test(skewed, 0.0, "flip-ks", n_resamples=199, random_state=0).pvalue <= 0.01
    assert symmetry_test(skewed, 0.0, "sign").pvalue > 0.01  # balanced at its median: no sign signal


def test_symmetry_about_an_estimated_center(dn5k):
    shifted = dn5k + 0.05
    assert abs(midquantile(shifted) - 0.05) < 0.005  # stable although the density is ~0 there
    r = symmetry_test(shifted, "midquantile", "flip-cvm", n_resamples=99, random_state=0)
    assert r.pvalue > 0.05 and r.details["estimated_center"] == pytest.approx(0.05, abs=0.005)
    assert symmetry_test(shifted, 0.0, "flip-ks", n_resamples=99, random_state=0).pvalue <= 0.01
    skewed = np.random.default_rng(3).gamma(2.0, 1.0, 2000)
    assert symmetry_test(skewed, "median", "flip-ks", n_resamples=99, random_state=0).pvalue <= 0.05
    logistic = np.random.default_rng(4).logistic(5.0, 1.0, 2000)
    assert symmetry_test(logistic, "median", "flip-ks", n_resamples=99, random_state=0).pvalue > 0.05


def test_median_at_a_hole_is_flagged():
    x = sim.hard_hole(2000, quantile=0.5, random_state=5)
    r = symmetry_test(x, "median", "skewness", n_resamples=49, random_state=0)
    assert "warning" in r.details and "midquantile" in r.summary


# ---------------------------------------------------------------- modes
def test_mode_mask_counts_known_modes():
    grid = np.linspace(-6, 6, 2001)
    dens = sum(w * stats.norm.pdf(grid, m, 0.4) for m, w in [(-3, 1), (-1, 3), (1, 3), (3, 1)])
    assert _kde.count_modes_rows(dens[None], grid, -5, 5)[0] == 4
    assert _kde.count_modes_rows(dens[None], grid, -2, 2)[0] == 2  # counted inside the interval only
    flat_top = np.minimum(stats.norm.pdf(grid), 0.3)
    assert _kde.count_modes_rows(flat_top[None], grid, -5, 5)[0] == 1


def test_critical_bandwidths_decrease_with_k(dn5k):
    lo, hi = _kde.central_interval(dn5k, 0.98)
    grid = _kde.analysis_grid(lo, hi)
    h = _kde.critical_bandwidths(dn5k, [1, 2, 3, 4, 5, 6], grid, lo, hi)
    assert all(h[k] >= h[k + 1] for k in range(1, 6))
    # at h_k there are at most k modes, just below it more than k
    for k in (1, 2, 4):
        at, below = _kde.mode_counts_by_bandwidth(dn5k, grid, lo, hi, np.array([h[k], 0.97 * h[k]]))
        assert at <= k < below


def test_hall_york_lambda():
    assert hall_york_lambda(0.05) == pytest.approx(1.13, abs=0.005)
    assert hall_york_lambda(0.01) > hall_york_lambda(0.05) > 1.0


def test_count_modes_known_truth(four):
    assert count_modes(np.random.default_rng(0).standard_normal(1000), n_boot=99) == 1
    assert count_modes(sim.gaussian_mixture(1000, (-2.5, 2.5), random_state=1), n_boot=99) == 2
    assert count_modes(four, n_boot=99) == 4


def test_mode_tests_reject_false_and_keep_true_hypotheses(four):
    normal = np.random.default_rng(7).standard_normal(1000)
    bimodal = sim.gaussian_mixture(1000, (-2.0, 2.0), random_state=7)
    for method in ("silverman-hy", "excess-mass"):
        assert mode_test(bimodal, 1, method, n_boot=99, random_state=0).pvalue <= 0.05, method
        assert mode_test(normal, 1, method, n_boot=99, random_state=0).pvalue > 0.05, method
    r = mode_test(four, 2, n_boot=99, random_state=0)
    assert r.pvalue <= 0.05 and r.details["modes_at_critical_bandwidth"] == 2
    assert mode_test(four, 4, n_boot=99, random_state=0).pvalue > 0.05
    pv = mode_pvalues_raw(four, [1, 2, 3, 4], n_boot=49, rng=np.random.default_rng(0))["silverman-hy"]
    assert count_from_pvalues(pv, 0.05, 4) == 4


def test_excess_mass_gain_sees_a_second_bump():
    probs = np.zeros((2, 100))
    probs[0, 20:40] = 1.0  # one block
    probs[1, 20:40], probs[1, 60:70] = 1.0, 1.0  # two blocks: a second interval gains mass
    probs /= probs.sum(axis=1, keepdims=True)
    gain = excess_mass_gain(probs, 1)
    assert gain[0] == pytest.approx(0.0, abs=1e-12) and gain[1] > 0.2


def test_dip_test(four):
    g = np.random.default_rng(8)
    assert dip_test(g.uniform(size=2000)).pvalue > 0.05
    assert dip_test(np.concatenate([g.normal(-3, 1, 500), g.normal(3, 1, 500)])).pvalue < 0.01
    assert dip_test(four, absolute=True).pvalue < 0.01  # |x| bimodal: >= 4 modes in x
    assert dip_test(g.standard_normal(4000), absolute=True).pvalue > 0.05
    assert mode_test(four, 1, "dip").method == "dip"


def test_shape_verdict_on_dn_and_normal(four):
    v = shape_verdict(four, n_boot=40, n_test_boot=49, random_state=0)
    assert v.n_modes == 4 and len(v.modes) == 4
    assert v.claims["four_peaks"]["holds"] and v.claims["middle_two_higher"]["holds"]
    assert v.claims["hole_near_zero"]["holds"] and v.claims["rough_symmetry"]["holds"] and v.matches_paper
    locs = [m["location"] for m in v.modes]
    assert locs == pytest.approx([-3.0, -1.0, 1.0, 3.0], abs=0.1)
    assert v.as_dict()["n_modes"] == 4
    w = shape_verdict(np.random.default_rng(9).standard_normal(2000), n_boot=40, n_test_boot=49)
    assert w.n_modes == 1 and not w.matches_paper and not w.claims["hole_near_zero"]["holds"]


# ---------------------------------------------------------------- two-sample
@pytest.mark.filterwarnings("ignore:p-value capped")
def test_compare_statistics_match_scipy():
    g = np.random.default_rng(10)
    x, y = g.standard_normal(150), 1.2 * g.standard_normal(110) + 0.2
    obs, _ = compare_pvalues(x, y, None, COMPARE_METHODS, 19, g)
    assert obs["ks"] == pytest.approx(stats.ks_2samp(x, y).statistic)
    assert obs["energy"] == pytest.approx(stats.energy_distance(x, y))
    assert obs["wasserstein"] == pytest.approx(stats.wasserstein_distance(x, y))
    x2 = g.standard_normal(150)
    obs2, _ = compare_pvalues(x2, y, None, ("ad",), 19, g)
    s1 = stats.anderson_ksamp([x, y], variant="continuous").statistic
    s2 = stats.anderson_ksamp([x2, y], variant="continuous").statistic
    # scipy reports (A2 - 1) / sigma_N; sigma_N depends only on the sample sizes
    assert (s1 - s2) / (obs["ad"] - obs2["ad"]) == pytest.approx(s1 / (obs["ad"] - 1.0), rel=1e-6)


def test_permutation_pvalues_are_valid():
    """Under H0 a permutation p-value with B = 19 is uniform on {1/20, ..., 1} (raw), ~ (standardized)."""
    raw, std = [], []
    for seed in range(200):
        g = np.random.default_rng(seed)
        x, y = g.laplace(size=40), g.laplace(size=30)
        raw.append(compare_pvalues(x, y, None, ("ks", "energy"), 19, g)[1])
        std.append(compare_pvalues(x, 2.0 * y, "std", ("ks", "energy"), 19, g)[1])
    for m in ("ks", "energy"):
        assert abs(np.mean([p[m] <= 0.25 for p in raw]) - 0.25) < 0.09, m
        assert abs(np.mean([p[m] <= 0.25 for p in std]) - 0.25) < 0.09, m


def test_compare_scale_only_difference(dn5k):
    other = 1.4 * sim.pruned_dn(5000, drift=1.0, random_state=12)
    assert compare_distributions(dn5k, other, method="ks", n_resamples=99, random_state=0).pvalue <= 0.01
    for how in ("std", "iqr", (1.0, 1.4)):
        r = compare_distributions(dn5k, other, standardize=how, method="ks", n_resamples=99, random_state=0)
        assert r.pvalue > 0.05, how
    # the shapes differ only a little once each is scaled by its std: at n = 5,000 the energy
    # test finds it in ~1 of 5 simulated pairs, at n = 20,000 in (nearly) all
    fc1 = sim.pruned_dn(20000, drift=1.0, random_state=11)
    lenet = sim.pruned_dn(20000, layers=sim.LENET5_LAYERS, drift=1.0, random_state=12)
    assert compare_distributions(fc1, lenet, "std", "energy", n_resamples=99, random_state=0).pvalue <= 0.05
    same = compare_distributions(dn5k, dn5k.copy(), method="ks", n_resamples=19, random_state=0)
    assert same.statistic == 0.0 and same.pvalue == 1.0


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "call",
    [
        lambda: symmetry_test([]),
        lambda: symmetry_test([1.0, np.nan] * 10),
        lambda: symmetry_test([1.0, np.inf] * 10),
        lambda: symmetry_test(np.ones(50)),
        lambda: symmetry_test([1.0, -1.0]),
        lambda: symmetry_test(np.arange(20.0), method="wilcoxon"),
        lambda: symmetry_test(np.arange(20.0), center="mean"),
        lambda: symmetry_test(np.arange(20.0), center="median", method="sign"),
        lambda: symmetry_test(np.arange(20.0), n_resamples=5),
        lambda: mode_test(np.arange(10.0), 1),
        lambda: mode_test(np.random.default_rng(0).standard_normal(100), 0),
        lambda: mode_test(np.random.default_rng(0).standard_normal(100), 2, "dip"),
        lambda: mode_test(np.random.default_rng(0).standard_normal(100), 1, "bimodality"),
        lambda: count_modes(np.full(100, 3.0)),
        lambda: dip_test([0.0, np.nan, 1.0, 2.0]),
        lambda: dip_test([]),
        lambda: compare_distributions(np.arange(10.0), []),
        lambda: compare_distributions(np.arange(10.0), np.arange(10.0), standardize="sd"),
        lambda: compare_distributions(np.arange(10.0), np.arange(10.0), standardize=(1.0, -2.0)),
        lambda: compare_distributions(np.arange(10.0), np.arange(10.0), method="t"),
        lambda: shape_verdict(np.arange(20.0)),
    ],
)
def test_bad_input_raises_one_sentence(call):
    with pytest.raises(ValueError) as err:
        call()
    msg = str(err.value)
    assert msg and "\n" not in msg


# ---------------------------------------------------------------- shelf densities: per-sample mode counts
SHELF_TRUTH = {"cliffs": (4, 4), "stairs": (2, 2), "hole": (2, 2), "divot": (2, 2), "unequal": (6, 4)}


@pytest.mark.parametrize("name", sorted(SHELF_TRUTH))
def test_shelf_shapes_have_their_modes_by_construction(name):
    """Count the modes of the exact density on a fine grid, independently of `shelf_modes`."""
    shelves = sim.SHELF_SCENARIOS[name]
    top = max(hi for _, hi, _ in shelves)
    grid = np.linspace(-1.1 * top, 1.1 * top, 200_001)
    f = sim.shelf_density(grid, shelves)
    assert np.sum(f) * (grid[1] - grid[0]) == pytest.approx(1.0, abs=1e-3)
    # plateaus = runs of equal density; a mode = a positive run higher than both neighbouring runs
    change = np.nonzero(np.abs(np.diff(f)) > 1e-9)[0]
    starts = np.concatenate([[0], change + 1])
    runs = f[starts]
    padded = np.concatenate([[0.0], runs, [0.0]])
    is_mode = (runs > 0) & (runs > padded[:-2]) & (runs > padded[2:])
    mids = 0.5 * (grid[starts] + grid[np.concatenate([change, [grid.size - 1]])])
    lo, hi = sim.shelf_quantile(0.01, shelves), sim.shelf_quantile(0.99, shelves)
    on_line, inside = SHELF_TRUTH[name]
    assert is_mode.sum() == on_line == len(sim.shelf_modes(shelves))
    assert np.sum(is_mode & (mids >= lo) & (mids <= hi)) == inside == len(sim.shelf_modes(shelves, (lo, hi)))
    # unambiguous in the counting interval: each mode plateau is >= 85% inside it or wholly outside
    for a, b in sim.shelf_modes(shelves):
        share = max(0.0, min(b, hi) - max(a, lo)) / (b - a)
        assert share >= 0.85 or share == 0.0
    x = sim.shelf_sample(4000, shelves, random_state=3)  # the sampler draws that density
    assert stats.kstest(x, lambda t: sim.shelf_cdf(np.asarray(t), shelves)).pvalue > 0.01


def test_shelf_truth_rules():
    """A flat top is one mode, a step down none, a hole at 0 or a divot between shelves makes two."""
    assert len(sim.shelf_modes(((0.0, 1.0, 1.0),))) == 1
    assert len(sim.shelf_modes(((0.0, 1.0, 0.5), (0.0, 2.0, 0.5)))) == 1  # step down outwards
    assert len(sim.shelf_modes(((0.2, 1.0, 1.0),))) == 2  # hard hole
    assert len(sim.shelf_modes(((0.0, 0.2, 0.05), (0.2, 1.0, 0.95)))) == 2  # soft divot
    with pytest.raises(ValueError):
        sim.shelf_sample(10, ((1.0, 0.5, 1.0),))


def test_merge_counter_on_separated_shelves():
    from dn_analysis.stats.modes import merged_modes

    m = merged_modes(sim.shelf_sample(28_000, sim.SHELF_CLIFFS, random_state=0))
    assert m["n_modes"] == 4
    assert np.sort(m["locations"]) == pytest.approx([-1.6, -0.625, 0.625, 1.6], abs=0.3)
    assert merged_modes(sim.shelf_sample(5000, sim.SHELF_HOLE, random_state=0))["n_modes"] == 2
    assert merged_modes(np.random.default_rng(0).uniform(-1, 1, 20_000))["n_modes"] == 1  # flat top
    assert merged_modes(np.random.default_rng(0).standard_normal(20_000))["n_modes"] == 1


def test_merge_counter_error_matches_the_calibration():
    """Re-simulate one shelf case with fresh seeds; its error rate must match the recorded one
    within 3 binomial standard errors of the difference of the two rates."""
    import json
    from pathlib import Path

    from dn_analysis.stats.modes import MERGE_Z, merged_modes

    path = Path(__file__).resolve().parent.parent / "docs" / "calibration" / "calibration.json"
    rows = json.loads(path.read_text())["rows"]
    row = next(r for r in rows if r["experiment"] == "shelf-cliffs-5k" and r["method"] == f"merge z={MERGE_Z:g}")
    m = 200
    right = np.mean([merged_modes(sim.shelf_sample(5000, sim.SHELF_CLIFFS, random_state=10_000 + i))["n_modes"]
                     == row["true_modes"] for i in range(m)])
    r = row["right"]
    se = np.sqrt(max(r * (1 - r), 1.0 / row["reps"]) * (1.0 / m + 1.0 / row["reps"]))
    assert abs(right - r) <= 3 * se, (right, r, se)
