"""Per-layer pruning rates, training lengths in iterations, and rewinding to θ_k."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _cli import run_dn

from results.rates import layer_rates, nominal_density, parse_rates
from train import open_run
from train.config import preset_experiment
from train.steps import Steps, parse_steps

SMALL = ["--preset", "smoke", "--train-subset", "160", "--test-subset", "64", "--batch-size", "32",
         "--trials", "2", "--no-progress", "--device", "cpu"]


def _kept_after_rank(rate: float, k: int) -> int:
    """The text's rank rule: a layer of k live weights loses round(rate * k) of them."""
    return k - int(round(rate * k))


def test_rates_are_read_by_kind_and_by_name_and_refuse_what_they_do_not_know():
    layers = [("c1", (8, 3, 3, 3)), ("f1", (20, 72)), ("f2", (10, 20))]
    assert layer_rates("conv=0.1,fc=0.2,output=0.05", 0.3, layers) == {"c1": 0.1, "f1": 0.2, "f2": 0.05}
    assert layer_rates("fc=0.2,f2=0.5", 0.3, layers) == {"c1": 0.3, "f1": 0.2, "f2": 0.5}  # a name beats its kind
    for text, says in [("fc", "KEY=RATE"), ("fc=x", "not a number"), ("fc=1.5", "[0, 1)"), ("fc=0.1,fc=0.2", "twice")]:
        with pytest.raises(ValueError, match=says.replace("[", r"\[").replace(")", r"\)")):
            parse_rates(text)
    with pytest.raises(ValueError, match="neither a layer kind"):
        layer_rates("dense=0.2", 0.2, layers)
    sizes = [math.prod(s) for _, s in layers]
    want = (sizes[0] * 0.9**3 + sizes[1] * 0.8**3 + sizes[2] * 0.95**3) / sum(sizes)
    entry = {"prune_rate": 0.2, "prune_rates": "conv=0.1,fc=0.2,output=0.05"}
    assert nominal_density(entry, 3, layers) == pytest.approx(want, rel=1e-12)
    assert nominal_density({"prune_rate": 0.2, "prune_rates": ""}, 3) == pytest.approx(0.8**3, rel=1e-12)


def test_steps_cut_a_length_into_whole_epochs_and_a_remainder():
    assert parse_steps("500it") == Steps(500, "it") and parse_steps("2ep") == Steps(2, "ep")
    assert Steps(2, "ep").segments(100, 32) == [4, 4]  # ceil(100/32) = 4 minibatches per epoch
    assert Steps(10, "it").segments(100, 32) == [4, 4, 2]
    assert Steps(3, "it").segments(100, 32) == [3]
    for bad in ("5", "2 epochs", "-1it", "1.5ep"):
        with pytest.raises(ValueError, match="500it or 2ep"):
            parse_steps(bad)


def test_the_standard_networks_take_frankle_and_carbins_rates_and_prune_each_layer_on_its_own():
    for name, rates in [("lenet300-mnist", "fc=0.2,output=0.1"), ("conv2-cifar10", "conv=0.1,fc=0.2,output=0.1"),
                        ("conv6-cifar10", "conv=0.15,fc=0.2,output=0.1"), ("fc1-mnist", "")]:
        exp = preset_experiment("paper", name)
        assert exp.prune_rates == rates
        assert exp.prune_scope == ("layerwise" if rates else "global")
    # global pruning with per-layer rates is a contradiction, said in one line
    with pytest.raises(Exception, match="prune_scope must be layerwise"):
        preset_experiment("paper", "lenet300-mnist", prune_scope="global")


@pytest.mark.parametrize("model,dataset", [
    ("lenet300", "digits"), ("conv2", "digits"), ("conv4", "digits"), ("conv6", "digits"),
    ("resnet20", "digits"),  # 8x8 inputs keep the conv nets fast; their CIFAR sizes: test_generic.py
])
def test_every_standard_network_trains_every_condition_and_its_layers_follow_their_rates(
        model, dataset, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    code, _, err = run_dn(["train", "--model", model, "--dataset", dataset, *SMALL, "--conditions", "all",
                           "--prune-rounds", "2", "--ticket-rounds", "2", "--prune-steps", "3it",
                           "--out", str(out)], monkeypatch, capsys)
    assert code == 0, err
    run = open_run(out)
    assert run.is_complete
    entry = run.config["experiments"][0]
    exp = run.experiment(f"{model}-{dataset}")
    shapes = [(layer["name"], tuple(layer["shape"])) for layer in exp.layers]
    rates = layer_rates(entry.get("prune_rates", ""), entry["prune_rate"], shapes)
    # per-layer rates prune each layer on its own; a network without them (resnet20) prunes globally
    groups = ([[layer] for layer in exp.layers] if entry["prune_scope"] == "layerwise" else [exp.layers])
    for trial in exp.trials:
        for r in (1, 2):
            before, after = exp.mask(trial, r - 1), exp.mask(trial, r)
            for group in groups:
                kept = sum(int(before[layer["param"]].sum()) for layer in group)
                want = _kept_after_rank(rates[group[0]["name"]], kept)
                assert sum(int(after[layer["param"]].sum()) for layer in group) == want, (group[0]["name"], r)
    # each round trained for exactly 3 iterations: one segment per round and trial
    rows = run.pruning_metrics()
    assert len(rows) == 2 * 2 and {int(r["epoch"]) for r in rows} == {1}
    # labels are named by the recorded nominal density of the per-layer rates
    if entry.get("prune_rates"):
        assert entry["nominal_densities"][2] == pytest.approx(nominal_density(entry, 2, shapes), rel=1e-12)


def _rewinding_run(tmp_path, monkeypatch, capsys, name: str, *extra: str):
    out = tmp_path / name
    code, _, err = run_dn(["train", "-e", "lenet300-digits", *SMALL, "--conditions", "full",
                           "--conditions", "pruned", "--conditions", "reinit", "--conditions", "keep-sign",
                           "--prune-rounds", "2", "--ticket-rounds", "2", "--prune-steps", "5it", *extra,
                           "--out", str(out)], monkeypatch, capsys)
    assert code == 0, err
    return open_run(out).experiment("lenet300-digits")


def test_a_rewinding_run_stores_theta_k_and_defines_every_start_and_dn_there(tmp_path, monkeypatch, capsys):
    exp = _rewinding_run(tmp_path, monkeypatch, capsys, "k", "--rewind-step", "4it")
    plain = _rewinding_run(tmp_path, monkeypatch, capsys, "zero")
    assert exp.rewinds and not plain.rewinds
    lr = float(exp.run.config["experiments"][0]["lr"])
    for t in exp.trials:
        theta0, start = exp.theta0(t), exp.start(t)
        for k, v in theta0.items():
            np.testing.assert_array_equal(v, plain.theta0(t)[k])  # the same θ0 ...
            moved = np.abs(start[k] - v)
            # ... moved by 4 Adam steps, each at most lr (1 - β1) / sqrt(1 - β2) (Kingma & Ba 2015,
            # section 2.1, as 1 - β1 > sqrt(1 - β2) here; no weight decay), and moved at all
            assert moved.max() <= 4 * lr * 0.1 / math.sqrt(1 - 0.999) * (1 + 1e-6), k
            assert (moved > 0).mean() > 0.5, k
        mask = exp.mask(t, 2)
        lt = exp.theta_lt(t, 2, per_layer=True)
        for layer in exp.layers:  # θ_LT is taken at θ_k, not at θ0
            np.testing.assert_array_equal(lt[layer["name"]], start[layer["param"]][mask[layer["param"]]])
        weights, start_mask = exp.initial_weights("pruned", t, 2)  # checked against the recorded digest
        for p, m in start_mask.items():
            np.testing.assert_array_equal(weights[p][m], start[p][m])
    # rewinding changes the tickets: its masks differ from the θ0 run's somewhere
    assert any(not np.array_equal(exp.mask(0, 2)[p], plain.mask(0, 2)[p]) for p in exp.mask(0, 2))


def test_a_bad_length_or_rate_is_one_line(tmp_path, monkeypatch, capsys):
    for flag, value, says in [("--prune-steps", "5x", "500it or 2ep"), ("--rewind-step", "1.5ep", "500it or 2ep"),
                              ("--prune-rates", "fc=2", "[0, 1)"), ("--prune-rates", "dense=0.2", "neither a layer kind")]:
        code, _, err = run_dn(["train", "-e", "lenet300-digits", *SMALL, "--conditions", "full", flag, value,
                               "--out", str(tmp_path / "bad")], monkeypatch, capsys)
        assert code != 0 and says in err and "Traceback" not in err, (flag, err)
        assert len(err.strip().splitlines()) == 1, err
