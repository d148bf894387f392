"""Limitations (generated from the runs: trials, epochs, device, architectures, margins) and References.

A limitation that states a number reads it from the runs' config.json and paired rows, like every
other sentence of the report; the references are the works the Results cite where a finding
replicates or departs from theirs.
"""

from __future__ import annotations

import numpy as np

from reports import fmt, verdicts
from reports.doc import Block, Bullets, Heading
from reports.paper import PAPER_TABLES
from reports.runs import ExperimentStatus

REFERENCES = (
    "Frankle, J. and Carbin, M. (2019). The Lottery Ticket Hypothesis: Finding Sparse, Trainable Neural Networks. "
    "ICLR 2019.",
    "Zhou, H., Lan, J., Liu, R. and Yosinski, J. (2019). Deconstructing Lottery Tickets: Zeros, Signs, and the "
    "Supermask. NeurIPS 2019.",
    "Frankle, J., Dziugaite, G. K., Roy, D. M. and Carbin, M. (2020). Linear Mode Connectivity and the Lottery "
    "Ticket Hypothesis. ICML 2020.",
    "Anonymous (under review). Lottery Ticket Initialization: Exploring the Uniqueness of Mask Topology and Weight "
    "Distribution (the D_n paper whose claims this report checks; its authors' code: "
    "github.com/dmanikt/lottery-ticket-distributions).",
)


def trials_limit(exps: list[ExperimentStatus]) -> str | None:
    """How small a difference the trials resolve: the median half-width of a paired max-accuracy interval."""
    parts = []
    for e in exps:
        halves = [(r["ci_high"] - r["ci_low"]) / 2 for r in verdicts.rows(e)
                  if r["metric"] == "max_acc" and fmt.finite(r["ci_low"]) and fmt.finite(r["ci_high"])]
        if halves:
            parts.append(f"{e.label} ±{100 * float(np.median(halves)):.2f}")
    if not parts:
        return None
    trials = fmt.join(sorted({str(e.trials) for e in exps}), "or")
    return (f"Trials: {trials} per run. The median half-width of a paired 95% interval of max accuracy is "
            f"{fmt.join(parts)} points, so smaller differences stay not resolved, and an equivalence needs the "
            "whole interval inside the margin.")


def epochs_limit(exps: list[ExperimentStatus]) -> str | None:
    from train.config import PAPER_EXPERIMENTS

    short = []
    for e in exps:
        paper = PAPER_TABLES.get(e.model)
        if paper and e.name in PAPER_EXPERIMENTS and e.epochs < paper[2]:
            wall = e.run.config.get("wall_time_s", {}).get(e.name) if e.run is not None else None
            device = (e.run.config.get("engine", {}).get("device") if e.run is not None else None) or "?"
            took = f", {wall / 60:.0f} min on {device}" if fmt.finite(wall) else f" on {device}"
            short.append(f"{e.label} trains {e.epochs} epochs, not the paper's {paper[2]}{took}")
    if not short:
        return None
    return ("Epochs: " + "; ".join(short) + ". Their maxima, curves and times to target are over those epochs only, "
            "and the paper's and the authors' numbers are set beside ours over the same epochs.")


def scope_limit(exps: list[ExperimentStatus], others: list[dict] | None = None) -> str:
    """The networks trained; `others` are the rows of the cross-architecture section (more runs' D_n only)."""
    nets = fmt.join(list(dict.fromkeys(f"{e.model} on {e.config['dataset']}" for e in exps)))
    rewinds = any(e.config.get("rewind_step") for e in exps)
    text = f"Architectures: the accuracy results cover only {nets}, small networks"
    if not rewinds:
        text += (", every start rewound to θ0; Frankle et al. (2020) find that larger networks need rewinding to an "
                 "early iterate θ_k for a ticket to train to full accuracy, which these runs do not test")
    extra = list(dict.fromkeys(r["label"] for r in others or [] if r["experiment"] not in {e.name for e in exps}))
    if extra:
        text += (f". D_n across architectures adds {fmt.join(extra)} (their D_n only; their settings, reduced to a "
                 "CPU, are in docs/runs/README.md)")
    return text + "."


def margin_limit(exps: list[ExperimentStatus]) -> str | None:
    late = [e.label for e in exps if e.rows and verdicts.margins(e) is None]
    if not late:
        return None
    return (f"Margins: {fmt.join(late)} recorded no equivalence margin when they started; their equivalence verdicts "
            "use the toolkit's default (results.contrasts.MARGINS), not a margin the run declared.")


def limitations(exps: list[ExperimentStatus], analysis: dict | None, others: list[dict] | None = None) -> list[Block]:
    shown = [e for e in exps if e.config]
    items = [trials_limit(shown), epochs_limit(shown), scope_limit(shown, others), margin_limit(shown)]
    if analysis and analysis.get("quick"):
        items.append("D_n analysis: quick settings (fewer resamples): its permutation p-values have a higher floor.")
    return [Heading("Limitations", 2), Bullets([i for i in items if i])]


def references() -> list[Block]:
    return [Heading("References", 2), Bullets(list(REFERENCES))]
