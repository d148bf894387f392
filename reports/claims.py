"""The paper's claims, checked one by one against verdicts over trials.

A training claim says that one condition beats another (condition - reference > 0). Each part is
"held" when its paired contrast's verdict is "higher" (the Holm-adjusted paired t test rejects, on
the claimed side), "contradicted" when it is "lower", "equivalent" when TOST rejects at the run's
margin (the claimed gap is then smaller than the margin) and "not resolved" otherwise: the verdicts
of paired.csv, read through `reports.verdicts`. D_n claims use the trial-level answers of the
analysis (`dn_analysis.trials`): one statistic per network, a one-sample t interval over trials.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reports import fmt, verdicts
from reports.dnstats import STATISTIC, value
from reports.runs import ExperimentStatus
from reports.trialstats import levels
from results import contrasts
from results.labels import Label

HELD, CONTRA, EQUIV, OPEN, NA = "held", "contradicted", "equivalent", "not resolved", "not testable here"
SHORT = {"ordering": "pruned > reinit > remask", "sparsity": "the denser ticket over the sparser",
         "full": "full over the best ticket condition", "lenet5": "the LeNet5 ticket over reinit and remask"}
"""How the abstract and the Results name the training claims."""
STATUS = {contrasts.HIGHER: HELD, contrasts.LOWER: CONTRA, contrasts.EQUIVALENT: EQUIV, contrasts.OPEN: OPEN}


@dataclass
class Part:
    where: str
    status: str          # held / contradicted / equivalent / not resolved / missing
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
        return [p for p in self.parts if p.status in (HELD, CONTRA, EQUIV, OPEN)]

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
        if any(p.status == EQUIV for p in t):
            margin = next(verdicts.margin_text(p.row) for p in t if p.status == EQUIV)
            return (f"not held beyond the margin ({sum(p.status == EQUIV for p in t)} of {len(t)} equivalent at "
                    f"{margin}, {held} held)")
        return f"not resolved ({held} of {len(t)} held)"

    @property
    def evidence(self) -> str:
        return "; ".join(p.text for p in self.parts) or "no data"


def _diff_part(exp: ExperimentStatus, cond: str, ref: str, where: str) -> Part:
    """One part of a training claim: cond - ref in max accuracy, with the contrast's verdict."""
    row = verdicts.find(exp, cond, ref)
    if row is None or not row["n_trials"]:
        return Part(where, "missing", f"{where}: {cond} or {ref} not trained")
    return Part(where, STATUS.get(row["verdict"], OPEN), f"{where} {cond} - {ref}: {verdicts.cell(row)}", row)


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
