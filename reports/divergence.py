"""The report's reading of spikes and divergences: which models, and how large their condition's start was.

Every number comes from the run: the spiked and the diverged models (results/divergence.py: a spike
is a blow-up training recovered from, a divergence one it never recovered from) and the start scale
of their condition at each ticket round (dn_analysis/start_scale.py, from the stored starts).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np

from dn_analysis.start_scale import start_scale
from reports.runs import ExperimentStatus
from results.divergence import RECOVERED_RULE, RULE, SPIKE_RULE, Verdict, verdicts
from results.errors import DnError


def _spike_text(cond: str, trial: int, v: Verdict) -> str:
    at, back = v.spike["epoch"], v.back["epoch"] if v.back is not None else None
    again = "" if back is None or int(back) == int(at) else f", below chance again from epoch {back}"
    return f"{cond} trial {trial} (spiked at epoch {at}{again})"


def describe(rows: Iterable[dict[str, Any]]) -> str | None:
    """The diverged models of some rows, then the spiked ones, one sentence each (None when neither)."""
    hits = verdicts(rows)
    diverged = [f"{cond} trial {trial} (from epoch {v.since['epoch']})"
                for (_, cond, trial), v in hits.items() if v.diverged and v.since is not None]
    spiked = [_spike_text(cond, trial, v) for (_, cond, trial), v in hits.items() if not v.diverged]
    parts = []
    if diverged:
        parts.append(f"diverged ({RULE}): {', '.join(diverged)}; summary.csv marks their conditions diverged.")
    if spiked:
        parts.append(f"{'Spiked' if parts else 'spiked'} ({SPIKE_RULE}), {RECOVERED_RULE}: {', '.join(spiked)}; "
                     "not diverged, summary.csv marks their conditions spiked.")
    return " ".join(parts) if parts else None



def _span(values: list[float]) -> str:
    lo, hi = f"{min(values):.2g}", f"{max(values):.2g}"
    return f"{lo}x" if lo == hi else f"{lo}x-{hi}x"


def _which(kinds: list[str]) -> str:
    return " or ".join({"diverged": "diverges", "spiked": "spikes"}[k] for k in kinds)


def divergence_reading(e: ExperimentStatus) -> str | None:
    """One paragraph per experiment: the start scale of each condition with a diverged or a spiked
    trial, saying which trials diverged, which spiked and recovered, and which trained without a
    spike (None if no model spiked or diverged)."""
    hits = verdicts(e.rows)
    if not hits:
        return None
    if not e.has_tickets:
        return "Start scale of the diverged or spiked conditions not measured (the folder keeps no tickets)."
    rounds: dict[str, int] = {}
    base: dict[str, str] = {}
    trained: dict[str, set[int]] = defaultdict(set)
    for r in e.rows:
        rounds[r["condition"]] = int(r["round"])
        base[r["condition"]] = str(r["condition_name"])
        trained[r["condition"]].add(int(r["trial"]))
    kind: dict[str, dict[int, str]] = defaultdict(dict)  # label -> {trial: "diverged" | "spiked"}
    for (_, cond, trial), v in hits.items():
        kind[cond][int(trial)] = v.kind
    parts = []
    try:
        exp = e.run.experiment(e.name)
        for name in sorted({base[c] for c in kind}):
            for lab in sorted((lab for lab in rounds if base[lab] == name), key=lambda lab: -rounds[lab]):
                scales = start_scale(exp, name, rounds[lab], trials=sorted(trained[lab]))
                if not scales:
                    continue
                products = {s["trial"]: s["product"] for s in scales}
                if lab not in kind:
                    parts.append(f"{lab}, where no trial diverged or spiked: product {_span(list(products.values()))}.")
                    continue
                per_layer = ", ".join(f"{layer} {np.mean([s['layers'][layer] for s in scales]):.2g}x"
                                      for layer in scales[0]["layers"])
                groups = {k: [v for t, v in products.items() if kind[lab].get(t) == k] for k in ("diverged", "spiked")}
                hit = [k for k in ("diverged", "spiked") if groups[k]]
                good = [v for t, v in products.items() if t not in kind[lab]]
                spans = [f"{_span(groups['diverged'])} in the {len(groups['diverged'])} diverged trial(s)"
                         if groups["diverged"] else "",
                         f"{_span(groups['spiked'])} in the {len(groups['spiked'])} trial(s) that spiked and recovered"
                         if groups["spiked"] else ""]
                text = (f"{lab}: each weight layer's start rms over θ0's (mask zeros counted; mean over trials) "
                        f"{per_layer}; their product, how the layers' scales compound through the depth, is "
                        + ", ".join(x for x in spans if x))
                if good:
                    text += f" and {_span(good)} in the {len(good)} that trained without a spike"
                    if max(good) >= min(v for k in hit for v in groups[k]):
                        text += f", so the scale alone does not say which trial {_which(hit)}"
                parts.append(text + ".")
    except (DnError, OSError, KeyError, ValueError, IndexError) as err:  # a damaged folder: no reading
        return (f"Start scale of the diverged or spiked conditions not measured ({type(err).__name__} "
                "reading the starts).")
    return "Start scale: " + " ".join(parts) if parts else None
