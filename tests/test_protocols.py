"""Each protocol setting does what docs/protocols.md says, on tiny data (bundled digits)."""

from __future__ import annotations

import dataclasses
import hashlib
import math

import numpy as np
import pytest
import torch
from scipy import stats

from dn_data import load_dataset
from dn_data.dataset import RawData, build
from train import open_run
from train.config import PROTOCOLS, RunConfig, preset_experiment
from train.engine import build_stack, evaluate
from train.init import initial_weights
from train.models import build_model
from train.pruning import prune_masks
from train.runner import train_run
from train.seeding import generator


def _authors(**changes):
    exp = preset_experiment("smoke", "fc1-digits", protocol="authors", epochs=2, prune_rounds=3,
                            ticket_rounds=(2, 3), **changes)
    return RunConfig((exp,), seed=7, preset="smoke")


@pytest.fixture(scope="module")
def authors_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("authors") / "run"
    train_run(_authors(), out, device="cpu", progress=False)
    return open_run(out)


@pytest.fixture(scope="module")
def exp(authors_run):
    return authors_run.experiment("fc1-digits")


def test_the_authors_bundle_sets_every_setting_and_an_explicit_flag_wins():
    cfg = preset_experiment("paper", "fc1-mnist", protocol="authors")
    for key, value in PROTOCOLS["authors"].items():
        assert getattr(cfg, key) == value
    assert preset_experiment("paper", "fc1-mnist", protocol="authors", init="xavier_uniform").init == "xavier_uniform"
    text = preset_experiment("paper", "fc1-mnist")
    assert all(getattr(text, f.name) == f.default for f in dataclasses.fields(text)
               if f.name in PROTOCOLS["authors"])
    assert "-authors-" in RunConfig((cfg,)).name and "-text-" in RunConfig((text,)).name


def test_torch_default_init_is_uniform_on_one_over_sqrt_fan_in_for_weights_and_biases():
    net = build_model("fc1", (1, 28, 28), 10)
    theta = initial_weights("torch_default", net.layers, generator(0, "t"), bias_init="torch_default")
    for layer in net.layers:
        bound = 1 / math.sqrt(layer.fan_in)
        for values in (theta[layer.param].flatten(), theta[layer.bias]):
            assert values.abs().max() <= bound
        assert stats.kstest(theta[layer.param].flatten().numpy(), stats.uniform(-bound, 2 * bound).cdf).pvalue > 1e-4
        assert (theta[layer.bias] != 0).all()
    zeros = initial_weights("torch_default", net.layers, generator(0, "t"))
    assert all((zeros[layer.bias] == 0).all() for layer in net.layers)


def test_percentile_rule_drops_below_numpys_percentile_and_keeps_ties():
    net = build_model("fc1", (1, 8, 8), 10)
    layers = net.layers
    gen = torch.Generator().manual_seed(0)
    weights = {layer.param: torch.randn(layer.shape, generator=gen) for layer in layers}
    masks = {layer.param: torch.ones(layer.shape) for layer in layers}
    new = prune_masks(layers, weights, masks, 0.2, "layerwise", "percentile")
    for layer in layers:
        w = weights[layer.param].abs().numpy()
        k = w.size
        assert int(new[layer.param].sum()) == k - math.ceil(0.2 * (k - 1))  # distinct values
        np.testing.assert_array_equal(new[layer.param].numpy().astype(bool), w >= np.percentile(w, 20))
    tied = {layer.param: torch.ones(layer.shape) for layer in layers}  # all equal: nothing drops
    assert all(m.all() for m in prune_masks(layers, tied, masks, 0.2, "layerwise", "percentile").values())


def test_shared_pruning_optimizer_moves_pruned_weights_and_a_fresh_one_does_not(exp, tmp_path):
    pruned_then = ~exp.mask(0, 1)["fc1.weight"]  # pruned after round 0, trained again in round 1
    assert np.abs(exp.trained(0, 1)["fc1.weight"][pruned_then]).max() > 0
    out = tmp_path / "fresh"
    train_run(_authors(prune_optimizer="fresh"), out, device="cpu", progress=False)
    fresh = open_run(out).experiment("fc1-digits")
    assert (fresh.trained(0, 1)["fc1.weight"][~fresh.mask(0, 1)["fc1.weight"]] == 0).all()


def test_biases_carry_over_rounds_and_chain_through_the_condition_runs(exp, authors_run):
    # the first condition run starts from the biases of the last pruning round ...
    weights, _ = exp.initial_weights("full", trial=1)
    last = exp.trained(1, 2, biases=True)
    np.testing.assert_array_equal(weights["fc1.bias"], last["fc1.bias"])
    # ... and each later one from the biases its predecessor ended with
    from results.store import read_npz

    ends = read_npz(authors_run.path / "fc1-digits" / "carry" / "full.npz")
    name = next(r["condition_name"] for r in authors_run.metrics() if r["condition"] != "full")
    weights, _ = exp.initial_weights(name, trial=1, round=2)
    np.testing.assert_array_equal(weights["fc1.bias"], ends["trial1/fc1.bias"])
    assert not np.array_equal(weights["fc1.bias"], exp.theta0(1)["fc1.bias"])


def test_trained_pool_samples_the_trained_ticket_not_theta0(exp):
    weights, mask = exp.initial_weights("reinit", trial=0, round=3)
    drawn = weights["fc1.weight"][mask["fc1.weight"]]
    trained, ticket = exp.trained(0, 2), exp.mask(0, 3)
    pool = np.concatenate([trained[p][ticket[p]] for p in trained])
    assert np.isin(drawn, pool).all()
    assert np.isin(drawn, exp.theta_lt(0, 3).astype(np.float32)).mean() < 0.01


def test_mnist_normalization_uses_mnists_statistics_on_every_channel():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (20, 3, 4, 4), dtype=np.uint8)
    raw = RawData(x, np.zeros(20, np.int64), x[:5], np.zeros(5, np.int64), 10, 255.0, "test", {})
    data = build("toy", raw, normalization="mnist")
    expected = (x[:, 1].astype(np.float32) / 255 - np.float32(0.1307)) / np.float32(0.3081)
    np.testing.assert_allclose(data.x_train[:, 1].numpy(), expected, rtol=0, atol=4 * np.finfo(np.float32).eps * 4)
    assert data.mean == (0.1307,) * 3


def test_drop_last_counts_only_full_test_batches_but_divides_by_all(authors_run):
    data = load_dataset("digits")
    n, batch = data.x_test.shape[0], 256
    keep = (n // batch) * batch
    for row in authors_run.metrics():
        correct = row["test_acc"] * n
        assert abs(correct - round(correct)) < 1e-3 and round(correct) <= keep
    assert max(r["test_acc"] for r in authors_run.metrics()) <= keep / n


def test_train_loss_pass_is_a_separate_pass_over_the_train_set(exp, authors_run):
    data = load_dataset("digits", normalization="mnist")
    net = build_model("fc1", tuple(data.x_train.shape[1:]), data.num_classes)
    x_train = net.prepare_data(data.x_train)
    trials = exp.trials
    for r in (0, 1):
        params = [{k: torch.from_numpy(v) for k, v in exp.trained(t, r, biases=True).items()} for t in trials]
        masks = [{k: torch.from_numpy(v.astype(np.float32)) for k, v in exp.mask(t, r).items()} for t in trials]
        stack = build_stack(net, params, masks, 1e-3, 0.0, torch.device("cpu"))
        with torch.no_grad():  # the trained weights at pruned slots drift (shared Adam): keep them
            for k, p in stack.params.items():
                p.copy_(torch.stack([q[k] for q in params]))
        loss = evaluate(net, stack, x_train, data.y_train)[0].numpy()
        last = {int(row["trial"]): row["train_loss"] for row in authors_run.pruning_metrics()
                if row["round"] == r and row["epoch"] == 1}
        # same stack, same kernels, same order of summation: exactly equal
        assert [last[t] for t in trials] == [float(v) for v in loss]


def test_epoch_zero_is_evaluated_before_training(authors_run):
    rows = [r for r in authors_run.metrics() if r["epoch"] == 0]
    conditions = {r["condition"] for r in authors_run.metrics()}
    assert {r["condition"] for r in rows} == conditions
    assert all(0 <= r["test_acc"] <= 1 and r["train_loss"] > 0 for r in rows)
    assert authors_run.is_complete


def _digest(folder):
    files = [*folder.glob("*.csv"), *folder.glob("*/tickets/*.npz"), *folder.glob("*/carry/*.npz")]
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_a_killed_authors_run_resumes_to_the_same_numbers(authors_run, tmp_path):
    out, calls = tmp_path / "resumed", {"n": 0}

    def crash_at(limit):
        def hook():
            calls["n"] += 1
            if calls["n"] == limit:
                raise KeyboardInterrupt
        return hook

    for limit in (2, 6):  # once inside the pruning rounds (shared Adam), once in the chain
        calls["n"] = 0
        with pytest.raises(KeyboardInterrupt):
            train_run(_authors(), out, device="cpu", progress=False, checkpoint_seconds=0.0,
                      on_epoch=crash_at(limit))
    train_run(_authors(), out, device="cpu", progress=False, checkpoint_seconds=0.0)
    assert _digest(out) == _digest(authors_run.path)


def test_protocol_effects_runs_every_setting_alone(tmp_path):
    from studies.protocol_effects import run_variants, variants

    rows = run_variants(None, tmp_path, trials=1, epochs=1, seed=0, experiment="fc1-digits", preset="smoke",
                        progress=False, prune_rounds=2, ticket_rounds=(1, 2), conditions=("full", "pruned"))
    assert {r["variant"] for r in rows} == set(variants())
    base = [r for r in rows if r["variant"] == "text"]
    assert all(r["delta_max_avg_acc"] == 0 and r["ks_theta_lt_r1"] == 0 for r in base)
    # a setting that changes only the evaluation leaves θ_LT exactly as it was
    assert all(r["ks_theta_lt_r2"] == 0 for r in rows if r["variant"] in ("test_drop_last", "eval_epoch_zero"))
    assert any(r["ks_theta_lt_r2"] > 0 for r in rows if r["variant"] == "prune_scope")
    # effects.md: one row per variant, the text baseline at +0.00 and KS 0
    table = (tmp_path / "effects.md").read_text().splitlines()
    assert len(table) == 2 + len(variants())
    text_row = next(line for line in table if line.startswith("| text |"))
    assert "+0.00" in text_row and "0.0000" in text_row
