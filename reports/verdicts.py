"""The report's comparisons of conditions: paired.csv's rows, their verdicts, and the words for them.

A run's paired.csv (results.paired) holds each contrast of a condition against a reference within
trials, with its Holm-adjusted p, its TOST p at the run's equivalence margin and a verdict. The
report reads those rows, so its words cannot disagree with the file: "lower" or "higher" only where
the Holm-adjusted paired t test rejects, "equivalent" only where TOST rejects at the margin (and the
margin is said), "not resolved" otherwise; a censored epochs-to-target contrast gets the share of
trials that reached the target and Kaplan-Meier medians, never a t interval.

A run written before paired.csv had verdict columns gets its rows from the function that writes
paired.csv (results.paired.paired_rows) at the margins config.json records (results.contrasts.MARGINS
where it records none). The paper's claims also compare conditions that paired.csv does not pair
(reinit against remask, one condition at two sparsities): :func:`extra_rows` makes those rows with
results.paired.contrast_row, Holm-adjusts them in a family of their own per experiment and gives
them results.contrasts.verdict.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from reports import fmt
from reports.runs import ExperimentStatus
from reports.trialstats import levels
from results import contrasts
from results.errors import DnError
from results.integrity import DamagedFile
from results.labels import Label
from results.paired import contrast_row, paired_rows, trial_metrics

ACCURACY = ("max_acc", "final_acc")
CLAIMS_FAMILY = "claims"
FROM_FILE, RECOMPUTED = "paired.csv", "recomputed"
SCALE = {"max_acc": (100.0, 2), "final_acc": (100.0, 2), "epochs_to_target": (1.0, 1), "min_loss": (1.0, 4)}
_FLIP = {contrasts.LOWER: contrasts.HIGHER, contrasts.HIGHER: contrasts.LOWER}
_NUMERIC = ("density", "n_trials", "mean_diff", "ci_low", "ci_high", "p_value", "p_signflip", "p_holm", "margin",
            "p_tost", "n_censored", "reached", "reached_reference", "km_median", "km_median_reference")


def _number(v: object) -> float:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _stored(exp: ExperimentStatus) -> list[dict]:
    """paired.csv's rows of this experiment, when the file has the verdict columns; else []."""
    try:
        rows = [dict(r) for r in exp.run.paired() if r.get("experiment") == exp.name]
    except (DnError, DamagedFile, OSError, AttributeError):
        return []
    if not rows or any(r.get("verdict") in (None, "") for r in rows):
        return []
    ran = {r["condition"] for r in exp.rows}  # a paired.csv older than metrics.csv names no condition it lacks
    rows = [r for r in rows if r["condition"] in ran and r["reference"] in ran]
    for r in rows:
        r.update({k: _number(r.get(k)) for k in _NUMERIC})
        r["n_trials"] = int(r["n_trials"]) if fmt.finite(r["n_trials"]) else 0
        r["n_censored"] = int(r["n_censored"]) if fmt.finite(r["n_censored"]) else 0
    return rows


def margins(exp: ExperimentStatus) -> dict | None:
    """The equivalence margins the run recorded in config.json (None: it predates the record)."""
    config = getattr(exp.run, "config", None) or {}
    return config.get("equivalence_margins")


def rows(exp: ExperimentStatus) -> list[dict]:
    """Every contrast row of the experiment (paired.csv's columns), read once per experiment."""
    cached = exp.__dict__.get("_contrast_rows")
    if cached is None:
        cached = _stored(exp) if exp.rows else []
        exp.__dict__["_contrast_source"] = FROM_FILE
        if not cached and exp.rows:
            cached = paired_rows(exp.rows, margins=margins(exp))
            exp.__dict__["_contrast_source"] = RECOMPUTED
        exp.__dict__["_contrast_rows"] = cached
    return cached


def source(exp: ExperimentStatus) -> str:
    """Where the rows came from: paired.csv itself, or recomputed by the function that writes it."""
    rows(exp)
    return exp.__dict__.get("_contrast_source", FROM_FILE)


def flip(row: dict) -> dict:
    """reference - condition from condition - reference: the same test, seen from the other side."""
    out = dict(row, condition=row["reference"], reference=row["condition"],
               condition_name=row.get("reference_name"), reference_name=row.get("condition_name"),
               mean_diff=-row["mean_diff"], ci_low=-row["ci_high"], ci_high=-row["ci_low"],
               reached=row.get("reached_reference"), reached_reference=row.get("reached"),
               km_median=row.get("km_median_reference"), km_median_reference=row.get("km_median"))
    out["verdict"] = _FLIP.get(row["verdict"], row["verdict"])
    return out


def find(exp: ExperimentStatus, condition: str, reference: str, metric: str = "max_acc") -> dict | None:
    """condition - reference on `metric`: paired.csv's row, or its row the other way round flipped."""
    for table in (rows, extra_rows):  # the claims' own contrasts only where paired.csv has none
        for r in table(exp):
            if r["metric"] != metric:
                continue
            if (r["condition"], r["reference"]) == (condition, reference):
                return r
            if (r["condition"], r["reference"]) == (reference, condition):
                return flip(r)
    return None


def _extra_pairs(exp: ExperimentStatus) -> list[tuple[str, str]]:
    """The claims' pairs that paired.csv does not hold: reinit - remask per sparsity, and each of the
    paper's ticket conditions at the densest against the sparsest ticket."""
    lv = levels(exp)
    out = [(Label.named("reinit", p), Label.named("remask", p)) for p in lv]
    if len(lv) >= 2:
        out += [(Label.named(k, lv[0]), Label.named(k, lv[-1])) for k in ("pruned", "reinit", "remask")]
    return out


def extra_rows(exp: ExperimentStatus) -> list[dict]:
    """The claims' own contrasts (:func:`_extra_pairs`), in the family ``claims/<experiment>``."""
    cached = exp.__dict__.get("_extra_rows")
    if cached is not None:
        return cached
    per_trial = {cond: v for (_, cond), v in trial_metrics(exp.rows).items()} if exp.rows else {}
    own = margins(exp)
    table = []
    for cond, ref in _extra_pairs(exp):
        if cond not in per_trial or ref not in per_trial:
            continue
        for metric in ACCURACY:
            table.append({"experiment": exp.name, "condition": cond, "reference": ref,
                          "contrast": f"{cond} vs {ref}", "family": f"{CLAIMS_FAMILY}/{exp.name}",
                          **contrast_row(per_trial[cond], per_trial[ref], metric,
                                         contrasts.margin_for(exp.name, metric, own))})
    contrasts.add_holm(table)
    for r in table:
        r["verdict"] = contrasts.verdict(r)
    exp.__dict__["_extra_rows"] = table
    return table


def margin_text(row: dict) -> str:
    """'±0.5 points' for an accuracy metric; the metric's units otherwise."""
    m = row.get("margin")
    if not fmt.finite(m):
        return "no margin declared"
    return f"±{100 * m:g} points" if row["metric"] in ACCURACY else f"±{m:g}"


def word(row: dict | None, margin: bool = True) -> str:
    """The verdict in the report's words: lower, higher, equivalent (±margin, unless the caption or the
    sentence states it), not resolved, censored."""
    if row is None:
        return "missing"
    v = row["verdict"]
    if v == contrasts.EQUIVALENT:
        return f"equivalent ({margin_text(row)})" if margin else v
    if v == contrasts.CENSORED:
        return "censored"
    return v


def interval(row: dict) -> str:
    """The paired difference and its 95% interval in the metric's report units (accuracy in points)."""
    scale, digits = SCALE.get(row["metric"], (1.0, 3))
    return fmt.ci_of(row, scale, digits)


def cell(row: dict | None, margin: bool = False) -> str:
    """'-0.17 [-0.33, -0.01] lower': the paired difference and its verdict (censored: shares, KM medians);
    the margin of an equivalence only with `margin` (tables and counted sentences state it once)."""
    if row is None:
        return "-"
    if row["verdict"] == contrasts.CENSORED:
        return censored_text(row)
    return f"{interval(row)} {word(row, margin)}"


def margins_text(rows_: Sequence[dict | None]) -> str:
    """'±0.5 points' (or a list where the rows' margins differ): for a caption that states it once."""
    found = list(dict.fromkeys(margin_text(r) for r in rows_ if r is not None and fmt.finite(r.get("margin"))))
    return fmt.join(found, "or") or "no margin declared"


def censored_text(row: dict) -> str:
    """A censored epochs-to-target contrast: shares that reached the target and the KM medians."""
    def median(v: float | None) -> str:
        return f"{v:.0f}" if fmt.finite(v) else "not reached"

    return (f"censored: reached {fmt.pct(row.get('reached'), 0)} vs {fmt.pct(row.get('reached_reference'), 0)}, "
            f"KM median {median(row.get('km_median'))} vs {median(row.get('km_median_reference'))}")


def count(rows_: Sequence[dict | None], verdict: str) -> int:
    return sum(1 for r in rows_ if r is not None and r["verdict"] == verdict)
