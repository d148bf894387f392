"""Trial-level helpers of the report: the ticket levels of an experiment, their densities, and the
one comparison that paired.csv cannot hold, the same condition in two runs.

Within a run, conditions are paired by trial and compared in paired.csv (`reports.verdicts` reads
its rows). Between runs (another protocol) trials are not paired: Welch's t interval and test of the
difference of trial means, on the per-trial metrics of `results.paired.trial_metrics`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from reports.runs import ExperimentStatus
from results.labels import Label
from results.paired import LEVEL, trial_metrics


def per_trial(exp: ExperimentStatus) -> dict[str, dict[int, dict[str, float]]]:
    """{condition: {trial: {metric: value}}} (max_acc, final_acc, min_loss, epochs_to_target)."""
    cached = exp.__dict__.get("_per_trial")
    if cached is None:
        cached = exp.__dict__["_per_trial"] = {cond: v for (_, cond), v in trial_metrics(exp.rows).items()}
    return cached


def welch(a: ExperimentStatus, b: ExperimentStatus, condition: str, metric: str = "max_acc") -> dict | None:
    """mean over a's trials - mean over b's trials of one condition's metric: Welch interval and p."""
    ma, mb = per_trial(a).get(condition), per_trial(b).get(condition)
    if not ma or not mb:
        return None
    x = np.array([v[metric] for v in ma.values()])
    y = np.array([v[metric] for v in mb.values()])
    diff = float(x.mean() - y.mean())
    out = {"condition": condition, "metric": metric, "n_a": int(x.size), "n_b": int(y.size), "mean_diff": diff,
           "ci_low": math.nan, "ci_high": math.nan, "p_value": math.nan}
    if x.size < 2 or y.size < 2:
        return out
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = math.sqrt(va + vb)
    if se == 0:
        out.update(ci_low=diff, ci_high=diff, p_value=1.0 if diff == 0 else 0.0)
        return out
    df = (va + vb) ** 2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1))
    half = float(stats.t.ppf(0.5 + LEVEL / 2, df)) * se
    out.update(ci_low=diff - half, ci_high=diff + half, p_value=float(2 * stats.t.sf(abs(diff) / se, df)))
    return out


def levels(exp: ExperimentStatus) -> list[str]:
    """Sparsity suffixes ('26', '10') of the ticket rounds, densest first."""
    suffixes = {str(pct) for c in exp.expected_conditions if (pct := Label.split(c)[1]) is not None}
    return sorted(suffixes, key=int, reverse=True)


def density_of(exp: ExperimentStatus, level: str) -> float | None:
    for s in exp.summary:
        if s["condition"] == Label.named("pruned", level):
            return float(s["density"])
    return None
