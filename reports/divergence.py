"""The report's reading of a divergence: how large the diverged condition's start was.

Every number comes from the run: the diverged models (results/divergence.py) and the start scale of
their condition at each ticket round (dn_analysis/start_scale.py, from the stored starts).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np

from dn_analysis.start_scale import start_scale
from reports.runs import ExperimentStatus
from results.divergence import RULE, diverged_models
from results.errors import DnError


def describe(rows: Iterable[dict[str, Any]]) -> str | None:
    """One sentence naming the diverged models of some rows (None when none diverged)."""
    hits = diverged_models(rows)
    if not hits:
        return None
    models = ", ".join(f"{cond} trial {trial} (epoch {row['epoch']})" for (_, cond, trial), row in hits.items())
    return f"diverged ({RULE}): {models}; summary.csv marks their conditions diverged."



def _span(values: list[float]) -> str:
    lo, hi = f"{min(values):.2g}", f"{max(values):.2g}"
    return f"{lo}x" if lo == hi else f"{lo}x-{hi}x"


def divergence_reading(e: ExperimentStatus) -> str | None:
    """One paragraph per experiment: the start scale of each diverged condition (None if none diverged)."""
    hits = diverged_models(e.rows)
    if not hits:
        return None
    if not e.has_tickets:
        return "Start scale of the diverged conditions not measured (the folder keeps no tickets)."
    rounds: dict[str, int] = {}
    base: dict[str, str] = {}
    trained: dict[str, set[int]] = defaultdict(set)
    for r in e.rows:
        rounds[r["condition"]] = int(r["round"])
        base[r["condition"]] = str(r["condition_name"])
        trained[r["condition"]].add(int(r["trial"]))
    diverged: dict[str, set[int]] = defaultdict(set)
    for (_, cond, trial), _row in hits.items():
        diverged[cond].add(int(trial))
    parts = []
    try:
        exp = e.run.experiment(e.name)
        for name in sorted({base[c] for c in diverged}):
            for lab in sorted((lab for lab in rounds if base[lab] == name), key=lambda lab: -rounds[lab]):
                scales = start_scale(exp, name, rounds[lab], trials=sorted(trained[lab]))
                if not scales:
                    continue
                products = {s["trial"]: s["product"] for s in scales}
                if lab not in diverged:
                    parts.append(f"{lab}, where no trial diverged: product {_span(list(products.values()))}.")
                    continue
                per_layer = ", ".join(f"{layer} {np.mean([s['layers'][layer] for s in scales]):.2g}x"
                                      for layer in scales[0]["layers"])
                bad = [products[t] for t in sorted(diverged[lab]) if t in products]
                good = [v for t, v in products.items() if t not in diverged[lab]]
                text = (f"{lab}: each weight layer's start rms over θ0's (mask zeros counted; mean over trials) "
                        f"{per_layer}; their product, how the layers' scales compound through the depth, is "
                        f"{_span(bad)} in the {len(bad)} diverged trial(s)")
                if good:
                    text += f" and {_span(good)} in the {len(good)} that trained"
                    if max(good) >= min(bad):
                        text += ", so the scale alone does not say which trial diverges"
                parts.append(text + ".")
    except (DnError, OSError, KeyError, ValueError, IndexError) as err:  # a damaged folder: no reading
        return f"Start scale of the diverged conditions not measured ({type(err).__name__} reading the starts)."
    return "Start scale: " + " ".join(parts) if parts else None
