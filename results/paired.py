"""Paired statistics over trials (paired.csv): each condition against the ticket and the dense net.

The trial is the unit of replication. A trial's conditions share θ0 and the data order
(common random numbers), so a condition is compared with a reference *within* each trial and
the differences are summarized over trials: their mean, a t interval, the paired t test's
p-value and, with 5 or more trials, the exact sign-flip (randomization) test's p-value.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict

import numpy as np
from scipy import stats

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
    censored at epochs + 1 (so its difference is a lower bound). NaN without a `full` run.
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


def references(name: str, round: int, labels: dict[tuple[str, int], str]) -> list[str]:
    """What condition `name` at ticket round `round` is compared with: that round's ticket
    (`pruned`) and the dense `full`, as the labels of `labels` ({(name, round): label})."""
    if round == 0 and name == "full":
        return []
    out = []
    ticket = labels.get(("pruned", round))
    if round > 0 and name != "pruned" and ticket is not None:
        out.append(ticket)
    if ("full", 0) in labels:
        out.append(labels[("full", 0)])
    return out


def paired_rows(rows: list[dict]) -> list[dict]:
    """paired.csv: one row per experiment x condition x reference x metric.

    `rows` are metrics.csv rows with their condition_name and round (``Run.metrics()`` fills them
    for tables written before those columns).
    """
    per_trial = trial_metrics(rows)
    kind = {(r["experiment"], r["condition"]): (condition_name(r), int(r["round"])) for r in rows}
    density = _ticket_density(rows)
    table = []
    for experiment in dict.fromkeys(k[0] for k in per_trial):
        names = list(dict.fromkeys(k[1] for k in per_trial if k[0] == experiment))
        labels = {kind[(experiment, n)]: n for n in names}
        for condition in names:
            name, round = kind[(experiment, condition)]
            for reference in references(name, round, labels):
                cond, ref = per_trial[(experiment, condition)], per_trial[(experiment, reference)]
                trials = sorted(set(cond) & set(ref))
                for metric in METRICS:
                    diffs = np.array([cond[t][metric] - ref[t][metric] for t in trials])
                    diffs = diffs[np.isfinite(diffs)]
                    table.append({
                        "experiment": experiment,
                        "density": density.get((experiment, round), math.nan),
                        "condition": condition, "condition_name": name, "round": round,
                        "reference": reference, "reference_name": kind[(experiment, reference)][0],
                        "metric": metric, "n_trials": int(diffs.size), **paired_summary(diffs),
                    })
    return table
