"""The paper's claims, checked one by one with intervals over trials.

A part of a claim is "held" when its 95% interval excludes zero (or the claim's bound) in the
claimed direction, "contradicted" when it excludes it in the other direction, and "not
resolved" when it contains it. Training claims use paired differences (`trialstats.paired`);
D_n claims use the trial-level answers of the analysis (`dn_analysis.trials`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reports import fmt
from reports.dnstats import STATISTIC, value
from reports.runs import ExperimentStatus
from reports.trialstats import direction, levels, paired
from results.labels import Label

HELD, CONTRA, OPEN, NA = "held", "contradicted", "not resolved", "not testable here"


@dataclass
class Part:
    where: str
    status: str          # held / contradicted / not resolved / missing
    text: str
    row: dict | None = None


@dataclass
class Claim:
    key: str
    claim: str
    source: str
    parts: list[Part] = field(default_factory=list)

    @property
    def tested(self) -> list[Part]:
        return [p for p in self.parts if p.status in (HELD, CONTRA, OPEN)]

    @property
    def verdict(self) -> str:
        t = self.tested
        if not t:
            return NA
        held = sum(p.status == HELD for p in t)
        if held == len(t):
            return HELD
        if any(p.status == CONTRA for p in t):
            return f"not held ({sum(p.status == CONTRA for p in t)} of {len(t)} contradicted)"
        return f"not resolved ({held} of {len(t)} held)"

    @property
    def evidence(self) -> str:
        return "; ".join(p.text for p in self.parts) or "no data"


def _status(row: dict | None, want: str = "above") -> str:
    d = direction(row)
    if d == "missing":
        return "missing"
    return HELD if d == want else OPEN if d == "across" else CONTRA


def _diff_part(exp: ExperimentStatus, cond: str, ref: str, where: str) -> Part:
    row = paired(exp, cond, ref)
    if row is None or not row["n_trials"]:
        return Part(where, "missing", f"{where}: {cond} or {ref} not trained")
    return Part(where, _status(row), f"{where} {cond} - {ref}: {fmt.ci_of(row)}", row)


def training_claims(exps: list[ExperimentStatus]) -> list[Claim]:
    """Sections 4.2, 4.3 and 5 of the paper on the trained conditions (max test accuracy)."""
    with_rows = [e for e in exps if e.summary]
    sparse = Claim("sparsity", "The 26.2% networks reach a higher max accuracy than their 10.7% counterparts.",
                   "Sec. 4.2, 4.3")
    order = Claim("ordering", "Changing more of the initialization lowers the max accuracy: pruned > reinit > "
                  "remask at each sparsity.", "Sec. 4.2, 4.3")
    full = Claim("full", "The full network reaches the highest max accuracy.", "Sec. 4.2, 5")
    lenet = Claim("lenet5", "LeNet5 at 26.2%: the ticket beats reinit by 1.90 points and remask by 2.21 "
                  "(the authors' outputs give 2.11).", "Sec. 5")
    for e in with_rows:
        lv = levels(e)
        if len(lv) >= 2:
            for kind in ("pruned", "reinit", "remask"):
                sparse.parts.append(_diff_part(e, Label.named(kind, lv[0]), Label.named(kind, lv[-1]), e.label))
        for level in lv:
            order.parts.append(_diff_part(e, Label.named("pruned", level), Label.named("reinit", level), e.label))
            order.parts.append(_diff_part(e, Label.named("reinit", level), Label.named("remask", level), e.label))
        means = {s["condition"]: s["max_avg_acc"] for s in e.summary
                 if s["condition_name"] in ("pruned", "reinit", "remask")}
        if "full" in {s["condition"] for s in e.summary} and means:
            full.parts.append(_diff_part(e, "full", max(means, key=means.get), e.label))
        if e.name == "lenet5-cifar10":
            for other in ("reinit-26", "remask-26"):
                lenet.parts.append(_diff_part(e, "pruned-26", other, e.label))
    return [order, sparse, full, lenet]


SHAPE_CLAIMS = (
    ("number of modes", "modes", "D_n has four peaks.", "Sec. 4.4"),
    ("four peaks", "middle", "The middle two peaks are higher than the outer two.", "Sec. 4.4"),
    ("hole at zero", "hole", "There is a strong hole (divot) near 0.", "Sec. 4.4"),
    ("symmetry", "symmetry", "D_n is roughly symmetric.", "Sec. 4.4"),
    ("sign lean", "signs", "D_n has no bias toward positive or negative weights.", "Sec. 5"),
    ("FC-1 against LeNet5", "compare", "FC-1 and LeNet5 D_n have the same shape and differ only in scale.",
     "Sec. 4.4"),
)


def _trial_text(q: dict) -> str:
    where = f"{q['experiment']} {fmt.pct(q['density'])}"
    if q["question"] == "number of modes":
        return f"{where}: modes per trial {', '.join(str(c) for c in q['per_trial'])}"
    return f"{where}: {STATISTIC.get(q['question'], q['statistic'])} {value(q)}"


def shape_claims(analysis: dict | None) -> list[Claim]:
    """Section 4.4 and 5 on D_n, answered with networks as the replicates."""
    rows = [q for q in (analysis or {}).get("trial_level", []) if q.get("view", "raw") == "raw"]
    out = []
    for question, key, text, source in SHAPE_CLAIMS:
        c = Claim(key, text, source)
        for q in rows:
            if q["question"] != question:
                continue
            status = q.get("paper_claim", OPEN)
            c.parts.append(Part(q["experiment"], status if status in (HELD, CONTRA, OPEN) else "missing",
                                _trial_text(q), q))
        out.append(c)
    return out
