"""The Appendix: the long tables the Results cite, each numbered where the Results can refer to it.

Per experiment, the paper's Figure 1/3 table (max of the trial-averaged accuracy, min of the
trial-averaged train loss); the paper's claims with every contrast and verdict; each condition
against the ticket; the two protocols; our authors-protocol runs against the authors' published
outputs; the D_n statistics per network; DnModel; provenance. Every test of the D_n analysis is in
analysis/analysis.csv.
"""

from __future__ import annotations

from collections.abc import Callable

from reports import verdicts
from reports.authors_table import authors_table
from reports.claims import Claim
from reports.controls import controls_table, has_controls
from reports.divergence import describe as describe_divergence
from reports.divergence import divergence_reading
from reports.dnstats import compare_table, dn_table
from reports.doc import Block, Heading, Para, Table
from reports.model import model_table
from reports.protocol import protocol_pairs, protocol_table
from reports.reference import reference_for
from reports.runs import ExperimentStatus
from reports.tables import experiment_table

Number = Callable[[str, str, str], str]
TRAINING = ("ordering", "sparsity", "full", "lenet5")  # claims whose evidence is a list of contrasts


def _what(e: ExperimentStatus) -> str:
    """The table's caption: what was run, where it is, and what it is set beside (or why nothing)."""
    from train.config import PAPER_EXPERIMENTS

    ref = reference_for(e)
    base = (f"{e.label} ({e.config['model']} on {e.config['dataset']}, {e.protocol} protocol, preset {e.preset}, "
            f"{e.trials} trials x {e.epochs} epochs, `{e.run_name}`): max of the trial-averaged test accuracy and min "
            "of the trial-averaged train loss, with their epochs and the trials' range at that epoch")
    if ref:
        return f"{base}, beside {ref.source}."
    why = (f"{e.config['dataset']} is not the paper's dataset for {e.model}" if e.name not in PAPER_EXPERIMENTS
           else f"preset {e.preset}, not the paper's settings")
    return f"{base}; not the paper's experiment ({why}), so no paper column."


def experiment_tables(exps: list[ExperimentStatus], number: Number) -> list[Block]:
    blocks: list[Block] = [Heading("Results per experiment", 3)]
    for e in exps:
        if not e.summary:
            why = ("tickets imported from another tool, no condition trained here (`dn train --tickets` trains them)"
                   if e.preset == "import" else "no metrics yet")
            blocks.append(Para(f"{e.label}: {why}; no table."))
            continue
        blocks.append(experiment_table(e, reference_for(e), number(f"table:{e.key}", "table", _what(e))))
        if diverged := describe_divergence(e.rows):  # results/divergence.py: spiked or diverged models
            blocks.append(Para(f"{e.label}: {diverged}"))
            if reading := divergence_reading(e):
                blocks.append(Para(f"{e.label}: {reading}"))
    return blocks


def _grouped(c: Claim) -> str:
    """The claim's contrasts with each experiment named once: 'fc1-mnist-text: a - b +0.1 [...] higher, ...'."""
    groups: dict[str, list[str]] = {}
    for p in c.parts:
        groups.setdefault(p.where, []).append(p.text.removeprefix(f"{p.where} "))
    return "; ".join(f"{where}: {', '.join(texts)}" for where, texts in groups.items()) or "no data"


def claims_table(claims: dict[str, Claim], number: Number) -> list[Block]:
    rows = [[c.claim, c.source, c.verdict, _grouped(c) if c.key in TRAINING else
             f"one statistic per network in each of {len(c.tested)} cells: the D_n statistics below"]
            for c in claims.values() if c.parts]
    if not rows:
        return []
    margin = verdicts.margins_text([p.row for c in claims.values() if c.key in TRAINING for p in c.tested])
    return [Heading("The paper's claims, checked", 3),
            Table(["Claim", "Where", "Verdict", "Evidence (95% intervals over trials, verdict)"], rows,
                  caption=number("claims", "table", "Each claim per experiment: held when every contrast is higher "
                                 "on the claimed side (Holm-adjusted), not held when one is lower or equivalent (TOST "
                                 f"at {margin}), else not resolved; D_n claims from one-sample intervals over "
                                 "networks."), widths=[0.2, 0.07, 0.15, 0.58])]


def controls_tables(exps: list[ExperimentStatus], number: Number) -> list[Block]:
    shown = [e for e in exps if has_controls(e) and e.summary]
    blocks: list[Block] = [Heading("What a ticket carries: each condition against its reference", 3)] if shown else []
    for i, e in enumerate(shown):
        key = "controls" if i == 0 else f"controls:{e.key}"
        margin = verdicts.margins_text([r for r in verdicts.rows(e) if r["metric"] == "max_acc"])
        t = controls_table(e, number(key, "table", f"{e.label}: condition - ticket (pruned) in points of test "
                                     "accuracy, paired over trials, and its verdict (equivalent: TOST at "
                                     f"{margin}); dense starts against full."))
        if t:
            blocks.append(t)
    return blocks


def protocol_tables(exps: list[ExperimentStatus], authors: list[tuple[ExperimentStatus, dict]],
                    number: Number) -> list[Block]:
    blocks: list[Block] = []
    for t, a in protocol_pairs(exps):
        blocks.append(Heading(f"{t.name}: the paper's text against its authors' code", 3))
        blocks.append(protocol_table(t, a, number(f"protocol:{t.name}", "table",
                                                  f"{t.name}: max avg test accuracy and min avg train loss under "
                                                  f"both protocols over epochs 1-{t.epochs}; authors - text is a Welch "
                                                  "interval in points with its Holm-adjusted verdict.")))
    for e, result in authors:
        blocks.append(Heading(f"{e.label} against the authors' published outputs", 3))
        blocks.append(authors_table(result, number(
            f"authors:{e.key}", "table", f"{e.label} against the authors' published per-trial outputs "
            "(dmanikt/lottery-ticket-distributions; studies/authors_reference.csv), over the epochs both have: max "
            "avg test accuracy, min avg train loss, and the share of epochs whose trial-mean accuracy lies inside the "
            "authors' min-max band over trials ±0.003.")))
    return blocks


def dn_tables(analysis: dict | None, exps: list[ExperimentStatus], number: Number) -> list[Block]:
    blocks: list[Block] = []
    if analysis:
        n_tests = len(analysis.get("tests", [])) + len(analysis.get("trial_level", []))
        table = dn_table(analysis, number("dn", "table", "D_n questions per experiment and ticket density: one "
                                          "statistic per network, its mean and 95% t interval over trials, and the "
                                          f"verdict. All {n_tests} tests, with what the pooled weights show, are in "
                                          "analysis/analysis.csv (docs/analysis-format.md)."))
        if table:
            blocks += [Heading("D_n statistics", 3), table]
        compare = compare_table(analysis, number("dn:compare", "table", "FC-1 against LeNet5: per network, the KS "
                                                 "distance of its sd-scaled θ_LT to the other architecture's minus "
                                                 "that to its own architecture's other networks."))
        if compare:
            blocks.append(compare)
    mt = model_table(exps, number("model", "table", "DnModel (docs/dn-model.md), fit on trial 0 (all rounds, or "
                                  "rounds 1-6 for the extrapolation), against the held-out trials' pooled θ_LT: KS "
                                  "over those trials, the run's trial-to-trial KS (noise floor) and their ratio; the "
                                  "layer-threshold model is its no-noise limit."))
    if mt:
        blocks += [Heading("A model of D_n", 3), mt]
    return blocks


def appendix(exps: list[ExperimentStatus], claims: dict[str, Claim], analysis: dict | None,
             authors: list[tuple[ExperimentStatus, dict]], number: Number) -> list[Block]:
    return ([Heading("Appendix", 2)] + experiment_tables(exps, number) + claims_table(claims, number)
            + controls_tables(exps, number) + protocol_tables(exps, authors, number)
            + dn_tables(analysis, exps, number))
