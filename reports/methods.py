"""The Methods section, written from the runs' config.json and the code's own declarations.

Networks and data come from each run's config and layers.json; the protocols' differences from
train.settings (each setting's help and its value under each protocol); the conditions' one-line
definitions from train.conditions.CONDITIONS (their docstrings), so a new condition is defined here
without a copy; the statistics from results.contrasts (Holm families, the TOST margins the runs
recorded) and results.paired (the target of epochs to target).
"""

from __future__ import annotations

from collections import defaultdict

from reports import fmt, verdicts
from reports.doc import Block, Bullets, Heading, Para
from reports.runs import ExperimentStatus
from reports.trialstats import levels
from results import contrasts
from results.paired import TARGET_DROP

AUTHORS_REPO = "dmanikt/lottery-ticket-distributions"


def _layers(e: ExperimentStatus) -> str:
    try:
        layers = e.run.experiment(e.name).layers
    except Exception:  # noqa: BLE001 - no tickets yet: the network is named without its layers
        return ""
    total = sum(_size(layer["shape"]) for layer in layers)
    return f"; weight layers {', '.join(layer['name'] for layer in layers)}, {total:,} weights"


def _size(shape: list[int]) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def networks(exps: list[ExperimentStatus]) -> str:
    seen: dict[str, str] = {}
    for e in exps:
        seen.setdefault(e.name, f"{e.model} on {e.config['dataset']} ({e.data.get('train', '?')} train / "
                                f"{e.data.get('test', '?')} test images{_layers(e)})")
    return "Networks and data: " + "; ".join(seen.values()) + "."


def protocols(exps: list[ExperimentStatus]) -> str:
    """Which protocols ran and every setting in which they differ, from train.settings."""
    from train import settings

    ran = sorted({e.protocol for e in exps})
    text = ("Protocols: text follows the paper's words; authors follows its authors' code "
            f"({AUTHORS_REPO}). ")
    text += f"This report has {fmt.join(ran)} runs. " if len(ran) > 1 else f"This report has only {ran[0]} runs. "
    differ = [s for s in settings.SETTINGS.values() if s.text != s.authors
              and len({settings.show(e.config.get(s.name)) for e in exps if s.name in e.config}) > 1]
    if differ:
        text += "Their settings (text / authors; docs/protocols.md) differ in " + "; ".join(
            f"{s.name} {settings.show(s.text)} / {settings.show(s.authors)}" for s in differ) + "."
    return text


def _values(exps: list[ExperimentStatus], key: str) -> str:
    """'0.2' when every experiment has one value, else 'fc1-mnist 100, lenet5-cifar10 30'."""
    per = {e.label: fmt.join([str(x) for x in v]) if isinstance(v := e.config.get(key), list) else str(v)
           for e in exps}
    return next(iter(per.values())) if len(set(per.values())) == 1 else ", ".join(f"{k} {v}" for k, v in per.items())


def pruning(exps: list[ExperimentStatus]) -> str:
    densities = sorted({fmt.pct(s["density"]) for e in exps for s in e.summary if s["condition_name"] == "pruned"},
                       key=lambda p: -float(p.rstrip("%")))
    rewind = fmt.join(sorted({f"θ_k, the dense net after {e.config['rewind_step']} ({e.label})" for e in exps
                              if e.config.get("rewind_step")}))
    return (f"Iterative magnitude pruning (the paper's Algorithm 1, after Frankle & Carbin 2019): each trial draws θ0, "
            f"trains {_values(exps, 'prune_epochs')} epochs, removes a share {_values(exps, 'prune_rate')} of the "
            f"surviving weights by magnitude and rewinds the rest to θ0{' or ' + rewind if rewind else ''}, for {_values(exps, 'prune_rounds')} rounds. "
            f"The masks of rounds {_values(exps, 'ticket_rounds')} (densities {fmt.join(densities) or 'n/a'}) are the "
            f"tickets; every condition below is trained from them for {_values(exps, 'epochs')} epochs with Adam "
            f"(learning rate {_values(exps, 'lr')}, weight decay {_values(exps, 'weight_decay')}, batch "
            f"{_values(exps, 'batch_size')}). θ_LT are the initial weights a ticket keeps; D_n is their distribution "
            "and D_θ that of all initial weights.")


def conditions(exps: list[ExperimentStatus]) -> list[str]:
    """One line per condition that ran, in the registry's order, from its docstring."""
    from train.conditions import CONDITIONS

    ran = {c for e in exps for c in e.config.get("conditions", [])}
    return [f"{name}: {c.summary}" for name, c in CONDITIONS.items() if name in ran]


def _which(labels: list[str], exps: list[ExperimentStatus]) -> str:
    """'these runs' when `labels` are all of them, else their names."""
    return "these runs'" if len(labels) == len([e for e in exps if e.rows]) else f"the runs {fmt.join(labels)}'s"


def _margins(exps: list[ExperimentStatus]) -> str:
    recorded, default = defaultdict(list), []
    for e in exps:
        m = (verdicts.margins(e) or {}).get(e.name)
        if m is not None:
            recorded[f"{100 * m['max_acc']:g}"].append(e.label)
        elif e.rows:
            default.append(e.label)
    parts = [f"±{pts} points, recorded in config.json `equivalence_margins` ({fmt.join(labels)})"
             for pts, labels in recorded.items()]
    if default:
        parts.append(f"the default ±{100 * contrasts.MARGINS['max_acc']:g} points (results.contrasts.MARGINS; "
                     f"{_which(default, exps)} config.json predates the record of a margin)")
    return fmt.join(parts)


def statistics(exps: list[ExperimentStatus]) -> str:
    trials = _values(exps, "trials")
    recomputed = [e.label for e in exps if e.rows and verdicts.source(e) == verdicts.RECOMPUTED]
    text = (f"Trials and statistics: {trials} trials per run. A trial's conditions share θ0 and the data order, so "
            "each contrast (a condition against its round's ticket, against full, or a named control pair) is the "
            "mean of per-trial differences with a 95% t interval and a paired t test (paired.csv). p-values are "
            "Holm-adjusted per family (contrast kind x experiment x ticket round) and metric; the paper's claims that "
            "paired.csv does not pair (reinit against remask, one condition at two densities) form one family per "
            f"experiment. Equivalence: TOST at {_margins(exps)}. Verdict: lower or higher when the adjusted test "
            "rejects at 5%, equivalent when TOST does, else not resolved. Epochs to target: the first epoch at full's "
            f"trial-mean max accuracy less {100 * TARGET_DROP:g} points; a trial that never gets there is censored, "
            "and censored contrasts are given by the share that reached it and Kaplan-Meier medians, never a t "
            "interval. Protocols: Welch's t test per condition, Holm-adjusted. D_n: one statistic per network, a "
            "one-sample t interval over trials.")
    if recomputed:
        text += (f" {_which(recomputed, exps).capitalize()} paired.csv predates its verdict columns; its rows are "
                 "recomputed from metrics.csv by results.paired.paired_rows, the function that writes it.")
    return text


def _suffixes(exps: list[ExperimentStatus]) -> str:
    found = sorted({lv for e in exps for lv in levels(e)}, key=int, reverse=True)
    if not found:
        return ""
    return (f" (a label's suffix, {fmt.join(['-' + lv for lv in found], 'or')}, is its ticket's density in percent, "
            "rounded down)")


def methods(exps: list[ExperimentStatus]) -> list[Block]:
    shown = [e for e in exps if e.config]
    blocks: list[Block] = [Heading("Methods", 2), Para(networks(shown)), Para(protocols(shown)), Para(pruning(shown)),
                           Para(f"Conditions, each a start for retraining{_suffixes(shown)}:")]
    defs = conditions(shown)
    if defs:
        blocks.append(Bullets(defs))
    return blocks + [Para(statistics(shown))]
