"""Pooled D_n of any per-layer survival model (NoDriftDn, DnModel) in raw or init-std units.

SurvivalCurves pools layers in raw units only; comparing architectures needs each layer divided by
its own init std first (the "standardized" view of dn_analysis.views), so the mixture is rebuilt
here from the layers' own D_n and their predicted shares of θ_LT.
"""

from __future__ import annotations

import numpy as np

from dn_analysis.model.layer_dn import LayerDn, SurvivalCurves
from dn_analysis.views import VIEWS


def check_view(view: str) -> None:
    if view not in VIEWS:
        raise ValueError(f"view must be one of {', '.join(VIEWS)}, got {view!r}")


def view_parts(model: SurvivalCurves, round: int, view: str) -> list[tuple[float, LayerDn, float]]:
    """(share of θ_LT, the layer's D_n, its unit) per layer of any SurvivalCurves (DnModel too)."""
    check_view(view)
    parts = []
    for spec in model.layers_:
        if not np.any(model.curves_[spec["param"]][round] > 0):
            continue  # a layer pruned away keeps no share of θ_LT
        d = model.layer_sampler(spec["param"], round)
        unit = float(spec["init_std"]) if view == "standardized" else 1.0
        parts.append((float(np.prod(spec["shape"])) * d.mass_, d, unit))
    total = sum(w for w, _, _ in parts)
    return [(w / total, d, unit) for w, d, unit in parts]


def view_cdf(model: SurvivalCurves, x: np.ndarray, round: int, view: str) -> np.ndarray:
    """Pooled cdf in `view` (standardized: each layer's θ divided by its init std)."""
    x = np.asarray(x, dtype=np.float64)
    return sum(w * d.cdf(x * unit) for w, d, unit in view_parts(model, round, view))


def view_pdf(model: SurvivalCurves, x: np.ndarray, round: int, view: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return sum(w * unit * d.pdf(x * unit) for w, d, unit in view_parts(model, round, view))


def view_rvs(model: SurvivalCurves, size: int, round: int, view: str, random_state: int = 0) -> np.ndarray:
    rng = np.random.default_rng(random_state)
    parts = view_parts(model, round, view)
    which = rng.choice(len(parts), size=size, p=[w for w, _, _ in parts])
    out = np.empty(size)
    for i, (_, d, unit) in enumerate(parts):
        sel = which == i
        out[sel] = d.rvs(int(sel.sum()), rng) / unit
    return out
