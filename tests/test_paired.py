"""paired.csv's statistics: per-trial metrics, the paired t interval, the exact sign-flip test,
the named contrasts, Holm within families, TOST at the margin, verdicts and censoring.

The references are independent: scipy's paired t test and t interval, a brute-force sign-flip
enumeration, metric values worked out by hand from a few metric rows, Holm and TOST written out by
hand (and statsmodels' TOST), a Kaplan-Meier median by hand. The calibration checks simulate the
null and a known shift and compare the rejection rate with its exact value or bound, with a
tolerance derived from the Monte-Carlo error (binomial), not tuned.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from results.contrasts import CONTRASTS, MARGINS, holm, km_median, pairs, tost_pvalue, verdict
from results.paired import (
    METRICS,
    MIN_SIGNFLIP_TRIALS,
    TARGET_DROP,
    paired_rows,
    paired_summary,
    signflip_pvalue,
    trial_metrics,
)
from results.schema import PAIRED_COLUMNS

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
    assert m[(EXP, "pruned-26")][0] == {"max_acc": 0.93, "final_acc": 0.92, "min_loss": 0.2, "epochs_to_target": 4.0,
                                        "target_reached": 0.0}
    assert m[(EXP, "full")][1]["epochs_to_target"] == 3.0 and m[(EXP, "full")][1]["target_reached"] == 1.0


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
        assert set(r) == set(PAIRED_COLUMNS)
        if r["n_censored"]:
            continue  # censored epochs_to_target: no t statistics (test_censored_rows_get_no_t_interval)
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


# ------------------------------------------------------------------ contrasts, Holm, TOST, censoring

def _holm_by_hand(ps: list[float]) -> list[float]:
    """Holm: the i-th smallest p times (k - i + 1), a running maximum in that order, capped at 1."""
    order = sorted(range(len(ps)), key=lambda i: ps[i])
    out, running = [0.0] * len(ps), 0.0
    for rank, i in enumerate(order):
        running = max(running, (len(ps) - rank) * ps[i])
        out[i] = min(1.0, running)
    return out


def _run(conditions: dict[str, float], trials: int = 5, seed: int = 4, noise: float = 0.003) -> list[dict]:
    """metrics rows of `conditions` ({label: shift of its accuracy}), every trial with its own level."""
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    for t in range(trials):
        level = rng.uniform(0.85, 0.9)
        for label, shift in conditions.items():
            dense = label == "full"
            rows += _rows(label, t, list(level + shift + rng.normal(0, noise, 4)), round_=0 if dense else 1,
                          density=1.0 if dense else 0.262)
    return rows


def test_contrasts_are_named_once_with_their_family():
    labels = {(name, r): name if r == 0 else f"{name}-26" for name, r in
              [("full", 0), ("pruned", 1), ("reinit", 1), ("rand-init", 1), ("keep-sign", 1), ("sign-dtheta", 1),
               ("layer-reinit", 1), ("dense-dn-scaled", 1)]}
    got = {(p.condition, p.reference): (p.contrast, p.kind) for p in pairs(labels)}
    assert len(got) == len(pairs(labels))  # each (condition, reference) once
    assert got[("reinit-26", "pruned-26")] == ("vs-ticket", "vs-ticket")
    assert got[("reinit-26", "full")] == ("vs-full", "vs-full")
    assert got[("pruned-26", "full")] == ("vs-full", "vs-full") and ("pruned-26", "pruned-26") not in got
    assert not any(c == "full" for c, _ in got)
    assert got[("reinit-26", "rand-init-26")] == ("reinit vs rand-init", "controls")
    assert got[("layer-reinit-26", "reinit-26")] == ("layer-reinit vs reinit", "controls")
    assert got[("keep-sign-26", "sign-dtheta-26")] == ("keep-sign vs sign-dtheta", "controls")
    # a generic pair named by a contrast: made once, under the contrast's name and family
    assert got[("dense-dn-scaled-26", "full")] == ("dense-dn-scaled vs full", "controls")
    assert ("keep-sign-26", "keep-magnitude-26") not in got  # keep-magnitude did not run
    assert ("keep-sign", "keep-magnitude") in CONTRASTS


def test_holm_by_hand():
    assert list(holm([0.01, 0.04, 0.03])) == pytest.approx([0.03, 0.06, 0.06])
    assert list(holm([0.6, 0.7])) == [1.0, 1.0]
    nan = holm([0.01, math.nan, 0.04])  # a row without a p-value is not in the family
    assert nan[0] == pytest.approx(0.02) and math.isnan(nan[1]) and nan[2] == pytest.approx(0.04)
    rng = np.random.default_rng(5)
    for k in (1, 2, 7):
        ps = list(rng.uniform(0, 0.2, k))
        assert list(holm(ps)) == pytest.approx(_holm_by_hand(ps))


def test_p_holm_is_holm_within_family_and_metric():
    rows = _run({"full": 0.0, "pruned-26": -0.002, "reinit-26": -0.004, "rand-init-26": -0.003,
                 "keep-sign-26": 0.0, "keep-magnitude-26": -0.005})
    table = paired_rows(rows)
    families = {r["family"] for r in table}
    assert families == {"vs-ticket/toy/1", "vs-full/toy/1", "controls/toy/1"}
    for fam, size in (("vs-ticket/toy/1", 4), ("vs-full/toy/1", 5), ("controls/toy/1", 2)):
        for metric in ("max_acc", "final_acc"):
            group = [r for r in table if r["family"] == fam and r["metric"] == metric]
            assert len(group) == size
            hand = _holm_by_hand([r["p_value"] for r in group])
            assert [r["p_holm"] for r in group] == pytest.approx(hand)
            assert all(r["p_holm"] >= r["p_value"] for r in group)
    controls = {r["contrast"] for r in table if r["family"] == "controls/toy/1"}
    assert controls == {"reinit vs rand-init", "keep-sign vs keep-magnitude"}


def test_tost_is_statsmodels_and_two_one_sided_t_tests():
    from statsmodels.stats.weightstats import ttost_paired

    rng = np.random.default_rng(6)
    for n, shift, margin in ((5, 0.001, 0.005), (8, 0.004, 0.005), (5, -0.003, 0.002)):
        ref = rng.normal(0.9, 0.05, n)
        cond = ref + shift + rng.normal(0, 0.002, n)
        p = tost_pvalue(cond, ref, margin)
        assert p == pytest.approx(ttost_paired(cond, ref, -margin, margin)[0])
        d = cond - ref
        se = d.std(ddof=1) / math.sqrt(n)
        above = stats.t.sf((d.mean() + margin) / se, n - 1)   # H0: mean <= -margin
        below = stats.t.cdf((d.mean() - margin) / se, n - 1)  # H0: mean >= +margin
        assert p == pytest.approx(max(above, below))
    ref = np.zeros(4)
    assert tost_pvalue(ref + 0.001, ref, 0.005) == 0.0 and tost_pvalue(ref + 0.01, ref, 0.005) == 1.0
    assert math.isnan(tost_pvalue(ref[:1], ref[:1], 0.005)) and math.isnan(tost_pvalue(ref, ref, math.nan))


def test_margins_declared_once_and_overridden_per_experiment():
    rows = _run({"full": 0.0, "pruned-26": -0.001})
    default = {r["metric"]: r for r in paired_rows(rows)}
    assert set(MARGINS) == set(METRICS)
    assert default["max_acc"]["margin"] == MARGINS["max_acc"] == 0.005
    assert math.isnan(default["min_loss"]["margin"]) and math.isnan(default["min_loss"]["p_tost"])
    per = trial_metrics(rows)
    x, y = (np.array([per[(EXP, c)][t]["max_acc"] for t in range(5)]) for c in ("pruned-26", "full"))
    assert default["max_acc"]["p_tost"] == pytest.approx(tost_pvalue(x, y, 0.005))
    own = {r["metric"]: r for r in paired_rows(rows, margins={EXP: {"max_acc": 0.001, "min_loss": 0.01},
                                                             "other": {"final_acc": 0.5}})}
    assert own["max_acc"]["margin"] == 0.001 and own["max_acc"]["p_tost"] == pytest.approx(tost_pvalue(x, y, 0.001))
    assert own["min_loss"]["margin"] == 0.01 and own["final_acc"]["margin"] == 0.005
    with pytest.raises(ValueError, match="margin"):
        paired_rows(rows, margins={EXP: {"max_acc": 0.0}})


def test_verdicts():
    base = {"n_trials": 5, "n_censored": 0, "mean_diff": -0.01, "p_holm": 0.01, "p_tost": 0.5}
    assert verdict(base) == "lower" and verdict({**base, "mean_diff": 0.01}) == "higher"
    assert verdict({**base, "p_tost": 0.01}) == "lower"  # resolved and inside the margin: its direction
    assert verdict({**base, "p_holm": 0.2, "p_tost": 0.01}) == "equivalent"
    assert verdict({**base, "p_holm": 0.2}) == "not resolved"
    assert verdict({**base, "p_holm": 0.2, "p_tost": math.nan}) == "not resolved"  # no margin
    assert verdict({**base, "n_trials": 1, "p_holm": math.nan, "p_tost": math.nan}) == "not resolved"
    assert verdict({**base, "n_censored": 2}) == "censored"
    # through paired_rows: a clear gap, a tie inside the margin, one trial
    table = paired_rows(_run({"full": 0.0, "pruned-26": -0.03, "keep-sign-26": -0.03}, noise=0.0005))
    got = {(r["condition"], r["reference"], r["metric"]): r["verdict"] for r in table}
    assert got[("pruned-26", "full", "max_acc")] == "lower"
    assert got[("keep-sign-26", "pruned-26", "max_acc")] == "equivalent"
    one = paired_rows(_run({"full": 0.0, "pruned-26": -0.03}, trials=1))
    assert {r["verdict"] for r in one if not r["n_censored"]} == {"not resolved"}


def test_km_median_by_hand():
    # S(3) = 4/5, S(5) = 4/5 * 3/4 = 0.6 (the trial censored at 5 is still at risk there), S(8) = 0.6 * 1/2
    assert km_median(np.array([3.0, 5, 5, 8, 9]), np.array([1, 1, 0, 1, 0])) == 8.0
    # no censoring: S = 3/4, 1/2, 1/4; statsmodels' (SAS) median is the first time with S < 1/2
    assert km_median(np.array([2.0, 4, 6, 8]), np.ones(4)) == 6.0
    assert math.isnan(km_median(np.array([3.0, 9, 9, 9]), np.array([1, 0, 0, 0])))  # fewer than half get there
    assert math.isnan(km_median(np.array([]), np.array([])))


def test_censored_rows_get_no_t_interval():
    """epochs_to_target with a trial that never reaches the target: counted, no t statistics, KM instead."""
    rows = []
    for t in range(5):
        rows += _rows("full", t, [0.90, 0.95, 0.96], round_=0, density=1.0)  # target 0.96 - 0.005
        rows += _rows("pruned-26", t, [0.90, 0.93, 0.96] if t < 3 else [0.90, 0.91, 0.92])  # 2 never reach
        rows += _rows("keep-sign-26", t, [0.90, 0.96, 0.96])
    table = {(r["condition"], r["reference"], r["metric"]): r for r in paired_rows(rows)}
    r = table[("pruned-26", "full", "epochs_to_target")]
    assert r["n_trials"] == 5 and r["n_censored"] == 2 and r["verdict"] == "censored"
    for col in ("mean_diff", "ci_low", "ci_high", "p_value", "p_signflip", "p_tost", "p_holm"):
        assert math.isnan(r[col]), col
    assert r["reached"] == 0.6 and r["reached_reference"] == 1.0
    assert r["km_median"] == 3.0 and r["km_median_reference"] == 3.0  # S(3) = 2/5 < 1/2
    k = table[("keep-sign-26", "pruned-26", "epochs_to_target")]
    assert k["n_censored"] == 2 and k["verdict"] == "censored" and (k["reached"], k["reached_reference"]) == (1.0, 0.6)
    assert k["km_median"] == 2.0
    clean = table[("keep-sign-26", "full", "epochs_to_target")]  # every trial reaches it: the paired t analysis
    assert clean["n_censored"] == 0 and clean["mean_diff"] == -1.0 and clean["verdict"] == "lower"
    assert clean["reached"] == 1.0 and clean["km_median"] == 2.0
    acc = table[("pruned-26", "full", "max_acc")]  # other metrics: no censoring columns
    assert acc["n_censored"] == 0 and math.isnan(acc["reached"]) and math.isfinite(acc["mean_diff"])


# ------------------------------------------------------------------ calibration of the verdicts

def _rates(run, reps: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    ps = [run(rng, 5, 0) for _ in range(reps)]
    return {m: float(np.mean([p[m] <= 0.05 for p in ps])) for m in ps[0]}


def _mc(rate: float, reps: int) -> float:
    """3 binomial standard errors of a Monte-Carlo rate over `reps` samples."""
    return 3 * math.sqrt(rate * (1 - rate) / reps)


@pytest.fixture
def no_gc_in_multipletests(monkeypatch):
    """statsmodels' Holm calls gc.collect() on every call (~25 ms); it changes no number."""
    import gc

    monkeypatch.setattr(gc, "collect", lambda *a: 0)


def test_holm_holds_the_family_wise_error_and_has_power(no_gc_in_multipletests):
    """The calibration's scenarios (`dn_analysis.stats.calibrate._holm_family`): ten conditions against one
    ticket, five trials. Under the null any rejection in the family is a family-wise error."""
    from dn_analysis.stats.calibrate import _holm_family

    reps = 2000
    null = _rates(_holm_family(10, 0.0), reps, seed=20)
    assert null["holm"] <= 0.05 + _mc(0.05, reps)
    assert null["unadjusted"] > 0.05 + _mc(0.05, reps)  # the multiplicity Holm corrects is there to correct
    # one condition 3 sd off: Holm rejects it at least when its p <= 0.05 / 10 (Bonferroni) and at most
    # when p <= 0.05; both are exact by the noncentral t (4 df, noncentrality 3 sqrt(5))
    reps, shift = 1000, 3.0
    ncp = shift * math.sqrt(5)
    power = {a: float(stats.nct.sf(stats.t.ppf(1 - a / 2, 4), 4, ncp) + stats.nct.cdf(-stats.t.ppf(1 - a / 2, 4), 4, ncp))
             for a in (0.005, 0.05)}
    alt = _rates(_holm_family(10, shift), reps, seed=21)
    assert power[0.005] - _mc(power[0.005], reps) <= alt["holm"] <= power[0.05] + _mc(power[0.05], reps)
    assert alt["unadjusted"] == pytest.approx(power[0.05], abs=max(_mc(power[0.05], reps), 1.0 / reps))
    assert alt["holm-nulls"] <= 0.05 + _mc(0.05, reps)


def test_tost_holds_its_size_on_the_margin():
    """True difference = the margin (either side): TOST must reject at most 5% of the time."""
    from dn_analysis.stats.calibrate import _tost

    reps = 2000
    on = _rates(_tost(0.005, 0.001), reps, seed=22)
    assert on["tost"] <= 0.05 + _mc(0.05, reps)
    inside = _rates(_tost(0.0, 0.001), 400, seed=23)  # no difference, sd 0.1 points: TOST resolves it
    assert inside["tost"] >= 0.95
