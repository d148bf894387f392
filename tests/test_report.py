"""dn report: a short paper (tests/test_report_structure.py's checks on a report of smoke runs), every
number recomputed from metrics.csv and paired.csv, every verdict word paired.csv's, no sentence that
its verdicts contradict (a run where the paper's ordering fails), no paper column for digits, no
absolute path, partial runs and bad input.

`DN_REPORT_TEST_RUN` / `DN_REPORT_TEST_AUTHORS_RUN` / `DN_REPORT_TEST_ANALYSIS` reuse runs (and an
analysis of both) trained before, on slow machines.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from test_report_structure import MAX_PAGES, check_paper, pdf_pages, sections
from typer.testing import CliRunner

import dn.cli
from train.conditions import CONDITIONS

INTERVAL = re.compile(r"([+-]?\d+\.\d+) \[([+-]?\d+\.\d+), ([+-]?\d+\.\d+)\]")
VERDICT = r"(lower|higher|equivalent|not resolved)"


def _train(tmp: Path, env: str, *experiments) -> Path:
    from train.config import RunConfig
    from train.runner import train_run

    prebuilt = os.environ.get(env)
    if prebuilt:
        shutil.copytree(prebuilt, tmp, dirs_exist_ok=True)
        return tmp
    train_run(RunConfig(tuple(experiments), seed=0, preset="smoke"), tmp, device="cpu", progress=False)
    return tmp


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> Path:
    from train.config import preset_experiment

    return _train(tmp_path_factory.mktemp("text"), "DN_REPORT_TEST_RUN",
                  preset_experiment("smoke", "fc1-digits", conditions=("all",)),
                  preset_experiment("smoke", "lenet5-digits32"))


@pytest.fixture(scope="module")
def authors_run(tmp_path_factory) -> Path:
    from train.config import preset_experiment

    return _train(tmp_path_factory.mktemp("authors"), "DN_REPORT_TEST_AUTHORS_RUN",
                  preset_experiment("smoke", "fc1-digits", protocol="authors"))


def _invoke(*args: str):
    dn.cli._register()
    return CliRunner().invoke(dn.cli.app, ["report", *args])


@pytest.fixture(scope="module")
def report(smoke_run, authors_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    extra = ["--analysis", os.environ["DN_REPORT_TEST_ANALYSIS"]] if os.environ.get("DN_REPORT_TEST_ANALYSIS") else []
    result = _invoke("--runs", str(smoke_run), "--runs", str(authors_run), "--out", str(out), "--quick", *extra)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return out


def _analysis(report: Path) -> str:
    return os.environ.get("DN_REPORT_TEST_ANALYSIS") or str(report / "analysis")


def _md(report: Path) -> str:
    return (report / "report.md").read_text()


def _table_after(lines: list[str], i: int) -> list[dict]:
    headers = [h.strip() for h in lines[i].strip("|").split("|")]
    rows, i = [], i + 2
    while i < len(lines) and lines[i].startswith("|"):
        rows.append(dict(zip(headers, [c.strip() for c in lines[i].strip("|").split("|")], strict=True)))
        i += 1
    return rows


def _tables(md: str, first_header: str) -> dict[str, list[dict]]:
    """{what the table is about: rows} of every table whose header starts with first_header, keyed by its
    caption's subject ("Table 3. fc1-digits-text: ..." -> fc1-digits-text), else the heading above it."""
    out, heading, lines = {}, None, md.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("### "):
            heading = line[4:].strip()
        if line.startswith(f"| {first_header}"):
            caption = next((lines[j] for j in range(i - 1, max(i - 4, 0), -1) if lines[j].startswith("*Table")), "")
            subject = re.match(r"\*Table \d+\. ([\w.-]+)[ :]", caption)
            out[subject.group(1) if subject else heading] = _table_after(lines, i)
    return out


def _recompute(run: Path) -> dict[tuple[str, str], dict]:
    """Independently from the raw rows: mean over trials per epoch, then max / argmax (first)."""
    data: dict[tuple[str, str], dict[int, dict[int, tuple[float, float]]]] = defaultdict(lambda: defaultdict(dict))
    with open(run / "metrics.csv") as f:
        for r in csv.DictReader(f):
            data[(r["experiment"], r["condition"])][int(r["trial"])][int(r["epoch"])] = (float(r["test_acc"]), float(r["train_loss"]))
    out = {}
    for key, trials in data.items():
        epochs = sorted(set.intersection(*(set(t) for t in trials.values())))
        acc = {e: sum(trials[t][e][0] for t in trials) / len(trials) for e in epochs}
        loss = {e: sum(trials[t][e][1] for t in trials) / len(trials) for e in epochs}
        ea = max(epochs, key=lambda e: (acc[e], -e))
        el = min(epochs, key=lambda e: (loss[e], e))
        out[key] = {"acc": acc[ea], "acc_epoch": ea, "loss": loss[el], "loss_epoch": el,
                    "acc_lo": min(trials[t][ea][0] for t in trials), "acc_hi": max(trials[t][ea][0] for t in trials),
                    "trials": len(trials), "epochs": len([e for e in epochs if e >= 1])}
    return out


def _paired_csv(run: Path) -> dict[tuple[str, str, str, str], dict]:
    with open(run / "paired.csv") as f:
        return {(r["experiment"], r["condition"], r["reference"], r["metric"]): r for r in csv.DictReader(f)}


def _pts(v: str | float, sign: float = 1.0) -> str:
    """A paired.csv fraction as the report prints it: points, 2 decimals (a float-noise zero as +0.00)."""
    x = sign * 100 * float(v)
    return f"{0.0 if abs(x) < 1e-9 else x:+.2f}"


def test_a_short_paper_with_results_first(report):
    md = _md(report)
    check_paper(md)
    assert len(md.splitlines()) < 400
    assert pdf_pages(report / "report.pdf") <= MAX_PAGES
    results = sections(md)["Results"]
    assert INTERVAL.search(results) and "95% t interval" in md
    assert "95% CI" not in md  # every interval names its level once, truly
    for name in ("curves", "contrasts", "target", "layers", "pools"):
        assert (report / "figures" / f"{name}.png").exists(), name


def test_no_absolute_path_and_no_paper_column(report, smoke_run, authors_run):
    md = _md(report)
    for p in (smoke_run, authors_run, report, Path.home()):
        assert str(p.resolve()) not in md and str(p) not in md
    assert not re.search(r"(^|[\s`(])/(tmp|home|root|Users|work)/", md)
    assert "Paper (" not in md and "Authors' outputs" not in md and "Ours - paper" not in md
    assert "no paper column" in md


def test_every_table_number_matches_metrics(report, smoke_run, authors_run):
    tables = _tables(_md(report), "Condition | Density | Trials | Epochs")
    runs = {"fc1-digits-text": smoke_run, "lenet5-digits32": smoke_run, "fc1-digits-authors": authors_run}
    assert set(tables) == set(runs)
    checked = 0
    for label, rows in tables.items():
        ref = _recompute(runs[label])
        exp = label.removesuffix("-text").removesuffix("-authors")
        assert {r["Condition"] for r in rows} == {c for e, c in ref if e == exp}
        for row in rows:
            r = ref[(exp, row["Condition"])]
            assert row["Trials"] == str(r["trials"]) and row["Epochs"] == str(r["epochs"])
            assert row["Max avg test acc (epoch)"] == f"{r['acc']:.4f} ({r['acc_epoch']})"
            assert row["Trials min-max"] == f"{r['acc_lo']:.4f}-{r['acc_hi']:.4f}"
            value, epoch = row["Min avg train loss (epoch)"].split()
            assert float(value) == pytest.approx(r["loss"], rel=1e-3) and epoch == f"({r['loss_epoch']})"
            checked += 1
    assert checked >= 23 + 7 + 7


def test_controls_and_claims_match_paired_csv(report, smoke_run):
    """Every cell is paired.csv's row: the interval in points and the verdict word, dense starts against full."""
    md = _md(report)
    paired = _paired_csv(smoke_run)
    controls = next(rows for key, rows in _tables(md, "Condition | 26.2% max acc").items())
    checked = dense = 0
    for row in controls:
        for header, cell in row.items():
            if header == "Condition" or cell == "-":
                continue
            pct, metric = header.split(" ", 1)
            level = str(int(float(pct.rstrip("%"))))
            cond = row["Condition"].removesuffix(" vs full")
            ref = "full" if row["Condition"].endswith(" vs full") else f"pruned-{level}"
            p = paired[("fc1-digits", f"{cond}-{level}", ref, metric.replace(" ", "_"))]
            assert cell == f"{_pts(p['mean_diff'])} [{_pts(p['ci_low'])}, {_pts(p['ci_high'])}] {p['verdict']}", \
                (row, header)
            checked += 1
            dense += ref == "full"
    n_controls = sum(1 for c in CONDITIONS.values() if c.uses_ticket) - 1  # every ticket condition but pruned
    assert checked == 2 * 2 * n_controls and dense == 2 * 2 * 2  # dense-dn and dense-dn-scaled against full
    claims = _tables(md, "Claim | Where")
    ordering = next(r for rows in claims.values() for r in rows if r["Claim"].startswith("Changing more"))
    flip = {"lower": "higher", "higher": "lower"}
    own = ordering["Evidence (95% intervals over trials, verdict)"].split("fc1-digits-text: ")[1].split(";")[0]
    for m in re.finditer(r"(\w+-\d+) - (\w+-\d+): " + INTERVAL.pattern + " " + VERDICT, own):
        cond, ref, mean, lo, hi, word = m.groups()
        if not cond.startswith("pruned-"):
            continue  # paired.csv compares with the ticket and the dense net only
        p = paired[("fc1-digits", ref, cond, "max_acc")]  # paired.csv holds ref - cond
        assert (mean, lo, hi) == (_pts(p["mean_diff"], -1), _pts(p["ci_high"], -1), _pts(p["ci_low"], -1))
        assert word == flip.get(p["verdict"], p["verdict"])
        checked += 1
    assert checked == 2 * 2 * n_controls + 2


TRAINING_CLAIMS = ("Changing more", "The 26.2% networks", "The full network")


def _verdicts_agree(md: str) -> None:
    """A training claim is held only when every contrast is higher, not held when one is lower (or, with
    none lower, equivalent), else not resolved; the sign claim is not held where a network-level
    interval of the D_n table excludes 0."""
    for rows in _tables(md, "Claim | Where").values():
        for r in rows:
            if not r["Claim"].startswith(TRAINING_CLAIMS):
                continue
            words = re.findall(INTERVAL.pattern + " " + VERDICT, r["Evidence (95% intervals over trials, verdict)"])
            words = [w[-1] for w in words]
            assert words, r
            if r["Verdict"] == "held":
                assert all(w == "higher" for w in words), r
            elif r["Verdict"].startswith("not held ("):
                assert "lower" in words, r
            elif r["Verdict"].startswith("not held beyond the margin"):
                assert "lower" not in words and "equivalent" in words, r
            else:
                assert r["Verdict"].startswith("not resolved"), r
                assert not {"lower", "equivalent"} & set(words) and not all(w == "higher" for w in words), r
    signs = next(r for rows in _tables(md, "Claim | Where").values() for r in rows
                 if r["Claim"].startswith("D_n has no bias"))
    cells = [r["% positive - 50 (points)"] for rows in _tables(md, "Experiment | Density").values() for r in rows
             if "% positive - 50 (points)" in r]
    off = [float(m.group(2)) > 0 or float(m.group(3)) < 0 for c in cells if (m := INTERVAL.search(c))]
    assert signs["Verdict"] != "held"
    assert signs["Verdict"].startswith("not held") == any(off), signs


def test_verdicts_agree_with_their_intervals(report):
    _verdicts_agree(_md(report))


def test_failed_ordering_is_reported_as_failed(smoke_run, report, tmp_path):
    from results.paired import PAIRED_COLUMNS, paired_rows
    from results.store import read_csv, write_csv

    bad = tmp_path / "bad"
    shutil.copytree(smoke_run, bad)
    rows = read_csv(bad / "metrics.csv")
    base = {"pruned-26": 0.30, "reinit-26": 0.50, "remask-26": 0.70}
    for r in rows:  # the same per-trial shift in every condition: each difference is exact, its test decisive
        if r["experiment"] == "fc1-digits" and r["condition"] in base:
            r["test_acc"] = base[r["condition"]] + 0.001 * int(r["epoch"]) + 0.01 * int(r["trial"])
    write_csv(bad / "metrics.csv", rows, list(rows[0]))
    write_csv(bad / "paired.csv", paired_rows(rows), PAIRED_COLUMNS)
    out = tmp_path / "rep"
    result = _invoke("--runs", str(bad), "--out", str(out), "--analysis", _analysis(report))
    assert result.exit_code == 0, result.output + repr(result.exception)
    md = (out / "report.md").read_text()
    ordering = next(r for rows in _tables(md, "Claim | Where").values() for r in rows if r["Claim"].startswith("Changing more"))
    assert ordering["Verdict"].startswith("not held ("), ordering
    claims = next(ln for ln in sections(md)["Results"].splitlines() if ln.startswith("The paper's accuracy claims"))
    clause = claims.split("pruned > reinit > remask: ")[1].split(";")[0]
    assert re.match(r"of \d+ contrasts (\d+ higher, )?\d+ lower", clause) and "higher in all" not in clause, clause
    _verdicts_agree(md)


def test_protocol_table_and_sentence_are_computed(report, smoke_run, authors_run):
    md = _md(report)
    text = {r["Condition"]: r for r in _tables(md, "Condition | Density | Trials")["fc1-digits-text"]}
    rows = next(iter(_tables(md, "Condition | Text max acc").values()))
    kept, total = 256, 360  # digits test set 360, authors' batch 256, drop_last
    for r in rows:
        acc = float(text[r["Condition"]]["Max avg test acc (epoch)"].split()[0])
        assert r["Text max acc"] == f"{acc:.4f}"
        assert r[f"Text x {kept}/{total}"] == f"{_recompute(smoke_run)[('fc1-digits', r['Condition'])]['acc'] * kept / total:.4f}"
    sentence = next(ln for ln in md.splitlines() if "the authors' protocol reaches" in ln)
    full = _recompute(smoke_run)[("fc1-digits", "full")]["acc"]
    assert f"{full:.4f} x {kept}/{total} = {full * kept / total:.4f}" in sentence


def test_reference_only_for_the_papers_experiment():
    import dataclasses

    from reports.reference import reference_for
    from reports.runs import ExperimentStatus
    from train.config import preset_experiment

    def exp(name: str, preset: str = "paper", **kw) -> ExperimentStatus:
        cfg = dataclasses.asdict(preset_experiment(preset, name, **kw))
        return ExperimentStatus(None, name, cfg, [], [], {}, {}, [], True, True, key=name, preset=preset)

    assert reference_for(exp("fc1-mnist")).header == "Paper (Fig. 1)"
    assert reference_for(exp("fc1-mnist")).rows["full"] == (0.9068, 96, 0.656e-3, 95)
    authors = reference_for(exp("fc1-mnist", protocol="authors"))
    assert authors.header == "Authors' outputs" and authors.rows["full"][:2] == (0.9068, 96)
    short = reference_for(exp("lenet5-cifar10", epochs=30))
    assert "epochs ≤ 30" in short.header and short.rows["full"][1] <= 30
    assert reference_for(exp("fc1-mnist", "smoke")) is None
    assert reference_for(exp("fc1-digits")) is None
    assert reference_for(exp("fc1-mnist", lr=3e-3)) is None


def test_pdf_text(report):
    from pypdf import PdfReader

    text = "\n".join(p.extract_text() for p in PdfReader(report / "report.pdf").pages)
    for needle in ("Abstract", "Methods", "Results", "Limitations", "References", "Appendix", "Max avg test acc",
                   "pruned-26", "claims", "Provenance", "sha256"):
        assert needle in text, needle


def test_pvalue_floor_and_formats():
    from reports import fmt

    assert fmt.pvalue(1 / 200, 199) == "< 1/200"
    assert fmt.pvalue(0.03, 199) == "0.03"
    assert fmt.pvalue(1e-150) == "1.0e-150"
    assert fmt.loss(0.0007015) == "0.0007015" and "e" not in fmt.loss(1.2e-6)
    assert fmt.interval(-1e-19, -2e-18, 3e-18, 1, 3, False) == "0.000 [0.000, 0.000]"


def test_partial_run_says_what_is_missing(smoke_run, report, tmp_path):
    part = tmp_path / "part"
    shutil.copytree(smoke_run, part)
    with open(smoke_run / "metrics.csv") as f:
        lines = f.readlines()
    kept = [lines[0]] + [ln for ln in lines[1:] if ln.startswith("fc1-digits") and ",remask-10," not in ln
                         and not (",reinit-10," in ln and ",1,2," in ln)]
    from results.store import atomic_write_bytes

    atomic_write_bytes(part / "metrics.csv", "".join(kept).encode())  # a valid checksum: not "damaged"
    shutil.rmtree(part / "lenet5-digits32")
    out = tmp_path / "rep"
    result = _invoke("--runs", str(part), "--out", str(out), "--analysis", _analysis(report))
    assert result.exit_code == 0, result.output + repr(result.exception)
    md = (out / "report.md").read_text()
    assert "lenet5-digits32" in md and "not trained yet" in md
    assert "conditions without metrics: remask-10" in md
    assert "reinit-10 has" in md  # trial 1 lacks epoch 2
    assert (out / "report.pdf").exists()


def test_run_without_metrics(smoke_run, report, tmp_path):
    """Pruned, no condition trained yet: no markers of condition stacks, so no metric rows anywhere
    (a deleted metrics.csv whose rows the markers keep is rebuilt: tests/test_reading_faults.py)."""
    part = tmp_path / "nometrics"
    shutil.copytree(smoke_run, part)
    (part / "metrics.csv").unlink()
    for marker in part.glob("*/done/train-*"):
        marker.unlink()
    out = tmp_path / "rep"
    result = _invoke("--runs", str(part), "--out", str(out), "--analysis", _analysis(report))
    assert result.exit_code == 0, result.output + repr(result.exception)
    md = (out / "report.md").read_text()
    assert "no condition has metrics yet" in md and "no metrics yet; no table" in md


def test_train_prints_summary_table(smoke_run):
    from train.cli import summary_text

    text = summary_text(smoke_run).splitlines()
    assert text[0].split()[:2] == ["experiment", "condition"]
    assert any(" pruned-26 " in ln for ln in text) and len({len(ln.rstrip()) > 0 for ln in text}) == 1


def test_bad_input_exit_2_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "dn.cli", "report", "--runs", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and "not a dn results folder" in err[0]
