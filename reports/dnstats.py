"""The D_n statistics, condensed: one row per experiment x ticket round, one column per question.

Each cell gives the per-network statistic that decides the question, its mean with a 95% t
interval over trials and the verdict; FC-1 against LeNet5 has a table of its own. What the pooled
weights show (tests that count weights as independent draws) and every other test are in
analysis.csv.
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


def dn_rows(analysis: dict) -> list[dict]:
    """Trial-level questions in table order: per experiment and round, then the comparisons."""
    qs = analysis.get("trial_level", [])
    keyed = [q for q in qs if " vs " not in q["experiment"] and q["question"] in ORDER
             and q.get("view", "raw") == "raw"]
    keyed.sort(key=lambda q: (list(analysis.get("experiments", {})).index(q["experiment"])
                              if q["experiment"] in analysis.get("experiments", {}) else 99,
                              -q["density"], ORDER.index(question_name(q))))
    return keyed + [q for q in qs if " vs " in q["experiment"]]


COLUMNS = ("number of modes", "four peaks", "hole at zero", "symmetry", "sign lean")
HEADERS = {"number of modes": "Modes per network", "four peaks": "Lower middle / higher outer peak",
           "hole at zero": "Density at 0 / lower peak beside it", "sign lean": "% positive - 50 (points)",
           "symmetry": "Left/right peak height"}


def _cell(analysis: dict, q: dict) -> str:
    """'9.033 [8.679, 9.387] (n=5): middle two higher in every trial' (the verdict without its bracket)."""
    verdict = q["verdict"].split(" (")[0]
    if q["question"] == "number of modes":
        std = standardized_modes(analysis, q)
        short = q["verdict"].replace(" trials", "")
        return short + (f" (÷ init scale: {std['verdict'].replace(' trials', '')})" if std else "")
    return f"{value(q)}: {verdict}"


def dn_table(analysis: dict, caption: str) -> Table | None:
    """Rows: experiment x density; columns: the questions of ORDER that the analysis answered."""
    cells: dict[tuple[str, float], dict[str, str]] = {}
    for q in dn_rows(analysis):
        if " vs " not in q["experiment"]:
            cells.setdefault((q["experiment"], q["density"]), {})[question_name(q)] = _cell(analysis, q)
    asked = [name for name in COLUMNS if any(name in c for c in cells.values())]
    if not cells:
        return None
    rows = [[exp, fmt.pct(density)] + [c.get(name, "-") for name in asked] for (exp, density), c in cells.items()]
    widths = [0.15, 0.06] + [0.2 if n == "number of modes" else 0.16 for n in asked]
    return Table(["Experiment", "Density"] + [HEADERS[n] for n in asked], rows, caption=caption, widths=widths)


def compare_table(analysis: dict, caption: str) -> Table | None:
    """FC-1 against LeNet5, per protocol and density: the per-network KS difference and its verdict."""
    rows = [[q["experiment"], fmt.pct(q["density"]), value(q), q["verdict"]] for q in dn_rows(analysis)
            if " vs " in q["experiment"]]
    if not rows:
        return None
    return Table(["Experiments", "Density", "KS to the other architecture - KS to own (sd-scaled)", "Verdict"],
                 rows, caption=caption)
