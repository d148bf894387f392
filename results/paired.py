"""Paired statistics over trials (paired.csv): each condition against the ticket, the dense net
and the controls that answer a named question (:mod:`results.contrasts`).

The trial is the unit of replication. A trial's conditions share θ0 and the data order
(common random numbers), so a condition is compared with a reference *within* each trial and
the differences are summarized over trials: their mean, a t interval, the paired t test's
p-value and, with 5 or more trials, the exact sign-flip (randomization) test's p-value. Each row
also names its contrast and family, the Holm-adjusted p within (family, metric), the TOST p at the
metric's equivalence margin and a verdict; censored epochs_to_target rows carry the share of trials
that reached the target and Kaplan-Meier medians instead of t statistics.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict

import numpy as np
from scipy import stats

from results import contrasts
from results.labels import condition_name
from results.schema import PAIRED_COLUMNS

__all__ = ["PAIRED_COLUMNS", "paired_rows", "paired_summary", "t_summary", "trial_metrics"]

METRICS = ("max_acc", "final_acc", "min_loss", "epochs_to_target")
TARGET_DROP = 0.005  # epochs_to_target: reach the dense net's mean max accuracy minus 0.5 points
LEVEL = 0.95
MIN_SIGNFLIP_TRIALS = 5


def trial_metrics(rows: list[dict]) -> dict[tuple[str, str], dict[int, dict[str, float]]]:
    """{(experiment, condition): {trial: {metric: value}}} from metrics.csv rows.

    `epochs_to_target` is the first epoch whose test accuracy reaches the experiment's dense
    (`full`) trial-mean max accuracy minus 0.5 points; a trial that never reaches it is
    censored at epochs + 1 (a lower bound) and has `target_reached` 0.0 (1.0 when reached).
    Both are NaN without a `full` run.
    """
    curves: dict[tuple[str, str], dict[int, list[tuple[int, float, float]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        curves[(r["experiment"], r["condition"])][int(r["trial"])].append(
            (int(r["epoch"]), float(r["test_acc"]), float(r["train_loss"])))
    out: dict[tuple[str, str], dict[int, dict[str, float]]] = {}
    for key, trials in curves.items():
        out[key] = {}
        for t, points in trials.items():
            points.sort()
            acc = np.array([p[1] for p in points])
            loss = np.array([p[2] for p in points])
            out[key][t] = {"max_acc": float(acc.max()), "final_acc": float(acc[-1]),
                           "min_loss": float(np.nanmin(loss)) if np.isfinite(loss).any() else math.nan,
                           "_curve": acc, "_epochs": np.array([p[0] for p in points])}
    for experiment in {k[0] for k in out}:
        full = out.get((experiment, "full"))
        target = np.mean([m["max_acc"] for m in full.values()]) - TARGET_DROP if full else math.nan
        for key, trials in out.items():
            if key[0] != experiment:
                continue
            for m in trials.values():
                reached = np.flatnonzero(m.pop("_curve") >= target)
                epochs = m.pop("_epochs")
                m["epochs_to_target"] = (math.nan if math.isnan(target) else
                                         float(epochs[reached[0]]) if reached.size else float(epochs[-1] + 1))
                m["target_reached"] = math.nan if math.isnan(target) else float(reached.size > 0)
    return out


def signflip_pvalue(diffs: np.ndarray) -> float:
    """Exact two-sided sign-flip p-value of mean(diffs) = 0 (all 2^n sign patterns)."""
    n = diffs.size
    observed = abs(diffs.mean())
    signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
    means = np.abs(signs @ diffs) / n
    return float(np.mean(means >= observed - 1e-12 * max(1.0, observed)))


def t_summary(values: np.ndarray, level: float = LEVEL) -> tuple[float, float, float, float]:
    """(mean, ci_low, ci_high, p) of one sample: the t interval and the one-sample t test against 0.

    The one formula for intervals over trials: paired.csv and the D_n trial statistics
    (`dn_analysis.trials.t_interval`) both use it. NaN interval and p with fewer than 2 values.
    """
    n = values.size
    mean = float(values.mean()) if n else math.nan
    if n < 2:
        return mean, math.nan, math.nan, math.nan
    sd = float(values.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    if sd == 0:
        p = 1.0 if mean == 0 else 0.0
    else:
        p = float(2 * stats.t.sf(abs(mean) / (sd / math.sqrt(n)), n - 1))
    return mean, mean - half, mean + half, p


def paired_summary(diffs: np.ndarray) -> dict[str, float]:
    """Mean, 95% t interval, paired t p-value and sign-flip p-value of per-trial differences."""
    mean, low, high, p = t_summary(diffs)
    return {"mean_diff": mean, "ci_low": low, "ci_high": high, "p_value": p,
            "p_signflip": signflip_pvalue(diffs) if diffs.size >= MIN_SIGNFLIP_TRIALS else math.nan}


def _ticket_density(rows: list[dict]) -> dict[tuple[str, int], float]:
    """Mean exact density of each (experiment, round)'s masks (1.0 for round 0)."""
    values: dict[tuple[str, int], list[float]] = defaultdict(list)
    for r in rows:
        if int(r["epoch"]) == 1 and float(r["density"]) < 1.0 or int(r["round"]) == 0:
            values[(r["experiment"], int(r["round"]))].append(float(r["density"]) if int(r["round"]) else 1.0)
    return {k: float(np.mean(v)) for k, v in values.items()}


NO_T = ("mean_diff", "ci_low", "ci_high", "p_value", "p_signflip", "p_tost")
CENSORING = ("reached", "reached_reference", "km_median", "km_median_reference")


def contrast_row(cond: dict[int, dict[str, float]], ref: dict[int, dict[str, float]], metric: str,
                 margin: float) -> dict:
    """The statistics of condition - reference on one metric over the trials both have.

    epochs_to_target with a censored trial (in either condition) gets no t statistics (NaN): only
    `n_censored`, the share of trials that reached the target and the Kaplan-Meier medians.
    """
    trials = sorted(set(cond) & set(ref))
    x, y = (np.array([side[t][metric] for t in trials], dtype=float) for side in (cond, ref))
    keep = np.isfinite(x - y)
    x, y = x[keep], y[keep]
    row = {"metric": metric, "n_trials": int(x.size), **paired_summary(x - y), "margin": margin,
           "p_tost": contrasts.tost_pvalue(x, y, margin), "n_censored": 0, **dict.fromkeys(CENSORING, math.nan)}
    if metric == "epochs_to_target":
        hit_x, hit_y = (np.array([side[t]["target_reached"] for t in trials])[keep] for side in (cond, ref))
        row.update(contrasts.censored_summary(x, hit_x, y, hit_y))
        if row["n_censored"]:
            row.update(dict.fromkeys(NO_T, math.nan))
    return row


def paired_rows(rows: list[dict], margins: dict[str, dict[str, float | None]] | None = None) -> list[dict]:
    """paired.csv: one row per experiment x contrast (condition, reference) x metric.

    `rows` are metrics.csv rows with their condition_name and round (``Run.metrics()`` fills them
    for tables written before those columns). `margins`: {experiment: {metric: margin}}, the
    equivalence margins an experiment declared, over :data:`results.contrasts.MARGINS`.
    """
    per_trial = trial_metrics(rows)
    kind = {(r["experiment"], r["condition"]): (condition_name(r), int(r["round"])) for r in rows}
    density = _ticket_density(rows)
    table = []
    for experiment in dict.fromkeys(k[0] for k in per_trial):
        names = list(dict.fromkeys(k[1] for k in per_trial if k[0] == experiment))
        for pair in contrasts.pairs({kind[(experiment, n)]: n for n in names}):
            for metric in METRICS:
                table.append({
                    "experiment": experiment,
                    "density": density.get((experiment, pair.round), math.nan),
                    "condition": pair.condition, "condition_name": kind[(experiment, pair.condition)][0],
                    "round": pair.round, "reference": pair.reference,
                    "reference_name": kind[(experiment, pair.reference)][0],
                    "contrast": pair.contrast, "family": contrasts.family(pair.kind, experiment, pair.round),
                    **contrast_row(per_trial[(experiment, pair.condition)], per_trial[(experiment, pair.reference)],
                                   metric, contrasts.margin_for(experiment, metric, margins)),
                })
    contrasts.add_holm(table)
    for row in table:
        row["verdict"] = contrasts.verdict(row)
    return table
