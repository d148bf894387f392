"""The D_n findings: the shape of the surviving initial weights, network by network.

Each sentence is built from the trial-level answers of the D_n analysis (`dn_analysis.trials`:
one statistic per network, a one-sample t interval over trials) and the claims made from them
(`reports.claims.shape_claims`); a claim that fails or is not resolved is said so.
"""

from __future__ import annotations

from reports import fmt
from reports.claims import CONTRA, HELD, OPEN, Claim, Part


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
    return (f"The sign balance is not resolved network by network: in all {len(t)} cells the share of positive "
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
