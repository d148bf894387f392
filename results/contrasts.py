"""paired.csv's comparisons as data: which contrasts, their families, margins and verdicts.

A row of paired.csv is one *contrast*, a condition against a reference within each trial. Every
condition is compared with its round's ticket (`pruned`, contrast ``vs-ticket``) and with the dense
`full` (``vs-full``); the control-vs-control contrasts of :data:`CONTRASTS` are added wherever both
conditions ran. Rows are grouped in *families*, ``<kind>/<experiment>/<round>`` with kind
``vs-ticket``, ``vs-full`` or ``controls``, and the paired t p-values of one family and metric are
Holm-adjusted together (``p_holm``). Equivalence is a TOST at a margin declared before any run
(:data:`MARGINS`, overridden per experiment). ``epochs_to_target`` is censored (a trial that never
reaches the target has no time): rows with a censored trial get no t statistics, only the share of
trials that reached the target and the Kaplan-Meier median time.

statsmodels is imported inside the functions that use it: it takes about a second to import.
"""

from __future__ import annotations

import gc
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

ALPHA = 0.05
VS_TICKET, VS_FULL, CONTROLS = "vs-ticket", "vs-full", "controls"
LOWER, HIGHER, EQUIVALENT, OPEN, CENSORED = "lower", "higher", "equivalent", "not resolved", "censored"

CONTRASTS: tuple[tuple[str, str], ...] = (
    ("reinit", "rand-init"),          # the paper's D_n reinit against a fresh draw from D_θ
    ("keep-sign", "keep-magnitude"),  # θ0's signs against θ0's magnitudes
    ("layer-reinit", "reinit"),       # each layer's own θ_LT against the pooled θ_LT: layer scale
    ("keep-sign", "sign-dtheta"),     # signs fixed: D_n's magnitudes against D_θ's
    ("dense-dn-scaled", "full"),      # the rescaled dense D_n draw against the dense θ0
)
"""Control-vs-control contrasts, (condition, reference) by condition name: condition - reference
at one ticket round (a reference that only ran dense: its round-0 run). Adding a contrast is one
line here. A pair that a generic rule also makes (``dense-dn-scaled`` - ``full``) is made once,
under its name here and in the ``controls`` family."""

MARGINS: dict[str, float | None] = {
    "max_acc": 0.005,
    "final_acc": 0.005,
    "min_loss": None,
    "epochs_to_target": None,
}
"""Equivalence margins, in each metric's units, declared before any run looked at them.

Accuracies: 0.005 = half a point of test accuracy, the tolerance the toolkit already uses for
"reaches the dense net's accuracy" (``results.paired.TARGET_DROP``) and below the gaps the paper's
claims are about (LeNet5: 1.9-2.2 points between the ticket and reinit/remask). Train loss has no
unit shared across datasets and models (its minimum is near 0 on MNIST), and epochs to target scale
with the epochs of a run (100 or 30 here): no default, so no equivalence verdict, unless an
experiment declares one (``paired_rows(rows, margins={experiment: {metric: margin}})``, recorded
in config.json at train time)."""


class Pair(NamedTuple):
    """One contrast of an experiment: condition - reference (labels), its name and family kind."""

    condition: str
    reference: str
    round: int
    contrast: str
    kind: str


def pairs(labels: Mapping[tuple[str, int], str]) -> list[Pair]:
    """The contrasts of one experiment, in its condition order: each condition against its round's
    ticket, against `full`, then against the references :data:`CONTRASTS` names for it.

    `labels`: {(condition name, round): label} of the conditions that ran.
    """
    declared: dict[tuple[str, str], str] = {}
    for cond, ref in CONTRASTS:
        for (name, rnd), label in labels.items():
            other = labels.get((ref, rnd), labels.get((ref, 0))) if name == cond else None
            if other is not None and other != label:
                declared.setdefault((label, other), f"{cond} vs {ref}")
    out = []
    for (name, rnd), label in labels.items():
        refs = []
        if rnd > 0 and name != "pruned" and ("pruned", rnd) in labels:
            refs.append((labels[("pruned", rnd)], VS_TICKET))
        if (name, rnd) != ("full", 0) and ("full", 0) in labels:
            refs.append((labels[("full", 0)], VS_FULL))
        refs += [(r, CONTROLS) for (c, r) in declared if c == label]
        kinds: dict[str, str] = {}
        for ref, kind in refs:
            kinds.setdefault(ref, kind)
        for ref, kind in kinds.items():
            name_of = declared.get((label, ref))
            out.append(Pair(label, ref, rnd, name_of or kind, CONTROLS if name_of else kind))
    return out


def family(kind: str, experiment: str, round: int) -> str:
    return f"{kind}/{experiment}/{round}"


def margin_for(experiment: str, metric: str, margins: Mapping[str, Mapping[str, float | None]] | None = None) -> float:
    """The equivalence margin of `metric` in `experiment` (its override, else :data:`MARGINS`); NaN: none."""
    own = (margins or {}).get(experiment, {})
    m = own[metric] if metric in own else MARGINS.get(metric)
    if m is None or (isinstance(m, float) and math.isnan(m)):
        return math.nan
    if not float(m) > 0:
        raise ValueError(f"an equivalence margin must be > 0, got {m!r} for {experiment} {metric}")
    return float(m)


def tost_pvalue(cond: np.ndarray, ref: np.ndarray, margin: float) -> float:
    """TOST p-value of H0 |mean(cond - ref)| >= margin, paired (statsmodels' ``ttost_paired``):
    the larger p of the two one-sided t tests. NaN without a margin or with fewer than 2 trials."""
    if not math.isfinite(margin) or cond.size < 2:
        return math.nan
    diffs = cond - ref
    if diffs.std(ddof=1) == 0:  # no spread: the mean is the difference
        return 0.0 if abs(diffs.mean()) < margin else 1.0
    from statsmodels.stats.weightstats import ttost_paired

    return float(ttost_paired(cond, ref, -margin, margin)[0])


def km_median(times: np.ndarray, reached: np.ndarray) -> float:
    """Kaplan-Meier median time to target (statsmodels' ``SurvfuncRight``: the first time at which
    the share not yet at the target falls below 1/2); NaN when fewer than half get there."""
    if times.size == 0:
        return math.nan
    from statsmodels.duration.survfunc import SurvfuncRight

    return float(SurvfuncRight(np.asarray(times, float), np.asarray(reached, int)).quantile(0.5))


def censored_summary(cond: np.ndarray, cond_reached: np.ndarray, ref: np.ndarray,
                     ref_reached: np.ndarray) -> dict[str, float | int]:
    """Censoring of one epochs_to_target contrast: trials censored in either condition, the share of
    trials that reached the target and the Kaplan-Meier median of each condition."""
    hit, ref_hit = cond_reached.astype(bool), ref_reached.astype(bool)
    return {"n_censored": int(np.sum(~(hit & ref_hit))),
            "reached": float(hit.mean()) if hit.size else math.nan,
            "reached_reference": float(ref_hit.mean()) if ref_hit.size else math.nan,
            "km_median": km_median(cond, hit), "km_median_reference": km_median(ref, ref_hit)}


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values (statsmodels' ``multipletests(method="holm")``); NaN stays NaN and is
    not counted in the family."""
    p = np.asarray(pvalues, float)
    out = np.full(p.shape, math.nan)
    ok = np.isfinite(p)
    if ok.any():
        from statsmodels.stats.multitest import multipletests

        # multipletests ends with a full gc.collect(), which in a large process (a test run, a report)
        # costs up to a second a call; frozen objects are not scanned, so freeze around it
        gc.freeze()
        try:
            out[ok] = multipletests(p[ok], alpha=ALPHA, method="holm")[1]
        finally:
            gc.unfreeze()
    return out


def add_holm(table: list[dict]) -> list[dict]:
    """`table` with ``p_holm``: ``p_value`` Holm-adjusted within each (family, metric)."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, row in enumerate(table):
        groups[(row["family"], row["metric"])].append(i)
    for rows in groups.values():
        for i, p in zip(rows, holm([table[i]["p_value"] for i in rows]), strict=True):
            table[i]["p_holm"] = float(p)
    return table


def verdict(row: Mapping) -> str:
    """``censored`` (a trial never reached the target: no t statistics); ``lower``/``higher`` when
    the Holm-adjusted two-sided paired t test rejects at :data:`ALPHA` (by the sign of the mean
    difference, whether or not TOST also rejects); ``equivalent`` when TOST rejects at the margin;
    else ``not resolved`` (fewer than 2 trials included)."""
    if row.get("n_censored"):
        return CENSORED
    if row["n_trials"] < 2:
        return OPEN
    if row["p_holm"] <= ALPHA:
        return LOWER if row["mean_diff"] < 0 else HIGHER
    if row["p_tost"] <= ALPHA:
        return EQUIVALENT
    return OPEN
