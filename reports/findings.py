"""The numbered findings: one generated sentence each, with its 95% interval and where it is shown.

Every sentence is built from the numbers it states (claims, paired gaps, trial-level answers);
a claim that fails or is not resolved is said so, in words chosen from those numbers.
"""

from __future__ import annotations

from reports import fmt
from reports.authors_table import authors_sentence
from reports.claims import CONTRA, HELD, OPEN, Claim, Part
from reports.controls import gaps, has_controls
from reports.model import model_sentence
from reports.protocol import protocol_pairs, protocol_sentence
from reports.runs import ExperimentStatus
from reports.trialstats import density_of, direction, levels, paired
from results.labels import Label

INTERVALS = ("Intervals are 95% t intervals over trials: paired within a trial for two conditions of one run, "
             "Welch's for the same condition in two runs, and one-sample for a per-network statistic of D_n. "
             "Accuracy differences are in percentage points.")
MAX_FINDINGS = 10


def _pick(parts: list[Part], status: str) -> Part | None:
    """The deciding part of a status: the weakest held, the most contradicted, the least resolved."""
    ps = [p for p in parts if p.status == status and p.row]
    if not ps:
        return None
    lo = lambda p: p.row.get("ci_low", p.row.get("mean", 0))  # noqa: E731
    if status == HELD:
        return min(ps, key=lambda p: lo(p) if fmt.finite(lo(p)) else 0)
    if status == CONTRA:
        return min(ps, key=lambda p: -abs(p.row.get("mean_diff", p.row.get("mean", 0)) or 0))
    return ps[0]


def claim_sentence(c: Claim, subject: str, where: str) -> str | None:
    """'<subject> holds in all n ...' / 'fails: k of n go the other way' / 'is not resolved: ...'."""
    t = c.tested
    if not t:
        return None
    held = sum(p.status == HELD for p in t)
    contra = [p for p in t if p.status == CONTRA]
    if held == len(t):
        return (f"{subject} holds in all {len(t)} comparisons (each 95% interval on the claimed side; weakest: "
                f"{_pick(t, HELD).text}) ({where}).")
    if contra:
        return (f"{subject} fails: {len(contra)} of {len(t)} comparisons lie on the other side "
                f"({_pick(t, CONTRA).text}), {held} hold ({where}).")
    open_part = _pick(t, OPEN)
    return (f"{subject} is not resolved: {held} of {len(t)} comparisons hold and the other intervals contain "
            f"the claimed bound (e.g. {open_part.text if open_part else 'no interval'}) ({where}).")


def controls_sentence(exps: list[ExperimentStatus], where: str) -> str | None:
    cells: dict[str, list[tuple[str, dict]]] = {}
    for e in exps:
        if not has_controls(e):
            continue
        for level, g in gaps(e).items():
            for cond, m in g.items():
                if m["max_acc"] and not cond.startswith("dense-dn"):
                    cells.setdefault(Label.split(cond)[0], []).append((f"{e.label} {fmt.pct(density_of(e, level))}",
                                                                         m["max_acc"]))
    if not cells:
        return None
    n = max(len(v) for v in cells.values())
    worse = [k for k, v in cells.items() if all(direction(r) == "below" for _, r in v)]
    better = [k for k, v in cells.items() if any(direction(r) == "above" for _, r in v)]
    same = [k for k in cells if k not in worse and k not in better]
    parts = []
    if worse:
        k, (cell, r) = max(((k, c) for k in worse for c in cells[k]), key=lambda x: -x[1][1]["mean_diff"])
        parts.append(f"{fmt.join(worse)} {'is' if len(worse) == 1 else 'are'} worse in every cell "
                     f"(largest gap: {k}, {cell}, {fmt.ci_of(r)})")
    if same:
        k, (cell, r) = min(((k, c) for k in same for c in cells[k]), key=lambda x: abs(x[1][1]["mean_diff"]))
        parts.append(f"{fmt.join(same)} {'is' if len(same) == 1 else 'are'} not distinguishable from it in at least "
                     f"one cell (closest: {k}, {cell}, {fmt.ci_of(r)})")
    if better:
        k, (cell, r) = max(((k, c) for k in better for c in cells[k]), key=lambda x: x[1][1]["mean_diff"])
        parts.append(f"{fmt.join(better)} {'beats' if len(better) == 1 else 'beat'} it in at least one cell "
                     f"({k}, {cell}, {fmt.ci_of(r)})")
    return (f"What a ticket carries: against the ticket's max accuracy (paired, up to {n} experiment x sparsity "
            f"cells), {fmt.join(parts, 'and')} ({where}).")


def dense_dn_sentence(exps: list[ExperimentStatus], where: str) -> str | None:
    rows = [(f"{e.label} {fmt.pct(density_of(e, lv))}", r) for e in exps for lv in levels(e)
            if (r := paired(e, Label.named("dense-dn", lv), "full")) and r["n_trials"]]
    if not rows:
        return None
    d = [direction(r) for _, r in rows]
    verdict = ("better than" if all(x == "above" for x in d) else "worse than" if all(x == "below" for x in d)
               else "not resolved from")
    cells = "; ".join(f"{cell} {fmt.ci_of(r)}" for cell, r in rows)
    return (f"The paper's Future Work: a dense network drawn from its layer's D_n (dense-dn) is {verdict} the dense "
            f"θ0 (full) in max accuracy ({cells} points; {where}).")


def shape_sentence(modes: Claim, middle: Claim, hole: Claim, where: str) -> str | None:
    if not modes.tested:
        return None
    def count(c: Claim) -> str:
        return f"{sum(p.status == HELD for p in c.tested)} of {len(c.tested)}"
    text = f"Network by network, D_n shows the paper's 4 modes in every trial in {count(modes)} experiment x round cells"
    for c, what in ((middle, "the middle two peaks are higher"), (hole, "the hole at 0 is strong (below 0.5)")):
        if c.tested:
            p = _pick(c.tested, HELD) or _pick(c.tested, CONTRA) or _pick(c.tested, OPEN)
            text += f", {what} in {count(c)} ({'weakest' if p.status == HELD else 'e.g.'}: {p.text})"
    return text + f" ({where})."


def explanation_sentence(analysis: dict | None, where: str) -> str | None:
    tests = [t for t in (analysis or {}).get("tests", []) if t.get("test") == "layer_model"
             and t.get("details", {}).get("trials")]
    if not tests:
        return None
    worst = max(tests, key=lambda t: t["details"]["trials"]["ks"]["mean"])
    tr = worst["details"]["trials"]
    std = [q for q in analysis.get("trial_level", []) if q["question"] == "number of modes"
           and q.get("view") == "standardized"]
    modal = sorted({q["modal"] for q in std})
    text = (f"The peaks come from per-layer init scales: a model that knows only each layer's init bound and kept "
            f"count is within KS distance {fmt.ci_of(tr['ks'], 1, 3, False)} of θ_LT in its worst cell "
            f"({worst['experiment']} {fmt.pct(worst['density'])}), where {fmt.ci_of(tr['overlap_minus_chance'], 100, 1)}"
            f" points more survivors are their layer's largest |θ0| than for a random mask")
    if modal:
        text += f", and divided by each layer's init scale D_n has {fmt.join([str(m) for m in modal], 'or')} modes"
    return text + f" ({where})."


def sign_sentence(c: Claim, where: str) -> str | None:
    t = c.tested
    if not t:
        return None
    lean = [p for p in t if p.status == CONTRA]
    p = max(t, key=lambda p: abs(p.row.get("mean", 0)))
    if lean:
        return (f"Survivors are not sign-balanced network by network: the share of positive survivors differs from "
                f"50% in {len(lean)} of {len(t)} cells (largest: {p.text}); pooled sign tests over the weights "
                f"only describe those networks ({where}).")
    return (f"The sign balance is not resolved at the level of networks: in all {len(t)} cells the share of positive "
            f"survivors minus 50% has an interval containing 0 (largest: {p.text}) ({where}).")


def compare_sentence(c: Claim, where: str) -> str | None:
    t = c.tested
    if not t:
        return None
    contra = [p for p in t if p.status == CONTRA]
    p = contra[0] if contra else t[0]
    verdict = ("differ in shape by more than network-to-network variation" if len(contra) == len(t) else
               "differ in shape in " + f"{len(contra)} of {len(t)} rounds" if contra else
               "are not resolved from one shape up to scale")
    return (f"FC-1 and LeNet5 D_n {verdict}: per network, KS distance to the other architecture minus that to its "
            f"own other networks is {p.text} ({where}).")


def findings(exps: list[ExperimentStatus], claims: dict[str, Claim], analysis: dict | None,
             refs: dict[str, str], authors: list[tuple[ExperimentStatus, dict]] = ()) -> list[str]:
    """Up to 10 sentences, in the report's order of topics; the least central dropped first."""
    def ref(*keys: str) -> str:
        return ", ".join(refs[k] for k in keys if k in refs) or "not shown"

    items: list[tuple[int, str | None]] = [
        (1, claim_sentence(claims["ordering"], "The paper's ordering pruned > reinit > remask (max accuracy)",
                           ref("claims"))),
        (5, claim_sentence(claims["sparsity"], "The paper's claim that 26.2% beats 10.7%", ref("claims"))),
        (4, claim_sentence(claims["full"], "The paper's claim that the full network is best", ref("claims"))),
        (9, claim_sentence(claims["lenet5"], "The paper's LeNet5 claim that the ticket beats reinit and remask "
                           "at 26.2%", ref("claims"))),
        (2, controls_sentence(exps, ref("controls", "fig:controls"))),
        (8, dense_dn_sentence(exps, ref("controls"))),
        (3, model_sentence(exps, ref("model", "fig:model:0"))),
    ]
    for t, a in protocol_pairs(exps):
        items.append((3, protocol_sentence(t, a, ref(f"protocol:{t.name}"))))
    for e, result in authors:
        items.append((3, authors_sentence(result, e.label, ref(f"authors:{e.key}"))))
    if analysis:
        items += [
            (2, shape_sentence(claims["modes"], claims["middle"], claims["hole"], ref("dn", "fig:fig5"))),
            (3, explanation_sentence(analysis, ref("dn", "fig:layers"))),
            (2, sign_sentence(claims["signs"], ref("dn"))),
            (6, compare_sentence(claims["compare"], ref("dn"))),
        ]
    kept = [(p, s) for p, s in items if s]
    while len(kept) > MAX_FINDINGS:
        worst = max(range(len(kept)), key=lambda i: (kept[i][0], i))
        kept.pop(worst)
    return [s for _, s in kept]
