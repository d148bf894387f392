"""Trial-level comparisons of conditions for the report, from metrics.csv rows.

Within a run, conditions are paired by trial (they share θ0 and the data order), so a
comparison is the mean of the per-trial differences with a 95% t interval: the same function
that writes paired.csv (`results.paired.paired_summary`). Between runs (another protocol) trials
are not paired: Welch's t interval of the difference of means.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from reports.runs import ExperimentStatus
from results.labels import Label
from results.paired import LEVEL, paired_summary, trial_metrics

PAIRED = "paired over trials (mean of per-trial differences, 95% t interval)"
WELCH = "between runs (difference of trial means, Welch 95% t interval)"


def per_trial(exp: ExperimentStatus) -> dict[str, dict[int, dict[str, float]]]:
    """{condition: {trial: {metric: value}}} (max_acc, final_acc, min_loss, epochs_to_target)."""
    cached = exp.__dict__.get("_per_trial")
    if cached is None:
        cached = exp.__dict__["_per_trial"] = {cond: v for (_, cond), v in trial_metrics(exp.rows).items()}
    return cached


def paired(exp: ExperimentStatus, condition: str, reference: str, metric: str = "max_acc") -> dict | None:
    """condition - reference over the trials both have; None when either is missing."""
    m = per_trial(exp)
    if condition not in m or reference not in m:
        return None
    trials = sorted(set(m[condition]) & set(m[reference]))
    diffs = np.array([m[condition][t][metric] - m[reference][t][metric] for t in trials])
    diffs = diffs[np.isfinite(diffs)]
    return {"condition": condition, "reference": reference, "metric": metric, "n_trials": int(diffs.size),
            **paired_summary(diffs)}


def welch(a: ExperimentStatus, b: ExperimentStatus, condition: str, metric: str = "max_acc") -> dict | None:
    """mean over a's trials - mean over b's trials of one condition's metric, Welch interval."""
    ma, mb = per_trial(a).get(condition), per_trial(b).get(condition)
    if not ma or not mb:
        return None
    x = np.array([v[metric] for v in ma.values()])
    y = np.array([v[metric] for v in mb.values()])
    diff = float(x.mean() - y.mean())
    out = {"condition": condition, "metric": metric, "n_a": int(x.size), "n_b": int(y.size), "mean_diff": diff,
           "ci_low": math.nan, "ci_high": math.nan}
    if x.size < 2 or y.size < 2:
        return out
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = math.sqrt(va + vb)
    if se == 0:
        out.update(ci_low=diff, ci_high=diff)
        return out
    df = (va + vb) ** 2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1))
    half = float(stats.t.ppf(0.5 + LEVEL / 2, df)) * se
    out.update(ci_low=diff - half, ci_high=diff + half)
    return out


def direction(row: dict | None) -> str:
    """'above' (interval > 0), 'below' (< 0) or 'across' (contains 0, or no interval)."""
    if row is None:
        return "missing"
    lo, hi = row.get("ci_low"), row.get("ci_high")
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return "across"
    return "above" if lo > 0 else "below" if hi < 0 else "across"


def levels(exp: ExperimentStatus) -> list[str]:
    """Sparsity suffixes ('26', '10') of the ticket rounds, densest first."""
    suffixes = {str(pct) for c in exp.expected_conditions if (pct := Label.split(c)[1]) is not None}
    return sorted(suffixes, key=int, reverse=True)


def density_of(exp: ExperimentStatus, level: str) -> float | None:
    for s in exp.summary:
        if s["condition"] == Label.named("pruned", level):
            return float(s["density"])
    return None
