"""The protocol finding: the same experiment under the paper's text and under its authors' code.

The authors' test loop drops the last partial batch but divides by the whole test set, so
their accuracy is capped at kept/total (MNIST, batch 1024: 9216/10000). The check is computed,
never typed: our text-protocol accuracy times kept/total against the paper's (or the authors'
run's) number, and the share of the gap that this rescaling accounts for.
"""

from __future__ import annotations

import dataclasses
import math

from reports import fmt
from reports.doc import Table
from reports.reference import Reference, reference_for
from reports.runs import ExperimentStatus
from reports.trialstats import welch
from results import contrasts

PAPER_KINDS = ("full", "pruned", "reinit", "remask")  # the table holds the paper's conditions


def protocol_pairs(exps: list[ExperimentStatus]) -> list[tuple[ExperimentStatus, ExperimentStatus]]:
    """(text, authors) pairs of the same experiment, both with metrics, over their common epochs.

    Max accuracy and min train loss depend on how long a run trains, so a run with more epochs is
    cut to the other's (`common_epochs`) before the two are compared.
    """
    out = []
    for t in exps:
        if t.protocol != "text" or not t.summary:
            continue
        for a in exps:
            if a.protocol == "authors" and a.name == t.name and a.summary:
                cap = common_epochs(t, a)
                out.append((upto(t, cap), upto(a, cap)))
                break
    return out


def common_epochs(t: ExperimentStatus, a: ExperimentStatus) -> int:
    return min(t.epochs, a.epochs)


def upto(exp: ExperimentStatus, last_epoch: int) -> ExperimentStatus:
    """The experiment with its metric rows cut to epochs <= last_epoch (its summary recomputed)."""
    if exp.epochs <= last_epoch:
        return exp
    from results.summary import summarize

    rows = [r for r in exp.rows if int(r["epoch"]) <= last_epoch]
    config = {**exp.config, "epochs": last_epoch}
    return dataclasses.replace(exp, rows=rows, summary=summarize(rows), config=config)


def welch_rows(t: ExperimentStatus, a: ExperimentStatus) -> dict[str, dict]:
    """{condition: authors - text in max accuracy}, Welch over the two runs' trials, Holm-adjusted over the
    conditions both ran, with a verdict: lower/higher where the adjusted test rejects, else not resolved
    (no equivalence: two protocols are not expected to agree)."""
    ts = {s["condition"] for s in t.summary}
    rows = {s["condition"]: w for s in a.summary if s["condition"] in ts and (w := welch(a, t, s["condition"]))}
    for w, p in zip(rows.values(), contrasts.holm([w["p_value"] for w in rows.values()]), strict=True):
        w.update(p_holm=float(p), p_tost=float("nan"), n_trials=min(w["n_a"], w["n_b"]), metric="max_acc")
        w["verdict"] = contrasts.verdict(w)
    return rows


def _welch_cell(w: dict | None) -> str:
    return f"{fmt.ci_of(w)} {w['verdict']}" if w else "-"


def evaluated(exp: ExperimentStatus) -> tuple[int, int]:
    """(test images evaluated, divisor) of the experiment's test accuracy."""
    total = int(exp.data.get("test", 0))
    if not exp.config.get("test_drop_last") or not total:
        return total, total
    batch = int(exp.config["batch_size"])
    return (total // batch) * batch, total


def _reference(t: ExperimentStatus, a: ExperimentStatus) -> Reference | None:
    return reference_for(t) or reference_for(a)


def protocol_table(t: ExperimentStatus, a: ExperimentStatus, caption: str) -> Table:
    ref = _reference(t, a)
    kept, total = evaluated(a)
    ratio = kept / total if total else math.nan
    ts = {s["condition"]: s for s in t.summary}
    common = [s for s in a.summary if s["condition"] in ts and s["condition_name"] in PAPER_KINDS]
    headers = ["Condition", "Text max acc", "Authors max acc", "Authors - text (points)", f"Text x {kept}/{total}"]
    if ref:
        headers.append(f"{ref.header} acc")
    headers += ["Text min loss", "Authors min loss"] + ([f"{ref.header} loss"] if ref else [])
    rows = []
    tests = welch_rows(t, a)
    for s in common:
        c = s["condition"]
        row = [c, fmt.acc(ts[c]["max_avg_acc"]), fmt.acc(s["max_avg_acc"]), _welch_cell(tests.get(c)),
               fmt.acc(ts[c]["max_avg_acc"] * ratio)]
        p = ref.rows.get(c) if ref else None
        if ref:
            row.append(fmt.acc(p[0]) if p else "-")
        row += [fmt.loss(ts[c]["min_avg_train_loss"]), fmt.loss(s["min_avg_train_loss"])]
        if ref:
            row.append(fmt.loss(p[2]) if p else "-")
        rows.append(row)
    return Table(headers, rows, caption=caption)


def protocol_sentence(t: ExperimentStatus, a: ExperimentStatus, table: str) -> str | None:
    """One generated sentence: the measured gap and how much of it the authors' measurement explains."""
    ts = {s["condition"]: s for s in t.summary}
    common = [s["condition"] for s in a.summary if s["condition"] in ts]
    if not common:
        return None
    c = "full" if "full" in common else common[0]
    T = ts[c]["max_avg_acc"]
    A = next(s["max_avg_acc"] for s in a.summary if s["condition"] == c)
    w = welch_rows(t, a).get(c)
    kept, total = evaluated(a)
    text = (f"On {t.name} ({c}), the authors' protocol reaches a max accuracy of {fmt.acc(A)} against "
            f"{fmt.acc(T)} under the paper's text (authors - text {_welch_cell(w)}: Welch, Holm over the "
            f"{len(welch_rows(t, a))} conditions both ran)")
    if not total or kept == total:
        return text + f"; both count every test image ({table})."
    ratio = kept / total
    ref = _reference(t, a)
    p = ref.rows.get(c) if ref else None
    target, name = (p[0], "the paper's") if p else (A, "our authors-protocol run's")
    scaled = T * ratio
    text += (f"; the authors' test loop evaluates {kept} of {total} test images but divides by {total} "
             f"(ceiling {ratio:.4f}), and {fmt.acc(T)} x {kept}/{total} = {fmt.acc(scaled)}, "
             f"{fmt.points(scaled - target)} points from {name} {fmt.acc(target)}")
    gap = T - target
    if abs(gap) < 1e-9:
        return text + f" ({table})."
    share = 1 - abs(scaled - target) / abs(gap)
    if share >= 0.8:
        tail = f"so that measurement accounts for {100 * share:.0f}% of the {fmt.points(abs(gap), False)}-point gap"
    else:
        tail = (f"so that measurement accounts for only {100 * max(share, 0):.0f}% of the "
                f"{fmt.points(abs(gap), False)}-point gap")
    return text + f", {tail} ({table})."
