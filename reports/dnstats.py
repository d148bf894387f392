"""The D_n statistics, condensed: one row per experiment x round x question, answered over trials.

Each row gives the per-trial statistic that decides the question, its mean with a 95% t
interval over trials, the verdict, and what the pooled weights of those networks show (a
within-network description: its p-values count weights as independent draws). Every test is
in analysis.csv.
"""

from __future__ import annotations

from reports import fmt
from reports.doc import Table

ORDER = ("symmetry", "sign lean", "number of modes", "four peaks", "hole at zero")
# question -> (scale, digits, signed) of its mean and interval
SPEC = {"sign lean": (100, 2, True), "number of modes": (1, 2, False), "FC-1 against LeNet5": (1, 4, True)}
STATISTIC = {"sign lean": "% positive - 50 (points)"}


def question_name(q: dict) -> str:
    return q["question"]


def standardized_modes(analysis: dict, q: dict) -> dict | None:
    """The same experiment and round's mode count with each layer divided by its init scale."""
    for s in analysis.get("trial_level", []):
        if (s["experiment"], s["round"], s["question"], s.get("view")) == \
                (q["experiment"], q["round"], "number of modes", "standardized"):
            return s
    return None


def value(q: dict) -> str:
    if not q.get("n"):
        return "not measured (no trial qualifies)"
    scale, digits, signed = SPEC.get(q["question"], (1, 3, False))
    text = fmt.ci_of(q, scale=scale, digits=digits, signed=signed)
    return f"{text} (n={q.get('n', 0)})"


def _test(analysis: dict, exp: str, r: int, test: str, method: str, view: str = "raw") -> dict | None:
    for t in analysis.get("tests", []):
        if (t.get("experiment"), t.get("round"), t.get("test"), t.get("method"), t.get("view")) == \
                (exp, r, test, method, view) and t.get("trial") is None:
            return t
    return None


def _verdict(analysis: dict, exp: str, r: int, view: str = "raw") -> dict:
    for v in analysis.get("verdicts", []):
        if (v["experiment"], v["round"], v["view"]) == (exp, r, view):
            return v
    return {}


def pooled(analysis: dict, q: dict) -> str:
    """What the pooled weights show for this question (within-network description)."""
    s = analysis.get("settings", {})
    e, r, name = q["experiment"], q["round"], question_name(q)
    if name == "symmetry":
        t = _test(analysis, e, r, "symmetry", "flip-cvm")
        return f"flip test p {fmt.pvalue(t['pvalue'], s.get('n_resamples'))}" if t else "-"
    if name == "sign lean":
        t = _test(analysis, e, r, "symmetry", "sign")
        return f"{fmt.pct(t['statistic'])} positive, sign test p {fmt.pvalue(t['pvalue'])}" if t else "-"
    if name == "number of modes":
        t = _test(analysis, e, r, "count_modes", "silverman-hy")
        return f"Hall-York count {int(t['statistic'])}" if t and t.get("statistic") is not None else "-"
    c = _verdict(analysis, e, r).get("claims", {})
    if name == "four peaks" and "four_peaks" in c:
        f, b = c["four_peaks"], s.get("n_boot")
        return (f"Hall-York p(≤2) {fmt.pvalue(f.get('p_at_most_2'), b)}, excess mass p(≤4) "
                f"{fmt.pvalue(f.get('p_at_most_4_excess_mass'), b)}")
    if name == "hole at zero" and c.get("hole_near_zero", {}).get("estimate") is not None:
        h = c["hole_near_zero"]
        level = round(100 * h.get("ci_level", 0.95))
        return f"{h['estimate']:.3f} [{h['ci'][0]:.3f}, {h['ci'][1]:.3f}] ({level}% bootstrap over weights)"
    if name == "FC-1 against LeNet5":
        t = _test(analysis, e, r, "compare", "ks", "standardized-std")
        return f"KS permutation p {fmt.pvalue(t['pvalue'], s.get('compare_n_resamples'))}" if t else "-"
    return "-"


def dn_rows(analysis: dict) -> list[dict]:
    """Trial-level questions in table order: per experiment and round, then the comparisons."""
    qs = analysis.get("trial_level", [])
    keyed = [q for q in qs if " vs " not in q["experiment"] and q["question"] in ORDER
             and q.get("view", "raw") == "raw"]
    keyed.sort(key=lambda q: (list(analysis.get("experiments", {})).index(q["experiment"])
                              if q["experiment"] in analysis.get("experiments", {}) else 99,
                              -q["density"], ORDER.index(question_name(q))))
    return keyed + [q for q in qs if " vs " in q["experiment"]]


def dn_table(analysis: dict, caption: str) -> Table | None:
    rows = []
    for q in dn_rows(analysis):
        verdict = q["verdict"]
        std = standardized_modes(analysis, q) if q["question"] == "number of modes" else None
        if std:
            verdict += f"; ÷ layer init scale: {std['verdict']}"
        rows.append([q["experiment"], fmt.pct(q["density"]), question_name(q),
                     STATISTIC.get(q["question"], q["statistic"]), value(q), verdict, pooled(analysis, q)])
    if not rows:
        return None
    return Table(["Experiment", "Density", "Question", "Per-trial statistic", "Mean [95% CI]", "Verdict",
                  "Pooled weights (within-network)"], rows, caption=caption)
