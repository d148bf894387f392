"""D_n predicted before training, from the layer shapes, the init and the pruning settings alone.

The model is the pure magnitude threshold (no training drift): θ' = θ0, so a weight survives r
rounds when |θ0| is above its layer's threshold. That is ``DnModel.no_noise`` (the no-noise limit
of DnModel, dn_analysis/model/simulate.py), used here unchanged; only per-layer rates need more
than one call, one per group of layers sharing a rate (those layers are pruned on their own).

- global pruning: one threshold τ in raw units for every layer, so each layer keeps a different
  fraction (a different quantile of its own D_θ) and its inner edge is τ, i.e. τ/σ_l init stds;
- layerwise pruning (or per-layer rates): layer l keeps (1 - s_l)^r of its weights, so its inner
  edge is that quantile of D_θ times its scale, the same number of init stds in every layer that
  shares a rate.

Each layer's survivors then fill a shelf: τ_l <= |θ| <= a_l for a uniform init (a cliff at the
bound a_l = √3 σ_l), |θ| >= τ_l for a normal one. Pooled D_n is the mixture of those shelves
weighted by each layer's expected survivors; in raw units layers of different scale make
different shelves, in init-std units they may coincide.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from dn_analysis.architectures.pooled import check_view, view_cdf, view_pdf, view_rvs
from dn_analysis.architectures.shelves import Shelf, exact_modes, merge_shelves
from dn_analysis.model.dn_model import DnModel
from dn_analysis.model.layer_dn import SurvivalCurves
from dn_analysis.model.simulate import init_scale
from dn_analysis.stats._kde import silverman_bandwidth
from dn_analysis.views import VIEWS

GRID_KS_SHARE = 0.1  # the grid's own error in the cdf is kept under this share of the KS sampling noise
MAX_GRID = 400_000  # cells per layer at most (memory: one float per cell and round)


def layer_rates(exp_config: Mapping, layers: Sequence[Mapping]) -> dict[str, float]:
    """{layer name: pruning rate per round} for one experiment of config.json.

    An empty (or missing) ``prune_rates`` gives every layer the experiment's ``prune_rate``;
    otherwise the text (``"conv=0.1,fc=0.2,output=0.1"`` or by layer name) is read by
    results.rates, the one reader training uses too, so the prediction prunes as the run did.
    """
    text = str(exp_config.get("prune_rates") or "")
    rate = float(exp_config["prune_rate"])
    if not text:
        return {str(spec["name"]): rate for spec in layers}
    from results.rates import layer_rates as rates_by_layer

    return rates_by_layer(text, rate, [(str(s["name"]), tuple(s["shape"])) for s in layers])


def pruning_scope(exp_config: Mapping) -> str:
    """"global" or "layerwise": per-layer rates prune each layer on its own whatever prune_scope says."""
    return "layerwise" if exp_config.get("prune_rates") else str(exp_config.get("prune_scope", "global"))


def is_uniform(init: str, spec: Mapping) -> bool:
    """The rule of dn_analysis.model.simulate: a normal init, or a layer without a bound, is normal."""
    return "normal" not in init and bool(spec.get("init_bound"))


class NoDriftDn(SurvivalCurves):
    """θ_LT of the pure magnitude threshold: ``DnModel.no_noise`` per group of layers sharing a rate.

    Under one rate this is exactly one ``DnModel.no_noise``. With per-layer rates every layer is
    pruned on its own (layerwise), so a no_noise model per rate gives each layer's survival
    curve; pooled pdf, cdf and rvs are then SurvivalCurves' as for DnModel.
    """

    def __init__(self, layers: Sequence[Mapping], init: str, rates: Mapping[str, float], scope: str,
                 rounds: int, n_grid: int = 2000) -> None:
        self.layers_ = [dict(spec) for spec in layers]
        self.protocol_ = {"init": init, "prune_scope": scope, "prune_rounds": rounds}
        self.curves_, self.thresholds_ = {}, {}
        groups: dict[float, list[dict]] = {}
        for spec in self.layers_:
            groups.setdefault(float(rates[spec["name"]]), []).append(spec)
        if scope == "global" and len(groups) > 1:
            raise ValueError("different rates per layer prune each layer on its own; give prune_scope layerwise")
        for rate, members in groups.items():
            part = DnModel.no_noise(members, rate, scope, rounds, init, n_grid=n_grid)
            self.curves_.update(part.curves_)
            self.thresholds_.update(part.thresholds_)

    def kept_fraction(self, round: int, layer: str | None = None) -> float:
        """Kept fraction of one layer or of all weights; 0 for a layer pruned away (where
        SurvivalCurves.density, which builds the layer's D_n, has none to build)."""
        specs = [s for s in self.layers_ if layer in (None, s["name"], s["param"])]
        sizes = [float(np.prod(s["shape"])) for s in specs]
        kept = [float(np.mean(self.curves_[s["param"]][round])) for s in specs]
        return float(np.dot(sizes, kept) / sum(sizes))


@dataclass
class Prediction:
    """Predicted D_n of one network after `round` prunings, in both views (raw, standardized)."""

    model: NoDriftDn
    round: int
    scope: str
    rates: dict[str, float]
    keep: dict[str, float]          # fraction of each layer kept
    share: dict[str, float]         # each layer's share of θ_LT
    thresholds: dict[str, float]    # τ_l in raw units
    survivors: int                  # expected survivors of one network
    tolerance: dict[str, float] = field(default_factory=dict)  # per view: edges closer are one shelf
    shelves: dict[str, list[Shelf]] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)         # exact count in the central 98%
    interval: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def density(self) -> float:
        """The predicted kept fraction of all weights."""
        return self.model.kept_fraction(self.round)

    def units(self, view: str) -> dict[str, float]:
        """Each layer's unit in `view`: 1 (raw) or its init std (standardized)."""
        check_view(view)
        return {s["name"]: (float(s["init_std"]) if view == "standardized" else 1.0) for s in self.model.layers_}

    def cdf(self, x: np.ndarray, view: str = "standardized") -> np.ndarray:
        return view_cdf(self.model, x, self.round, view)

    def pdf(self, x: np.ndarray, view: str = "standardized") -> np.ndarray:
        return view_pdf(self.model, x, self.round, view)

    def rvs(self, size: int, view: str = "standardized", random_state: int = 0) -> np.ndarray:
        return view_rvs(self.model, size, self.round, view, random_state)


def predict(layers: Sequence[Mapping], init: str, rates: float | Mapping[str, float], scope: str,
            round: int, n_grid: int | None = None) -> Prediction:
    """Predict D_n after `round` prunings from layers.json entries, the init's name and the rates.

    `rates` is one rate or {layer name: rate} (layer_rates). `n_grid` (cells of equal mass under
    D_θ per layer) defaults to the size that keeps the grid's error in the pooled cdf under a tenth
    of the KS sampling noise 1/√(survivors): each round keeps a whole number of cells, so a layer's
    kept mass is off by under m = min(rounds, 1/s) + 1/2 cells (one per round, shrinking by 1 - s
    each later round, and half a cell where τ is read), i.e. the cdf by m / (n_grid · kept fraction).
    """
    if round < 0:
        raise ValueError(f"round must be 0 or more, got {round}")
    names = [str(s["name"]) for s in layers]
    rates = dict.fromkeys(names, float(rates)) if isinstance(rates, int | float) else dict(rates)
    if missing := [n for n in names if n not in rates]:
        raise ValueError(f"no pruning rate for layer(s) {', '.join(missing)}")
    rounds = max(round, 1)
    if n_grid is None:
        coarse = NoDriftDn(layers, init, rates, scope, rounds, 2000)
        kept = max(coarse.kept_fraction(round), 1e-12)
        survivors = kept * sum(float(np.prod(s["shape"])) for s in layers)
        cells = min(rounds, 1.0 / max(min(rates.values()), 1e-12)) + 0.5
        n_grid = int(min(max(2000, math.ceil(cells * math.sqrt(survivors) / (GRID_KS_SHARE * kept))), MAX_GRID))
    model = NoDriftDn(layers, init, rates, scope, rounds, n_grid)
    sizes = {s["name"]: float(np.prod(s["shape"])) for s in model.layers_}
    keep = {s["name"]: model.kept_fraction(round, s["name"]) for s in model.layers_}
    total = sum(sizes[n] * keep[n] for n in names)
    pred = Prediction(model, round, scope, rates, keep, {n: sizes[n] * keep[n] / total for n in names},
                      {s["name"]: float(model.thresholds_[s["param"]][round]) for s in model.layers_},
                      int(round_half(total)))
    for view in VIEWS:
        _describe(pred, view)
    return pred


def round_half(x: float) -> int:
    return int(math.floor(x + 0.5))


def _describe(pred: Prediction, view: str) -> None:
    """Fill the view's tolerance, shelves, exact mode count and counting interval."""
    units = pred.units(view)
    init = pred.model.protocol_["init"]
    draws = pred.rvs(max(pred.survivors, 2), view, random_state=0)
    pred.tolerance[view] = float(silverman_bandwidth(draws)) if pred.survivors >= 2 else 0.0
    edges = []
    for spec in pred.model.layers_:
        n, unit = spec["name"], units[spec["name"]]
        uniform = is_uniform(init, spec)
        scale = init_scale(spec, init)  # the bound of a uniform init, the std of a normal one
        edges.append((n, pred.thresholds[n] / unit, (scale if uniform else math.inf) / unit, scale / unit))
    pred.shelves[view] = merge_shelves(edges, pred.share, pred.tolerance[view])
    top = 1.001 * max(b if math.isfinite(b) else t + 8.0 * r for _, t, b, r in edges)  # past every edge or tail
    pred.interval[view], pred.modes[view] = exact_modes(lambda x: pred.pdf(x, view), lambda x: pred.cdf(x, view), top)


