"""dn_analysis.trials: trial-level answers on synthetic networks (no training)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from dn_analysis.trials import ks_excess, shape_questions, sign_lean, t_interval, trial_shapes


def _four_peaked(n: int, rng: np.random.Generator, outer: float = 0.3) -> np.ndarray:
    """Tall inner peaks at ±0.8, lower outer peaks at ±1.8, a hole at 0."""
    k_out = int(outer * n)
    x = np.concatenate([rng.normal(0.8, 0.15, n - k_out), rng.normal(1.8, 0.15, k_out)])
    return x * rng.choice([-1.0, 1.0], x.size)


def test_t_interval_matches_scipy():
    v = [0.1, 0.3, 0.2, 0.25, 0.15]
    ci = t_interval(v)
    lo, hi = stats.t.interval(0.95, 4, loc=np.mean(v), scale=stats.sem(v))
    assert ci["ci_low"] == pytest.approx(lo) and ci["ci_high"] == pytest.approx(hi)
    assert ci["pvalue"] == pytest.approx(stats.ttest_1samp(v, 0).pvalue)
    one = t_interval([0.3])
    assert one["n"] == 1 and np.isnan(one["ci_low"])


def test_a_ratio_interval_stops_at_its_floor():
    """Skewed ratios (four near 0, one near 1) give a t interval below 0: cut at 0, the rest unchanged."""
    v = [0.002, 0.003, 0.001, 0.004, 0.95]
    free, cut = t_interval(v), t_interval(v, floor=0.0)
    assert free["ci_low"] < 0 and cut["ci_low"] == 0.0
    assert (cut["mean"], cut["ci_high"], cut["pvalue"]) == (free["mean"], free["ci_high"], free["pvalue"])
    tight = [0.3, 0.31, 0.29, 0.3, 0.32]
    assert t_interval(tight, floor=0.0) == t_interval(tight)


def test_sign_lean_uses_trials_not_weights():
    rng = np.random.default_rng(0)
    # every network leans positive by 2 points: 5 networks, 50k weights each
    xs = [np.where(rng.random(50_000) < 0.52, 1.0, -1.0) * rng.random(50_000) for _ in range(5)]
    lean = sign_lean(xs)
    assert lean["n"] == 5 and lean["verdict"] == "leans positive" and lean["paper_claim"] == "contradicted"
    assert 0.015 < lean["mean"] < 0.025
    # networks that lean both ways: the pooled weights lean, the population does not
    xs = [np.where(rng.random(50_000) < p, 1.0, -1.0) for p in (0.56, 0.45, 0.55, 0.46, 0.53)]
    assert sign_lean(xs)["verdict"] == "not resolved"


def test_shape_questions_on_four_peaks():
    rng = np.random.default_rng(1)
    xs = [_four_peaked(20_000, rng) for _ in range(4)]
    pooled = np.concatenate(xs)
    lo, hi = np.quantile(pooled, [0.01, 0.99])
    qs = {q["question"]: q for q in shape_questions(trial_shapes(xs, 0.08, lo, hi))}
    assert qs["number of modes"]["per_trial"] == [4, 4, 4, 4]
    assert qs["number of modes"]["paper_claim"] == "held"
    assert qs["four peaks"]["paper_claim"] == "held" and qs["four peaks"]["ci_low"] > 1
    assert qs["hole at zero"]["paper_claim"] == "held"
    assert qs["symmetry"]["paper_claim"] == "held", qs["symmetry"]


def test_ks_excess_scale_only_vs_other_shape():
    rng = np.random.default_rng(2)
    a = [_four_peaked(5000, rng) for _ in range(4)]
    b = [3.0 * _four_peaked(5000, rng) for _ in range(4)]  # same shape, other scale
    same = ks_excess(a, b)
    assert same["paper_claim"] == "not resolved", same
    c = [rng.normal(size=5000) for _ in range(4)]
    assert ks_excess(a, c)["paper_claim"] == "contradicted"


def test_a_question_no_trial_answers_says_so():
    from reports.dnstats import value

    assert value({"question": "symmetry", **t_interval([])}) == "not measured (no trial qualifies)"
    assert value({"question": "hole at zero", **t_interval([0.2, 0.3])}).endswith("(n=2)")


def test_ratios_are_reported_over_the_trials_where_defined():
    """Three four-peaked trials and one unimodal one: the four-peak ratio is over 3 of 4 trials."""
    from dn_analysis.stats import simulate as sim

    rng = np.random.default_rng(4)
    xs = [sim.shelf_sample(20_000, sim.SHELF_CLIFFS, random_state=rng) for _ in range(3)]
    xs.append(rng.uniform(-2.0, 2.0, 20_000))  # one flat top: one mode, no hole
    lo, hi = np.quantile(np.concatenate(xs), [0.01, 0.99])
    rows = trial_shapes(xs, 0.08, lo, hi, count="merge")
    assert [r["n_modes"] for r in rows] == [4, 4, 4, 1]
    assert {r["count_method"] for r in rows} == {"merge z=3"}
    qs = {q["question"]: q for q in shape_questions(rows)}
    assert all(q["n_trials"] == 4 for q in qs.values())
    assert qs["number of modes"]["n_defined"] == 4
    four = qs["four peaks"]
    assert four["n_defined"] == four["n"] == 3 == four["trials_with_4"] and "3 of 4 trials" in four["verdict"]
    assert four["paper_claim"] == "not resolved"  # not every trial shows 4 modes
    hole = qs["hole at zero"]
    assert hole["n_defined"] == hole["n"] == 3 and "3 of 4 trials" in hole["verdict"]
    assert hole["paper_claim"] == "held"
    assert qs["symmetry"]["n_defined"] == 3


def test_merge_count_is_stable_where_a_fixed_bandwidth_is_not():
    """Four shelves with cliffs: the merge rule says 4 in every trial; a small fixed bandwidth does not."""
    from dn_analysis.stats import simulate as sim

    rng = np.random.default_rng(5)
    xs = [sim.shelf_sample(28_000, sim.SHELF_CLIFFS, random_state=rng) for _ in range(5)]
    lo, hi = np.quantile(np.concatenate(xs), [0.01, 0.99])
    assert [r["n_modes"] for r in trial_shapes(xs, 0.0, lo, hi, count="merge")] == [4] * 5
    assert [r["n_modes"] for r in trial_shapes(xs, 0.03, lo, hi)] != [4] * 5
    with pytest.raises(ValueError):
        trial_shapes(xs, 0.03, lo, hi, count="nope")
