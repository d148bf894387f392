"""The `--protocol authors` runs against the authors' published outputs, for the report.

The numbers come from `studies.authors_match` (per condition: max average accuracy and min
average train loss over the epochs both have, the share of epochs inside the authors' min-max
band over trials ±0.003; per ticket round: KS to their pooled θ_LT beside our own trial-to-trial
KS). A run shorter than theirs is compared over its own epochs only.
"""

from __future__ import annotations

from reports import fmt
from reports.doc import Table
from reports.runs import ExperimentStatus
from studies.authors_match import has_reference, match

BAND_TARGET = 0.8  # the share of epochs in band that the reproduction aims for


def authors_runs(exps: list[ExperimentStatus]) -> list[ExperimentStatus]:
    return [e for e in exps if e.protocol == "authors" and e.summary and has_reference(e.name)
            and e.preset == "paper"]


def authors_results(exps: list[ExperimentStatus]) -> list[tuple[ExperimentStatus, dict]]:
    """Each authors-protocol run with its comparison, computed once for the table and the finding."""
    return [(e, match(e.run, e.name)) for e in authors_runs(exps)]


def authors_table(result: dict, caption: str) -> Table:
    rows = [[c["condition"], f"{c['first_epoch']}-{c['last_epoch']}", fmt.acc(c["max_avg_acc"]),
             fmt.acc(c["authors_max_avg_acc"]), fmt.points(c["diff"]), fmt.loss(c["min_avg_train_loss"]),
             fmt.loss(c["authors_min_avg_train_loss"]), f"{c['loss_ratio']:.2f}", f"{100 * c['in_band']:.0f}%"]
            for c in result["conditions"]]
    rounds = "; ".join(f"round {r['round']}: KS to the authors' pooled θ_LT {r['ks_to_authors']:.4f} "
                       f"(ours 2 trials against 3: {r['ks_own_halves']:.4f})" for r in result["rounds"])
    return Table(["Condition", "Epochs", "Max avg acc", "Authors", "Diff (points)", "Min avg train loss", "Authors",
                  "Ratio", "Epochs in band"], rows, caption=f"{caption} {rounds}." if rounds else caption)


def authors_sentence(result: dict, label: str, table: str) -> str | None:
    """How the run reproduces the authors' outputs, with the weakest condition named."""
    conds = result["conditions"]
    if not conds:
        return None
    full = next((c for c in conds if c["condition"] == "full"), conds[0])
    worst = min(conds, key=lambda c: c["in_band"])
    ok = sum(c["in_band"] >= BAND_TARGET for c in conds)
    text = (f"{label} against the authors' published outputs: {full['condition']}'s trial-mean test accuracy lies "
            f"inside their min-max band over trials (±0.003) on {100 * full['in_band']:.0f}% of epochs "
            f"{full['first_epoch']}-{full['last_epoch']}, and {ok} of {len(conds)} conditions reach "
            f"{100 * BAND_TARGET:.0f}% (lowest: {worst['condition']}, {100 * worst['in_band']:.0f}%); max average "
            f"accuracies differ by {fmt.points(min(c['diff'] for c in conds))} to "
            f"{fmt.points(max(c['diff'] for c in conds))} points")
    if result["rounds"]:
        ks = [r["ks_to_authors"] for r in result["rounds"]]
        text += f", and θ_LT is within KS {max(ks):.4f} of theirs"
    return text + f" ({table})."
