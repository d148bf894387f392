"""paired.csv's statistics: per-trial metrics, the paired t interval, the exact sign-flip test.

The references are independent: scipy's paired t test and t interval, a brute-force sign-flip
enumeration, and metric values worked out by hand from a few metric rows. The calibration
checks simulate the null and a known shift and compare the rejection rate with its exact value,
with a tolerance derived from the Monte-Carlo error (binomial), not tuned.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from results.paired import (
    MIN_SIGNFLIP_TRIALS,
    TARGET_DROP,
    paired_rows,
    paired_summary,
    signflip_pvalue,
    trial_metrics,
)

EXP = "toy"


def _rows(condition: str, trial: int, accs: list[float], losses: list[float] | None = None,
          round_: int = 1, density: float = 0.262) -> list[dict]:
    losses = losses or [1.0 / (e + 1) for e in range(len(accs))]
    return [{"experiment": EXP, "model": "m", "dataset": "d", "condition": condition, "round": round_,
             "density": density, "trial": trial, "epoch": e + 1, "train_loss": loss, "test_loss": loss,
             "test_acc": acc} for e, (acc, loss) in enumerate(zip(accs, losses, strict=True))]


def test_signflip_is_the_exact_enumeration():
    rng = np.random.default_rng(1)
    for n in (5, 6, 8):
        d = rng.normal(0.3, 1.0, n)
        brute = sum(abs(np.dot(s, d)) >= abs(d.sum()) - 1e-12 for s in itertools.product((1, -1), repeat=n))
        assert signflip_pvalue(d) == brute / 2**n
    # five trials all on one side: the smallest two-sided p-value five trials can give is 2/32
    assert signflip_pvalue(np.array([0.1, 0.2, 0.3, 0.4, 0.5])) == 2 / 32


def test_paired_summary_is_scipys_paired_t():
    rng = np.random.default_rng(2)
    a, b = rng.normal(0.0, 1.0, 7), rng.normal(0.4, 1.0, 7)
    s = paired_summary(b - a)
    test = stats.ttest_rel(b, a)
    lo, hi = test.confidence_interval(0.95)
    assert s["mean_diff"] == pytest.approx(np.mean(b - a))
    assert (s["ci_low"], s["ci_high"]) == (pytest.approx(lo), pytest.approx(hi))
    assert s["p_value"] == pytest.approx(test.pvalue)
    assert s["p_signflip"] == signflip_pvalue(b - a)
    few = paired_summary(np.array([0.1, 0.2, 0.3, 0.4]))
    assert MIN_SIGNFLIP_TRIALS == 5 and math.isnan(few["p_signflip"]) and math.isfinite(few["p_value"])
    one = paired_summary(np.array([0.1]))
    assert one["mean_diff"] == 0.1 and math.isnan(one["ci_low"]) and math.isnan(one["p_value"])


def test_trial_metrics_by_hand():
    rows = _rows("full", 0, [0.90, 0.95, 0.94], round_=0, density=1.0)
    rows += _rows("full", 1, [0.91, 0.93, 0.97], round_=0, density=1.0)
    rows += _rows("pruned-26", 0, [0.80, 0.93, 0.92], losses=[0.5, 0.2, 0.3])
    rows += _rows("pruned-26", 1, [0.80, 0.85, 0.90])
    m = trial_metrics(rows)
    target = (0.95 + 0.97) / 2 - TARGET_DROP  # the dense net's trial-mean max accuracy minus 0.5 points
    assert target == pytest.approx(0.955)
    # 0.93 never reaches 0.955: censored at epochs + 1
    assert m[(EXP, "pruned-26")][0] == {"max_acc": 0.93, "final_acc": 0.92, "min_loss": 0.2, "epochs_to_target": 4.0}
    assert m[(EXP, "full")][1]["epochs_to_target"] == 3.0


def test_paired_rows_pair_within_trials():
    """mean_diff is the mean of within-trial differences, for each reference and metric."""
    rng = np.random.default_rng(3)
    rows: list[dict] = []
    base = rng.uniform(0.8, 0.9, 5)  # a per-trial effect shared by the trial's conditions
    for t in range(5):
        rows += _rows("full", t, list(base[t] + rng.uniform(0, 0.05, 4)), round_=0, density=1.0)
        rows += _rows("pruned-26", t, list(base[t] + rng.uniform(0, 0.05, 4)))
        rows += _rows("reinit-26", t, list(base[t] - 0.02 + rng.uniform(0, 0.05, 4)))
    table = paired_rows(rows)
    per = trial_metrics(rows)
    got = {(r["condition"], r["reference"], r["metric"]): r for r in table}
    assert set(got) == {(c, ref, m) for c, ref in (("pruned-26", "full"), ("reinit-26", "pruned-26"),
                                                     ("reinit-26", "full"))
                        for m in ("max_acc", "final_acc", "min_loss", "epochs_to_target")}
    for (cond, ref, metric), r in got.items():
        diffs = np.array([per[(EXP, cond)][t][metric] - per[(EXP, ref)][t][metric] for t in range(5)])
        assert r["n_trials"] == 5 and r["density"] == 0.262
        assert r["mean_diff"] == pytest.approx(diffs.mean()) and r["p_signflip"] == signflip_pvalue(diffs)


def _reject_rate(shift: float, reps: int, seed: int, heavy: bool = False) -> tuple[float, float]:
    """Share of simulated 5-trial experiments whose paired t p (and sign-flip p) is <= 0.05.

    The scenario is the calibration's (`dn_analysis.stats.calibrate._paired`): each trial has its
    own level shared by its two conditions, as θ0 and the data order are.
    """
    from dn_analysis.stats.calibrate import _paired

    run, rng = _paired(shift, heavy), np.random.default_rng(seed)
    ps = [run(rng, 5, 0) for _ in range(reps)]
    return (float(np.mean([p["paired-t"] <= 0.05 for p in ps])),
            float(np.mean([p["sign-flip"] <= 0.05 for p in ps])))


def test_the_paired_t_test_holds_its_level_and_has_its_power():
    reps = 4000
    # the Monte-Carlo error of a rate r over `reps` experiments; 4.5 sigma keeps a false alarm below 1e-5
    tol = lambda r: 4.5 * math.sqrt(r * (1 - r) / reps)  # noqa: E731
    rate, flip = _reject_rate(0.0, reps, seed=10)
    assert abs(rate - 0.05) < tol(0.05)  # exact level under a Gaussian null
    assert flip == 0.0  # five trials: the sign-flip p-value cannot go below 2/32
    heavy, _ = _reject_rate(0.0, reps, seed=11, heavy=True)
    assert heavy < 0.05 + tol(0.05)  # t(3) differences: the t test stays at or below its level
    # a shift of 1.5 sd of the differences: power from the noncentral t, 5 trials
    power = float(stats.nct.sf(stats.t.ppf(0.975, 4), 4, 1.5 * math.sqrt(5))
                  + stats.nct.cdf(-stats.t.ppf(0.975, 4), 4, 1.5 * math.sqrt(5)))
    rate, _ = _reject_rate(1.5, reps, seed=12)
    assert abs(rate - power) < tol(power)
