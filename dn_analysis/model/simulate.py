"""Iterate the model over the pruning rounds: P(a weight survives rounds 1..r | θ0, layer).

Monte Carlo on a grid of θ0 values that have equal mass under D_θ (the layer's init
distribution): every grid point gets `paths` weights, each with a mobility class and a drift
path drawn from its law. Round r prunes by |θ'_{r-1}| with the threshold τ_r solved so that the
kept fraction is 1 - prune_rate of the weights still alive: one τ for all layers under global
pruning (each layer's weights counted by its real size), one per layer under layerwise pruning.
τ_r is therefore not a parameter. Pruned weights leave the population, so survival is iterated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from results.rates import layer_rates


@dataclass
class Survival:
    """Per layer: survival (n+1, G) on the u grid, and the thresholds τ (n+1,) per layer."""

    curves: dict[str, np.ndarray]
    thresholds: dict[str, np.ndarray]


def init_ppf(layer: dict, u: np.ndarray, init: str) -> np.ndarray:
    """θ0 at probability `u` of the layer's init distribution (uniform ±bound, or normal)."""
    if "normal" in init or not layer.get("init_bound"):
        return layer["init_std"] * stats.norm.ppf(u)
    return layer["init_bound"] * (2.0 * u - 1.0)


def init_scale(layer: dict, init: str) -> float:
    """The unit of the law's parameters: init_bound for uniform inits, init_std for normal ones."""
    return float(layer["init_std"] if "normal" in init or not layer.get("init_bound") else layer["init_bound"])


def _keep_threshold(values: np.ndarray, weights: np.ndarray, keep: float) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    k = min(int(np.searchsorted(cum, (1.0 - keep) * cum[-1], side="right")), len(order) - 1)
    return float(values[order][k])


def _smooth(s: np.ndarray, passes: int) -> np.ndarray:
    for _ in range(passes):
        pad = np.concatenate([s[:1], s, s[-1:]])
        s = 0.25 * pad[:-2] + 0.5 * pad[1:-1] + 0.25 * pad[2:]
    return s


def rates_of(layers: list[dict], prune_rate: float, prune_rates: str = "") -> float | dict[str, float]:
    """The rate per round: one for every layer, or {param: rate} under per-layer rates (results/rates.py)."""
    if not prune_rates:
        return prune_rate
    by_name = layer_rates(prune_rates, prune_rate, [(layer["name"], tuple(layer["shape"])) for layer in layers])
    return {layer["param"]: by_name[layer["name"]] for layer in layers}


def run(layers: list[dict], drift, prune_rate: float | dict[str, float], prune_scope: str, n_rounds: int, init: str,
        n_grid: int = 500, paths: int = 400, seed: int = 0, smooth: int = 2) -> Survival:
    """Survival curves of every layer for rounds 0..n_rounds.

    `drift(param, theta0_in_units, n, rng)` returns θ' in init units (N, n); with drift=None
    θ' = θ0 (the no-noise limit, a hard |θ0| threshold). `prune_rate` may be {param: rate}
    (per-layer rates), each layer then pruned on its own.
    """
    if isinstance(prune_rate, dict) and prune_scope == "global":
        raise ValueError("per-layer rates prune each layer on its own: prune_scope must be layerwise")
    rate = prune_rate if isinstance(prune_rate, dict) else {layer["param"]: prune_rate for layer in layers}
    rng = np.random.default_rng(seed)
    u = (np.arange(n_grid) + 0.5) / n_grid
    alive, values, size = {}, {}, {}
    for layer in layers:
        p = layer["param"]
        scale = init_scale(layer, init)
        x = np.repeat(init_ppf(layer, u, init), paths) / scale
        y = np.repeat(x[:, None], n_rounds, axis=1) if drift is None else drift(p, x, n_rounds, rng)
        values[p] = np.abs(y) * scale
        alive[p] = np.ones(x.size, dtype=bool)
        size[p] = float(np.prod(layer["shape"])) / x.size
    curves = {p: [np.ones(n_grid)] for p in alive}
    taus = {p: [0.0] for p in alive}
    for r in range(n_rounds):
        if prune_scope == "global":
            v = np.concatenate([values[p][alive[p], r] for p in alive])
            w = np.concatenate([np.full(int(alive[p].sum()), size[p]) for p in alive])
            tau = dict.fromkeys(alive, _keep_threshold(v, w, 1.0 - rate[next(iter(alive))]))
        else:
            tau = {p: _keep_threshold(values[p][alive[p], r], np.ones(int(alive[p].sum())), 1.0 - rate[p])
                   for p in alive}
        for p in alive:
            alive[p] &= values[p][:, r] >= tau[p]
            curves[p].append(alive[p].reshape(n_grid, paths).mean(axis=1))
            taus[p].append(tau[p])
    return Survival({p: np.stack([_smooth(c, smooth if drift is not None else 0) for c in cs])
                     for p, cs in curves.items()},
                    {p: np.array(t) for p, t in taus.items()})
