"""The report's reading of a divergence: how large the diverged condition's start was.

Every number comes from the run: the diverged models (train/divergence.py) and the start scale of
their condition at each ticket round (dn_analysis/start_scale.py, from the stored starts).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from dn_analysis.start_scale import start_scale
from reports.runs import ExperimentStatus
from train.divergence import diverged_models
from train.errors import DnError


def _span(values: list[float]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:.1f}x" if f"{lo:.1f}" == f"{hi:.1f}" else f"{lo:.1f}x-{hi:.1f}x"


def divergence_reading(e: ExperimentStatus) -> str | None:
    """One paragraph per experiment: the start scale of each diverged condition (None if none diverged)."""
    hits = diverged_models(e.rows)
    if not hits:
        return None
    rounds = {r["condition"]: int(r["round"]) for r in e.rows}
    diverged: dict[str, set[int]] = defaultdict(set)
    for (_, cond, trial), _row in hits.items():
        diverged[cond].add(int(trial))
    base = {lab: lab.rsplit("-", 1)[0] if lab.rsplit("-", 1)[-1].isdigit() else lab for lab in rounds}
    try:
        exp = e.run.experiment(e.name)
        parts = []
        for name in sorted({base[c] for c in diverged}):
            for lab in sorted((lab for lab in rounds if base[lab] == name), key=lambda lab: -rounds[lab]):
                scales = start_scale(exp, name, rounds[lab])
                products = {s["trial"]: s["product"] for s in scales}
                if lab not in diverged:
                    parts.append(f"{lab}, where no trial diverged: product {_span(list(products.values()))}.")
                    continue
                per_layer = ", ".join(f"{layer} {np.mean([s['layers'][layer] for s in scales]):.2f}x"
                                      for layer in scales[0]["layers"])
                bad = [products[t] for t in sorted(diverged[lab]) if t in products]
                good = [v for t, v in products.items() if t not in diverged[lab]]
                text = (f"{lab}: each weight layer's start rms over θ0's (mean over trials) {per_layer}; "
                        f"their product, the factor on a zero-bias ReLU net's initial logits, is {_span(bad)} "
                        f"in the {len(bad)} diverged trial(s)")
                if good:
                    text += f" and {_span(good)} in the {len(good)} that trained"
                    if max(good) >= min(bad):
                        text += ", so the scale alone does not say which trial diverges"
                parts.append(text + ".")
    except (DnError, OSError, KeyError, ValueError) as err:  # a folder without tickets: no reading, say why
        return f"Start scale of the diverged conditions not measured ({err})."
    return "Start scale: " + " ".join(parts)
