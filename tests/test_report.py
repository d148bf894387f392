"""dn report: builds from a smoke run, every table number matches metrics.csv, partial runs, bad input."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

import dn.cli


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> Path:
    from train.config import RunConfig, preset_experiment
    from train.runner import train_run

    tmp = tmp_path_factory.mktemp("run")
    prebuilt = os.environ.get("DN_REPORT_TEST_RUN")  # reuse a smoke run already trained (slow machines)
    if prebuilt:
        shutil.copytree(prebuilt, tmp, dirs_exist_ok=True)
        return tmp
    config = RunConfig((preset_experiment("smoke", "fc1-digits"), preset_experiment("smoke", "lenet5-digits32")),
                       seed=0, preset="smoke")
    train_run(config, tmp, device="cpu", progress=False)
    return tmp


def _invoke(*args: str):
    dn.cli._register()
    return CliRunner().invoke(dn.cli.app, ["report", *args])


@pytest.fixture(scope="module")
def report(smoke_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    result = _invoke("--runs", str(smoke_run), "--out", str(out), "--quick")
    assert result.exit_code == 0, result.output + repr(result.exception)
    return out


def _tables(md: str) -> dict[tuple[str, str], list[dict]]:
    """{(experiment heading, first numeric header): rows} of the summary tables."""
    out, heading, lines = {}, None, md.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("### "):
            heading = line[4:].strip()
        if line.startswith("| Condition | Density"):
            headers = [h.strip() for h in line.strip("|").split("|")]
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(dict(zip(headers, [c.strip() for c in lines[i].strip("|").split("|")], strict=True)))
                i += 1
            out[(heading, headers[4])] = rows
            continue
        i += 1
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
                    "loss_lo": min(trials[t][el][1] for t in trials), "loss_hi": max(trials[t][el][1] for t in trials),
                    "trials": len(trials), "epochs": len(epochs)}
    return out


def test_report_files_and_pdf_text(report):
    from pypdf import PdfReader

    assert (report / "report.md").exists() and (report / "report.pdf").exists()
    assert list((report / "figures").glob("*.png"))
    text = "\n".join(p.extract_text() for p in PdfReader(report / "report.pdf").pages)
    for needle in ("Max avg test acc", "Min avg train loss", "Paper acc", "full", "pruned-26", "reinit-10", "remask-10",
                   "claims", "sha256"):
        assert needle in text, needle


def test_every_table_number_matches_metrics(report, smoke_run):
    from reports.paper import paper_row

    ref = _recompute(smoke_run)
    tables = _tables((report / "report.md").read_text())
    assert {k[0] for k in tables} == {"fc1-digits", "lenet5-digits32"}
    checked = 0
    for (exp, kind), rows in tables.items():
        assert len(rows) == 7
        model = exp.split("-")[0]
        for row in rows:
            r = ref[(exp, row["Condition"])]
            assert row["Trials"] == str(r["trials"]) and row["Epochs"] == str(r["epochs"])
            p = paper_row(model, row["Condition"])
            if kind == "Max avg test acc":
                assert row[kind] == f"{r['acc']:.4f}"
                assert row["Epoch"] == str(r["acc_epoch"])
                assert row["Trials min-max"] == f"{r['acc_lo']:.4f}-{r['acc_hi']:.4f}"
                assert row["Paper acc"] == f"{p[0]:.4f}"
                assert float(row["Ours - paper"]) == pytest.approx(r["acc"] - p[0], abs=6e-5)
            else:
                assert row[kind] == f"{r['loss']:.4g}"
                assert row["Epoch"] == str(r["loss_epoch"])
                assert row["Trials min-max"] == f"{r['loss_lo']:.4g}-{r['loss_hi']:.4g}"
                assert float(row["Paper loss"]) == pytest.approx(p[2], rel=1e-3)
                assert float(row["Ours - paper"]) == pytest.approx(r["loss"] - p[2], rel=1e-3, abs=1e-9)
            checked += 1
    assert checked == 28


def test_paper_typo_read_as_e_minus_3():
    from reports.paper import FIGURE1_FC1, FIGURE3_LENET5

    assert FIGURE1_FC1["reinit-26"][2] == pytest.approx(2.395e-3)
    assert FIGURE3_LENET5["full"] == (0.5861, 89, 0.2341, 300)


def test_partial_run_says_what_is_missing(smoke_run, report, tmp_path):
    part = tmp_path / "part"
    shutil.copytree(smoke_run, part)
    with open(smoke_run / "metrics.csv") as f:
        lines = f.readlines()
    kept = [lines[0]] + [ln for ln in lines[1:] if ln.startswith("fc1-digits") and ",remask-10," not in ln
                         and not (",reinit-10," in ln and ",1,2," in ln)]
    (part / "metrics.csv").write_text("".join(kept))
    shutil.rmtree(part / "lenet5-digits32")
    out = tmp_path / "rep"
    result = _invoke("--runs", str(part), "--out", str(out), "--analysis", str(report / "analysis"))
    assert result.exit_code == 0, result.output + repr(result.exception)
    md = (out / "report.md").read_text()
    assert "lenet5-digits32" in md and "not trained yet" in md
    assert "conditions without metrics: remask-10" in md
    assert "reinit-10 has" in md  # trial 1 lacks epoch 2
    assert (out / "report.pdf").exists()


def test_run_without_metrics(smoke_run, report, tmp_path):
    part = tmp_path / "nometrics"
    shutil.copytree(smoke_run, part)
    (part / "metrics.csv").unlink()
    out = tmp_path / "rep"
    result = _invoke("--runs", str(part), "--out", str(out), "--analysis", str(report / "analysis"))
    assert result.exit_code == 0, result.output + repr(result.exception)
    md = (out / "report.md").read_text()
    assert "no condition has metrics yet" in md and "no metrics yet; no table" in md


def test_bad_input_exit_2_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "dn.cli", "report", "--runs", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and "not a dn results folder" in err[0]
