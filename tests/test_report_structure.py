"""The report reads as a short paper and its words follow the verdicts.

The committed report (docs/report) is checked from its files: the sections in order, an abstract of
5-8 sentences, every condition it names defined in Methods, no "no difference"-like word without an
equivalence verdict in the same sentence, its figures present, LeNet5's dense-dn-10 read as spikes,
and at most 12 PDF pages. tests/test_report.py runs the same checks on a report built from smoke
runs. The verdict words themselves are checked on rows made here (`reports.verdicts`).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from train.conditions import CONDITIONS

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "docs" / "report"
SECTIONS = ("Abstract", "Methods", "Results", "Limitations", "References", "Appendix")
MAX_PAGES = 12
FORBIDDEN = re.compile(r"no difference|\blevel\b|indistinguishable|does no better", re.I)


def sections(md: str) -> dict[str, str]:
    """{level-2 heading: its text up to the next level-2 heading}."""
    parts = re.split(r"^## (.+)$", md, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def sentences(text: str) -> list[str]:
    """Sentences of running text (tables, figures and captions left out)."""
    prose = [ln for ln in text.splitlines() if ln and not ln.startswith(("|", "![", "*Table", "*Figure", "#"))]
    return [s for ln in prose for s in re.split(r"(?<=\.)\s+(?=[A-Zθ])", ln.lstrip("- ")) if s.strip()]


def defined_conditions(md: str) -> set[str]:
    """Conditions Methods defines: its bullets "- name: definition"."""
    return set(re.findall(r"^- ([a-z][\w-]*): ", sections(md)["Methods"], flags=re.M))


def named_conditions(md: str) -> set[str]:
    """Registered conditions the report names anywhere, bare or as a label (reinit-26)."""
    return {name for name in CONDITIONS if re.search(rf"(?<![\w-]){re.escape(name)}(?:-\d+)?(?![\w-])", md)}


def check_paper(md: str) -> None:
    """Sections in order, 5-8 abstract sentences, conditions defined, verdict words only with verdicts."""
    h2 = [h for h in sections(md) if h in SECTIONS]
    assert h2 == list(SECTIONS), h2
    abstract = sentences(sections(md)["Abstract"])
    assert 5 <= len(abstract) <= 8, abstract
    assert named_conditions(md) <= defined_conditions(md), named_conditions(md) - defined_conditions(md)
    for definition in re.findall(r"^- ([a-z][\w-]*): (.+)$", sections(md)["Methods"], flags=re.M):
        assert CONDITIONS[definition[0]].summary == definition[1]  # from the registry, not a copy
    for s in sentences(md):
        if FORBIDDEN.search(s):
            assert "equivalent" in s, s
    results = sections(md)["Results"]
    first_table = next((i for i, ln in enumerate(md.splitlines()) if ln.startswith("|")), None)
    assert first_table is None or md.splitlines().index("## Results") < first_table
    for para in [ln for ln in results.splitlines() if ln and not ln.startswith(("![", "*Figure"))]:
        assert re.search(r"\((?:.*?)(Table|Figure) \d+", para), para


def pdf_pages(path: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(path).pages)


def test_committed_report_is_a_short_paper():
    md = (COMMITTED / "report.md").read_text()
    check_paper(md)
    assert pdf_pages(COMMITTED / "report.pdf") <= MAX_PAGES
    figures = re.findall(r"^!\[Figure \d+\]\((figures/[\w.-]+)\)", md, flags=re.M)
    assert len(figures) >= 5 and all((COMMITTED / f).exists() for f in figures)
    for f in ("curves", "authors", "target", "layers", "pools"):  # the five the report is built around
        assert f"figures/{f}.png" in figures, f
    assert "dmanikt/lottery-ticket-distributions" in md.split("## Methods")[1]
    for ref in ("Frankle & Carbin (2019)", "Zhou et al. (2019)", "Frankle et al. (2020)"):
        assert ref in md.split("## References")[0], ref  # cited in the text, not only listed


def test_committed_report_reads_lenet5_dense_dn_10_as_spikes():
    md = (COMMITTED / "report.md").read_text()
    results = sections(md)["Results"]
    assert re.search(r"lenet5-cifar10-text dense-dn-10 [^;]*spiked and recovered in \d of \d trials", results)
    assert "diverged" not in results
    assert "diverged (" not in md


def test_committed_report_states_margins_and_censoring():
    md = (COMMITTED / "report.md").read_text()
    methods = sections(md)["Methods"]
    assert re.search(r"TOST at .*±\d+(\.\d+)? points", methods) and "Kaplan-Meier" in methods
    results = sections(md)["Results"]
    for censored in re.findall(r"censored: [^;)]*", results):  # a censored contrast: shares, never an interval
        assert "[" not in censored and "reached" in censored


# ---------------------------------------------------------------------------------- verdict words

def _row(cond: str, ref: str, verdict: str, mean: float, metric: str = "max_acc", **kw) -> dict:
    return {"experiment": "e", "condition": cond, "reference": ref, "condition_name": cond.rsplit("-", 1)[0],
            "reference_name": ref.rsplit("-", 1)[0], "metric": metric, "n_trials": 5, "mean_diff": mean,
            "ci_low": mean - 0.001, "ci_high": mean + 0.001, "p_value": 0.01, "p_signflip": 0.06, "p_holm": 0.02,
            "margin": 0.005, "p_tost": 0.5, "verdict": verdict, "n_censored": 0, "reached": 1.0,
            "reached_reference": 1.0, "km_median": 7.0, "km_median_reference": 11.0, "density": 0.262, **kw}


def _exp(rows: list[dict], metrics: list[dict] | None = None) -> SimpleNamespace:
    run = SimpleNamespace(paired=lambda: rows, config={})
    if metrics is None:
        metrics = [{"condition": c} for r in rows for c in (r["condition"], r["reference"])]
    return SimpleNamespace(run=run, name="e", rows=metrics, expected_conditions=[], summary=[])


def test_words_follow_the_verdicts():
    from reports import verdicts

    assert verdicts.word(_row("a-26", "pruned-26", "lower", -0.01)) == "lower"
    assert verdicts.word(_row("a-26", "pruned-26", "equivalent", 0.0)) == "equivalent (±0.5 points)"
    assert verdicts.cell(_row("a-26", "pruned-26", "equivalent", 0.0)) == "+0.00 [-0.10, +0.10] equivalent"
    assert verdicts.cell(_row("a-26", "pruned-26", "not resolved", 0.002)).endswith(" not resolved")
    censored = _row("a-26", "full", "censored", math.nan, "epochs_to_target", n_censored=3, reached=0.4,
                    km_median=math.nan)
    text = verdicts.cell(censored)
    assert "[" not in text and "reached 40% vs 100%" in text and "KM median not reached vs 11" in text


def test_a_contrast_read_the_other_way_round_flips_its_verdict():
    from reports import verdicts

    exp = _exp([_row("reinit-26", "pruned-26", "lower", -0.02)])
    row = verdicts.find(exp, "pruned-26", "reinit-26")
    assert row["verdict"] == "higher" and row["mean_diff"] == 0.02
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((0.019, 0.021))
    assert verdicts.find(exp, "reinit-26", "pruned-26")["verdict"] == "lower"
    assert verdicts.source(exp) == verdicts.FROM_FILE


def test_stored_rows_of_conditions_without_metrics_are_left_out():
    from reports import verdicts

    rows = [_row("reinit-26", "pruned-26", "lower", -0.02), _row("remask-26", "pruned-26", "lower", -0.03)]
    exp = _exp(rows, metrics=[{"condition": "reinit-26"}, {"condition": "pruned-26"}])
    assert [r["condition"] for r in verdicts.rows(exp)] == ["reinit-26"]
    assert verdicts.rows(_exp(rows, metrics=[])) == []  # no metrics: nothing to compare
