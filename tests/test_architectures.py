"""The no-drift prediction of D_n from shapes and init (dn_analysis.architectures): its edges are the
analytic quantiles, its shelves merge only where scales cannot be told apart, and on tickets pruned
by |θ0| alone it is within sampling error of θ_LT."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

from dn_analysis.architectures import layer_rates, predict
from dn_analysis.stats.simulate import shelf_modes, shelf_quantile


def layer(name: str, shape: tuple[int, ...], std: float, uniform: bool = True) -> dict:
    return {"name": name, "param": f"{name}.weight", "shape": list(shape), "fan_in": shape[1],
            "fan_out": shape[0], "init_std": std, "init_bound": math.sqrt(3.0) * std if uniform else None}


def grid_size(pred) -> int:
    return next(iter(pred.model.curves_.values())).shape[1]


def grid_error(spec: dict, tau: float, n_grid: int, uniform: bool, rate: float, rounds: int) -> float:
    """How far the grid can put τ. The prediction lives on n_grid cells of equal mass under D_θ and
    each round keeps a whole number of them: under one cell of error per round, carried on by the
    later rounds at (1 - s) each, so under min(rounds, 1/s) cells in all, plus half a cell because τ
    is read at a cell's centre. One cell is dθ/du / n_grid: 2b / n_grid (uniform), σ / φ(τ/σ) / n_grid."""
    slope = 2.0 * spec["init_bound"] if uniform else spec["init_std"] / stats.norm.pdf(tau / spec["init_std"])
    return (min(rounds, 1.0 / rate) + 0.5) * slope / n_grid


@pytest.mark.parametrize("init", ["xavier_uniform", "xavier_normal"])
def test_layerwise_edges_are_each_layers_quantile(init):
    uniform = init.endswith("uniform")
    layers = [layer("a", (300, 200), 0.05, uniform), layer("b", (100, 300), 0.09, uniform)]
    rate, rounds = 0.2, 6
    keep = (1.0 - rate) ** rounds
    pred = predict(layers, init, rate, "layerwise", rounds, n_grid=4000)
    for spec in layers:
        q = 1.0 - keep if uniform else stats.norm.ppf(1.0 - keep / 2.0)  # P(|θ0| >= τ) = keep
        tau = q * (spec["init_bound"] if uniform else spec["init_std"])
        assert abs(pred.thresholds[spec["name"]] - tau) <= grid_error(spec, tau, 4000, uniform, rate, rounds)
        assert pred.keep[spec["name"]] == pytest.approx(keep, abs=min(rounds, 1.0 / rate) / 4000)
    # one rate, one quantile: in init-std units every layer is the same shelf
    assert len(pred.shelves["standardized"]) == 1 and len(pred.shelves["raw"]) == 2
    assert math.isinf(pred.shelves["raw"][0].outer) != uniform


@pytest.mark.parametrize("init", ["xavier_uniform", "xavier_normal"])
def test_global_threshold_is_common_in_raw_units(init):
    uniform = init.endswith("uniform")
    layers = [layer("a", (300, 200), 0.05, uniform), layer("b", (100, 300), 0.09, uniform)]
    keep = 0.8 ** 5
    sizes = [np.prod(s["shape"]) for s in layers]

    def kept(tau: float) -> float:  # the share of all weights with |θ0| >= τ, minus the target
        if uniform:
            return sum(n * max(0.0, 1.0 - tau / s["init_bound"]) for n, s in zip(sizes, layers, strict=True)) / sum(sizes) - keep
        return sum(n * 2.0 * stats.norm.sf(tau / s["init_std"]) for n, s in zip(sizes, layers, strict=True)) / sum(sizes) - keep

    tau = optimize.brentq(kept, 1e-9, 0.5)
    pred = predict(layers, init, 0.2, "global", 5, n_grid=4000)
    for spec in layers:
        assert abs(pred.thresholds[spec["name"]] - tau) <= max(grid_error(s, tau, 4000, uniform, 0.2, 5) for s in layers)
    inner = {s.layers[0]: s.inner for s in pred.shelves["standardized"]}
    for spec in layers:  # each layer's inner edge is τ, i.e. τ/σ_l of its own init stds
        assert inner[spec["name"]] == pytest.approx(tau / spec["init_std"], rel=0.01)


def test_equal_scales_make_one_shelf_and_different_scales_two():
    base = [layer("a", (200, 200), 0.05), layer("b", (200, 200), 0.05)]
    one = predict(base, "xavier_uniform", 0.2, "global", 4)
    assert len(one.shelves["raw"]) == 1 and one.shelves["raw"][0].layers == ("a", "b")
    tol = one.tolerance["raw"]
    assert tol > 0
    # the tolerance is the resolution: a bound moved by less than it merges, by more than it splits
    near = predict([base[0], layer("b", (200, 200), 0.05 + 0.2 * tol / math.sqrt(3))], "xavier_uniform", 0.2, "global", 4)
    far = predict([base[0], layer("b", (200, 200), 0.05 + 3.0 * tol / math.sqrt(3))], "xavier_uniform", 0.2, "global", 4)
    assert len(near.shelves["raw"]) == 1
    assert len(far.shelves["raw"]) == 2
    two = predict([base[0], layer("b", (200, 200), 0.1)], "xavier_uniform", 0.2, "global", 4)
    assert len(two.shelves["raw"]) == 2 and len(two.shelves["standardized"]) == 2


def test_mode_count_is_the_shelf_density_s():
    """The exact count on the grid equals dn_analysis.stats.simulate's, on the same shelves."""
    layers = [layer("a", (400, 300), 0.04), layer("b", (100, 400), 0.07), layer("c", (10, 100), 0.14)]
    for scope in ("global", "layerwise"):
        pred = predict(layers, "xavier_uniform", 0.2, scope, 8)
        shelves = tuple((pred.thresholds[s["name"]], s["init_bound"], pred.share[s["name"]]) for s in layers)
        interval = (shelf_quantile(0.01, shelves), shelf_quantile(0.99, shelves))
        assert pred.modes["raw"] == len(shelf_modes(shelves, interval)), scope


def test_per_layer_rates_prune_each_layer_at_its_own_rate():
    layers = [layer("fc1", (300, 200), 0.05), layer("fc2", (10, 300), 0.09)]
    assert layer_rates({"prune_rate": 0.2, "prune_rates": ""}, layers) == {"fc1": 0.2, "fc2": 0.2}
    pytest.importorskip("results.rates")
    rates = layer_rates({"prune_rate": 0.2, "prune_rates": "fc=0.3,output=0.1"}, layers)
    assert rates == {"fc1": 0.3, "fc2": 0.1}
    pred = predict(layers, "xavier_uniform", rates, "layerwise", 4, n_grid=4000)
    for spec in layers:
        tau = spec["init_bound"] * (1.0 - (1.0 - rates[spec["name"]]) ** 4)
        rate = rates[spec["name"]]
        assert abs(pred.thresholds[spec["name"]] - tau) <= grid_error(spec, tau, 4000, True, rate, 4)
    assert len(pred.shelves["standardized"]) == 2  # different quantiles: two shelves even in init stds
