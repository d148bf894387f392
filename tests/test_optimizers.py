"""The optimizers (Adam, SGD with momentum), the lr drops and resnet20's recipe (train/optimizers.py)."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import pytest
import torch
from _cli import run_dn
from _numerics import gamma

from dn_data import load_dataset
from results.errors import DnError
from train.config import ExperimentConfig, RunConfig, preset_experiment
from train.engine import build_stack, epoch_order, export_state, import_state, train_epoch
from train.init import init_std, initial_weights
from train.models import build_model, model_info
from train.optimizers import lr_at, parse_drops, scale_drops
from train.pruning import prune_masks
from train.seeding import generator

CPU = torch.device("cpu")
SGD = {"optimizer": "sgd", "momentum": 0.9}
DATA = Path(os.environ.get("DN_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "datasets"))


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", train_subset=512)


@pytest.fixture(scope="module")
def net(digits):
    return build_model("fc1", tuple(digits.x_train.shape[1:]), digits.num_classes)


def _models(net, count: int, rate: float = 0.6) -> tuple[list[dict], list[dict]]:
    """`count` θ0 and masks pruning `rate` of each by magnitude."""
    thetas = [initial_weights("xavier_uniform", net.layers, generator(0, "sgd", t)) for t in range(count)]
    ones = {layer.param: torch.ones(layer.shape) for layer in net.layers}
    return thetas, [prune_masks(net.layers, theta, ones, rate, "global") for theta in thetas]


def test_an_sgd_stack_steps_each_model_as_torch_sgd_steps_it_alone(net):
    """Within rounding: SGD is elementwise, but the fused kernel evaluates the tail of a tensor
    without FMA, so a model's last elements round differently by where they sit in the stack.
    The bound follows each line of the update, d = g + wd p, b = m b + d, p -= lr b: two
    evaluations of a line of K terms differ by at most 2 gamma_3 sum|terms| plus what their
    inputs already differed by. Pruned weights and their momentum are exactly zero in both."""
    lr, wd, m = 0.1, 1e-4, 0.9
    thetas, masks = _models(net, 3)
    stack = build_stack(net, thetas, masks, lr, wd, CPU, **SGD)
    alone = []
    for theta, mask in zip(thetas, masks, strict=True):
        params = {k: (v * mask[k] if k in mask else v).clone().requires_grad_(True) for k, v in theta.items()}
        opt = torch.optim.SGD(list(params.values()), lr=lr, momentum=m, weight_decay=wd, foreach=False)
        alone.append((params, mask, opt))
    two_gamma = 2 * gamma(3, torch.float32)
    bound = {(i, k): (torch.zeros(p.shape, dtype=torch.float64), torch.zeros(p.shape, dtype=torch.float64))
             for i in range(3) for k, p in alone[0][0].items()}  # (|Δp|, |Δb|) bounds per element
    gen = torch.Generator().manual_seed(0)
    for _ in range(4):
        grads = {k: torch.randn(p.shape, generator=gen) for k, p in stack.params.items()}
        for k, p in stack.params.items():
            p.grad = grads[k].clone()
        stack.mask_gradients()
        stack.optimizer.step()
        for i, (params, mask, opt) in enumerate(alone):
            for k, p in params.items():
                g = grads[k][i] * mask[k] if k in mask else grads[k][i].clone()
                b = opt.state[p].get("momentum_buffer", torch.zeros_like(p)).detach().double().abs()
                w, dp, db = p.detach().double().abs(), *bound[(i, k)]
                d = g.double().abs() + wd * w
                dd = wd * dp + two_gamma * d
                db = m * db + dd + two_gamma * (m * b + d)
                dp = dp + lr * db + two_gamma * (w + lr * (m * b + d))
                bound[(i, k)] = (dp, db)
                p.grad = g
            opt.step()
    for i, (params, mask, opt) in enumerate(alone):
        for k, p in params.items():
            dp, db = bound[(i, k)]
            ours, buffer = stack.params[k][i].detach(), stack.optimizer.state[stack.params[k]]["momentum_buffer"][i]
            assert torch.all((ours.double() - p.detach().double()).abs() <= dp), k
            assert torch.all((buffer.double() - opt.state[p]["momentum_buffer"].double()).abs() <= db), k
            if k in mask:
                pruned = mask[k] == 0
                assert torch.all(ours[pruned] == 0) and torch.all(buffer[pruned] == 0), k


def test_pruned_weights_and_their_momentum_stay_exactly_zero_under_sgd_with_weight_decay(net, digits):
    thetas, masks = _models(net, 2, rate=0.7)
    stack = build_stack(net, thetas, masks, 0.05, 1e-1, CPU, **SGD)
    before = {k: v.detach().clone() for k, v in stack.params.items()}
    for epoch in (1, 2, 3):
        order = epoch_order([(0, "sgd", 0), (0, "sgd", 1)], epoch, digits.x_train.shape[0], CPU)
        train_epoch(net, stack, digits.x_train, digits.y_train, order, 128)
    for layer in net.layers:
        p, m = stack.params[layer.param].detach(), torch.stack([mask[layer.param] for mask in masks]).bool()
        assert torch.all(p[~m] == 0.0), "a pruned weight moved"
        assert torch.all(stack.optimizer.state[stack.params[layer.param]]["momentum_buffer"][~m] == 0.0)
        assert (p[m] != before[layer.param][m]).float().mean() > 0.9  # the survivors train


def test_the_lr_is_divided_by_ten_after_each_drop():
    drops = parse_drops("80,120")
    assert drops == (80, 120) and parse_drops("") == ()
    lrs = {epoch: lr_at(0.1, drops, epoch) for epoch in (1, 80, 81, 120, 121, 160)}
    assert lrs == {1: 0.1, 80: 0.1, 81: 0.1 / 10, 120: 0.1 / 10, 121: 0.1 / 100, 160: 0.1 / 100}
    assert lr_at(1e-3, (), 500) == 1e-3  # no drops: the lr as given, bit for bit
    for bad in ("120,80", "0,5", "80,80", "x"):
        with pytest.raises(ValueError, match="lr_drops"):
            parse_drops(bad)


def test_presets_move_the_models_drops_with_their_epochs_and_given_drops_stay():
    assert scale_drops((80, 120), 20, 160) == (10, 15) and scale_drops((80, 120), 1, 160) == (1, 2)
    drops = {p: (e.epochs, e.lr_drops) for p in ("paper", "quick", "demo", "smoke")
             for e in [preset_experiment(p, "resnet20-cifar10")]}
    assert drops == {"paper": (160, "80,120"), "quick": (20, "10,15"), "demo": (30, "15,22"), "smoke": (2, "1,2")}
    assert preset_experiment("paper", "resnet20-cifar10", epochs=40).lr_drops == "20,30"
    assert preset_experiment("quick", "resnet20-cifar10", lr_drops="3").lr_drops == "3"
    assert preset_experiment("quick", "fc1-mnist").lr_drops == ""  # Adam's recipe: a constant lr


def test_resnet20_carries_open_lths_recipe_and_bad_settings_get_one_line():
    resnet = preset_experiment("paper", "resnet20-cifar10")
    assert (resnet.optimizer, resnet.momentum, resnet.lr, resnet.weight_decay, resnet.batch_size) == (
        "sgd", 0.9, 0.1, 1e-4, 128)
    assert model_info("resnet20").init == "kaiming_normal" and "kaiming_normal" in ExperimentConfig.__dataclass_fields__[
        "init"].metadata["help"]
    for bad, says in (({"optimizer": "rmsprop"}, "optimizer must be one of adam, sgd"),
                      ({"momentum": 1.0}, "momentum must be in [0, 1)"),
                      ({"momentum": 0.9}, "momentum is SGD's"),
                      ({"lr_drops": "120,80"}, "lr_drops must be increasing")):
        with pytest.raises(DnError, match=r"^fc1-mnist: [^;]*" + re.escape(says)):
            ExperimentConfig(**bad).validate()


def test_a_default_config_keeps_its_name():
    """The new fields stay out of the identity at their defaults (config.LATER_FIELDS)."""
    assert RunConfig((preset_experiment("paper", "fc1-mnist"),)).name == "paper-text-77fb2d51"
    assert "optimizer" not in RunConfig((ExperimentConfig(),)).identity()["experiments"][0]
    assert RunConfig((ExperimentConfig(**SGD),)).name != RunConfig((ExperimentConfig(),)).name


def _train(net, digits, stack, epochs: range, drops: tuple[int, ...]) -> None:
    for epoch in epochs:
        stack.set_lr(lr_at(0.05, drops, epoch))
        order = epoch_order([(0, "resume", 0), (0, "resume", 1)], epoch, digits.x_train.shape[0], CPU)
        train_epoch(net, stack, digits.x_train, digits.y_train, order, 128)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_an_exported_stack_resumes_bit_for_bit(net, digits, optimizer):
    """Two epochs straight == one, export (through numpy, as a checkpoint), import, one more;
    the lr drops after epoch 1, so the resumed epoch must pick the dropped lr by itself."""
    thetas, masks = _models(net, 2)
    settings = {"optimizer": optimizer, "momentum": 0.9 if optimizer == "sgd" else 0.0}
    straight = build_stack(net, thetas, masks, 0.05, 1e-4, CPU, **settings)
    _train(net, digits, straight, range(1, 3), (1,))
    first = build_stack(net, thetas, masks, 0.05, 1e-4, CPU, **settings)
    _train(net, digits, first, range(1, 2), (1,))
    saved = {k: torch.tensor(v.numpy()) for k, v in export_state(first).items()}
    names = {k.split("/")[0] for k in saved}
    assert names == {"param", optimizer}
    if optimizer == "adam":  # the keys of every checkpoint written before SGD existed
        assert saved["adam/fc1.weight/step"].shape == (1,) and "adam/fc1.weight/exp_avg_sq" in saved
    else:
        assert set(k for k in saved if k.startswith("sgd/")) == {f"sgd/{k}/momentum_buffer" for k in straight.params}
    resumed = build_stack(net, thetas, masks, 0.05, 1e-4, CPU, **settings)
    import_state(resumed, saved)
    _train(net, digits, resumed, range(2, 3), (1,))
    for k, p in straight.params.items():
        assert torch.equal(p, resumed.params[k]), k
    assert export_state(straight).keys() == export_state(resumed).keys()
    for k, v in export_state(straight).items():
        assert torch.equal(v, export_state(resumed)[k]), k


def test_kaiming_normal_draws_n0_2_over_fan_in_from_the_seeded_generator(net):
    layer = net.layers[0]
    draw = initial_weights("kaiming_normal", net.layers, generator(0, "kaiming"))[layer.param]
    again = initial_weights("kaiming_normal", net.layers, generator(0, "kaiming"))[layer.param]
    assert torch.equal(draw, again) and init_std("kaiming_normal", layer) == math.sqrt(2 / layer.fan_in)
    n = draw.numel()  # the sample std within 5 standard errors (sd of s: sigma / sqrt(2n))
    assert abs(draw.std().item() / math.sqrt(2 / layer.fan_in) - 1) < 5 / math.sqrt(2 * n)


def test_dn_train_runs_resnet20_with_sgd_and_its_lr_drops(tmp_path, monkeypatch, capsys):
    """The smoke preset's 2 epochs drop the lr after epoch 1 (80,120 of 160 -> 1,2); pruning
    rounds of one epoch stay at lr. On the bundled 8x8 digits: fast and offline."""
    from train.engine import Stack

    seen: list[float] = []
    original = Stack.set_lr
    monkeypatch.setattr(Stack, "set_lr", lambda self, lr: (seen.append(lr), original(self, lr))[1])
    out = tmp_path / "run"
    code, _, err = run_dn(["train", "--model", "resnet20", "--dataset", "digits", "--preset", "smoke",
                           "--train-subset", "96", "--test-subset", "32", "--batch-size", "32", "--trials", "1",
                           "--prune-rounds", "1", "--ticket-rounds", "1", "--conditions", "full",
                           "--no-progress", "--device", "cpu", "--out", str(out)], monkeypatch, capsys)
    assert code == 0, err
    entry = json.loads((out / "config.json").read_text())["experiments"][0]
    assert (entry["optimizer"], entry["momentum"], entry["lr"], entry["lr_drops"]) == ("sgd", 0.9, 0.1, "1,2")
    assert seen == [0.1, 0.1, 0.1 / 10]  # pruning round 1 epoch 1; full: epoch 1, epoch 2


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "cifar-10-batches-py").exists(), reason=f"CIFAR-10 not found in {DATA}: set DN_TEST_DATA")
def test_dn_train_resnet20_cifar10_smoke_records_sgd(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    code, _, err = run_dn(["train", "--model", "resnet20", "--dataset", "cifar10", "--preset", "smoke",
                           "--data-dir", str(DATA), "--train-subset", "64", "--test-subset", "32", "--trials", "1",
                           "--epochs", "1", "--prune-rounds", "1", "--ticket-rounds", "1", "--conditions", "full",
                           "--no-progress", "--device", "cpu", "--out", str(out)], monkeypatch, capsys)
    assert code == 0, err
    entry = json.loads((out / "config.json").read_text())["experiments"][0]
    assert (entry["optimizer"], entry["momentum"], entry["lr"]) == ("sgd", 0.9, 0.1)
    assert entry["lr_drops"] == "1,2"  # 80,120 of 160 epochs at 1 epoch: beyond the run, a constant lr
