"""The paper's claims, checked one by one against our runs (and the D_n analysis, when there is one)."""

from __future__ import annotations

from dataclasses import dataclass

from reports.runs import ExperimentStatus

HELD, NOT_HELD, UNTESTABLE = "held", "not held", "not testable here"


@dataclass
class Claim:
    claim: str
    source: str
    verdict: str
    evidence: str


def _acc(exp: ExperimentStatus) -> dict[str, float]:
    return {s["condition"]: s["max_avg_acc"] for s in exp.summary}


def _levels(exp: ExperimentStatus) -> list[str]:
    return sorted({c.split("-")[1] for c in exp.expected_conditions if "-" in c}, key=int)


def _combine(parts: list[tuple[bool | None, str]]) -> tuple[str, str]:
    tested = [p for p in parts if p[0] is not None]
    if not tested:
        return UNTESTABLE, "; ".join(p[1] for p in parts) or "no data"
    verdict = HELD if all(p[0] for p in tested) else NOT_HELD
    if len(tested) < len(parts) and verdict == HELD:
        verdict = HELD + " (partly tested)"
    return verdict, "; ".join(p[1] for p in parts)


def _short(exp: ExperimentStatus) -> str:
    return exp.name


def training_claims(exps: list[ExperimentStatus]) -> list[Claim]:
    out = []
    with_rows = [e for e in exps if e.summary]
    # 1. 26% beats 10%
    parts = []
    for e in with_rows:
        a = _acc(e)
        for kind in ("pruned", "reinit", "remask"):
            hi, lo = f"{kind}-26", f"{kind}-10"
            if hi in a and lo in a:
                parts.append((a[hi] > a[lo], f"{_short(e)} {hi} {a[hi]:.4f} vs {lo} {a[lo]:.4f}"))
            else:
                parts.append((None, f"{_short(e)} {kind}: missing {hi if hi not in a else lo}"))
    out.append(Claim("The 26.2% networks reach a higher max average accuracy than their 10.7% counterparts.",
                     "Sections 4.2, 4.3", *_combine(parts)))
    # 2. pruned > reinit > remask
    parts = []
    for e in with_rows:
        a = _acc(e)
        for level in _levels(e):
            cs = [f"{k}-{level}" for k in ("pruned", "reinit", "remask")]
            if all(c in a for c in cs):
                ok = a[cs[0]] > a[cs[1]] > a[cs[2]]
                parts.append((ok, f"{_short(e)} {level}%: " + " > ".join(f"{c} {a[c]:.4f}" for c in cs)
                              if ok else f"{_short(e)} {level}%: " + ", ".join(f"{c} {a[c]:.4f}" for c in cs)))
            else:
                parts.append((None, f"{_short(e)} {level}%: not all of {', '.join(cs)} trained"))
    out.append(Claim("Changing more of the initialization lowers the max accuracy: pruned > reinit > remask at each sparsity.",
                     "Sections 4.2, 4.3", *_combine(parts)))
    # 3. full is best
    parts = []
    for e in with_rows:
        a = _acc(e)
        if "full" not in a or len(a) < 2:
            parts.append((None, f"{_short(e)}: full or the pruned conditions missing"))
            continue
        best_other = max((c for c in a if c != "full"), key=a.get)
        parts.append((a["full"] > a[best_other],
                      f"{_short(e)} full {a['full']:.4f} vs best other {best_other} {a[best_other]:.4f}"))
    out.append(Claim("The full network reaches the highest max average accuracy.", "Sections 4.2, 5", *_combine(parts)))
    # 4. LeNet5 lottery ticket beats reinit by 1.90 points and remask by 2.21 points at 26%
    lenet = [e for e in with_rows if e.model == "lenet5"]
    parts = []
    for e in lenet:
        a = _acc(e)
        for other, paper in (("reinit-26", 1.90), ("remask-26", 2.21)):
            if "pruned-26" in a and other in a:
                d = 100 * (a["pruned-26"] - a[other])
                parts.append((d > 0, f"{_short(e)} pruned-26 - {other} = {d:+.2f} points (paper {paper:+.2f})"))
            else:
                parts.append((None, f"{_short(e)}: pruned-26 or {other} missing"))
    if not lenet:
        parts.append((None, "no LeNet5 experiment with metrics"))
    verdict, ev = _combine(parts)
    if verdict.startswith(HELD):
        ev += " (held = same direction; the size is compared in the numbers)"
    out.append(Claim("LeNet5 at 26%: the lottery ticket beats reinit by 1.90 points (and remask by 2.21).",
                     "Section 5", verdict, ev))
    return out


def _verdicts(analysis: dict | None, view: str = "raw") -> list[dict]:
    if not analysis:
        return []
    return [v for v in analysis.get("verdicts", []) if v.get("view", "raw") == view]


def _ci(c: dict) -> str:
    ci = c.get("ci")
    est = c.get("estimate")
    if est is None:
        return "no estimate"
    return f"estimate {est:.3g}" + (f", 95% CI [{ci[0]:.3g}, {ci[1]:.3g}]" if ci and None not in ci else "")


def shape_claims(analysis: dict | None) -> list[Claim]:
    verdicts = _verdicts(analysis)
    why = "no D_n analysis available" if analysis is None else "no shape verdicts in the analysis"
    specs = [
        ("four_peaks", "D_n has four peaks", "n_modes"),
        ("middle_two_higher", "The middle two peaks are higher than the outer two", None),
        ("hole_near_zero", "There is a strong hole (divot) near 0", None),
        ("rough_symmetry", "D_n is roughly symmetric", None),
    ]
    out = []
    for key, text, _ in specs:
        parts = []
        for v in verdicts:
            c = v.get("claims", {}).get(key)
            where = f"{v['experiment']} round {v['round']}"
            if c is None:
                parts.append((None, f"{where}: not computed"))
                continue
            extra = f"{v.get('n_modes')} modes found" if key == "four_peaks" else _ci(c)
            parts.append((bool(c.get("holds")), f"{where}: {'yes' if c.get('holds') else 'no'} ({extra})"))
        if not parts:
            parts = [(None, why)]
        out.append(Claim(text + ".", "Section 4.4", *_combine(parts)))
    # FC-1 vs LeNet5 differ only in scale
    tests = [t for t in (analysis or {}).get("tests", []) if t.get("test") == "compare"
             and t.get("view") in ("standardized-std", "standardized-init")]
    parts = []
    for t in tests:
        p = t.get("pvalue")
        if p is None:
            continue
        parts.append((p > 0.05, f"{t['experiment']} r{t['round']} {t['view']} {t['method']}: "
                      f"statistic {t['statistic']:.4g}, p = {p:.3g}"))
    if not parts:
        parts = [(None, "needs both FC-1 and LeNet5 tickets and a compare analysis")]
    verdict, ev = _combine(parts)
    if verdict.startswith(NOT_HELD):
        ev += (" (with tens of thousands of weights a permutation test detects even small shape "
               "differences; 'not held' means not identical after rescaling, not necessarily dissimilar)")
    if analysis and analysis.get("quick") and parts[0][0] is not None:
        ev += (" (quick analysis: few permutations, so the smallest reachable p-value is coarse; "
               "rerun without --quick for the final verdict)")
    out.append(Claim("FC-1 and LeNet5 D_n have the same shape and differ only in scale.", "Section 4.4", verdict, ev))
    return out
