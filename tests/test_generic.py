"""The generic stacked path's edges: the standard networks, their defaults, user models, refusals.

Its numbers (equal to the hand-written networks, stacked equals alone, BatchNorm) are in
tests/test_models.py, which CI also runs under other kernels.
"""

from __future__ import annotations

import textwrap

import pytest
import torch
from _cli import run_dn
from torch import nn

from dn_data import load_dataset
from results.errors import DnError
from results.labels import split_experiment
from train import open_run
from train.config import ExperimentConfig, preset_experiment
from train.engine import build_stack, epoch_order, evaluate, train_epoch
from train.init import initial_weights
from train.models import MODELS, GenericNet, build_model, model_info, weight_count
from train.seeding import generator

MNIST, CIFAR = (1, 28, 28), (3, 32, 32)


@pytest.mark.parametrize("model,shape,weights", [
    ("lenet300", MNIST, 266_200), ("conv2", CIFAR, 4_300_992), ("conv4", CIFAR, 2_425_024),
    ("conv6", CIFAR, 2_261_184),
    # 3x3 convs 3-16 (432), 6 of 16-16 (13,824), 16-32 (4,608), 5 of 32-32 (46,080), 32-64 (18,432),
    # 5 of 64-64 (184,320), the 1x1 shortcuts 16-32 (512) and 32-64 (2,048), fc 64-10 (640)
    ("resnet20", CIFAR, 270_896),
])
def test_standard_networks_have_frankle_and_carbins_weight_counts(model, shape, weights):
    net = build_model(model, shape, 10)
    assert weight_count(net) == weights
    assert set(net.param_shapes()) >= {k for spec in net.layers for k in (spec.param, spec.bias)}


def test_resnet20_is_open_lths_cifar_resnet_20():
    net = build_model("resnet20", CIFAR, 10)
    names = [spec.name for spec in net.layers]
    assert len(names) == 22 and names[0] == "conv" and names[-1] == "fc"
    assert [n for n in names if "shortcut" in n] == ["blocks.3.shortcut.0", "blocks.6.shortcut.0"]
    assert net.layers[-1].shape == (10, 64)
    norms = [k for k in net.fixed_start() if k.endswith(".weight")]
    assert len(norms) == 1 + 9 * 2 + 2  # after the first conv, two per block, one per shortcut
    assert all(torch.all(v == 1) for k, v in net.fixed_start().items() if k.endswith(".weight"))
    assert all(torch.all(v == 0) for k, v in net.fixed_start().items() if k.endswith(".bias"))


def test_resnet20_trains_as_a_stack_and_keeps_running_statistics_per_model():
    data = load_dataset("digits", train_subset=96, test_subset=64)
    net = build_model("resnet20", tuple(data.x_train.shape[1:]), data.num_classes)
    thetas = [initial_weights("xavier_normal", net.layers, generator(0, "resnet", t)) for t in range(2)]
    ones = {spec.param: torch.ones(spec.shape) for spec in net.layers}
    stack = build_stack(net, thetas, [ones, ones], 1e-3, 1e-4, torch.device("cpu"))
    before = {k: v.clone() for k, v in stack.buffers.items()}
    order = epoch_order([(0, "r", 0), (0, "r", 1)], 1, 96, torch.device("cpu"))
    loss = train_epoch(net, stack, data.x_train, data.y_train, order, 32)
    test_loss, acc = evaluate(net, stack, data.x_test, data.y_test)
    assert loss.shape == test_loss.shape == acc.shape == (2,)
    assert torch.isfinite(loss).all() and torch.isfinite(test_loss).all()
    mean = stack.buffers["blocks.0.bn1.running_mean"]
    assert not torch.equal(mean, before["blocks.0.bn1.running_mean"]) and not torch.equal(mean[0], mean[1])
    assert torch.all(stack.buffers["bn.num_batches_tracked"] == 3)
    assert stack.params["conv.bias"].grad is None  # convs without bias: the entry is never used
    assert stack.params["bn.weight"].grad is not None


class Gate(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x):
        return self.fc(x.flatten(1)) * self.scale


@pytest.mark.parametrize("module,says", [
    (nn.Sequential(nn.Flatten(), nn.Linear(64, 10), nn.Dropout()), "module 2 (Dropout) is not supported"),
    (Gate(), "holds parameters or buffers of its own (scale)"),
    (nn.Sequential(nn.Flatten(), nn.ReLU()), "has no Linear or Conv2d layer"),
    (nn.Sequential(nn.Flatten(), nn.Linear(63, 10)), "does not run on inputs of shape (1, 8, 8)"),
    (nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, padding_mode="circular"), nn.Flatten(), nn.Linear(128, 10)),
     "only zero padding"),
])
def test_unsupported_modules_are_refused_in_one_line(module, says):
    with pytest.raises(DnError) as err:
        GenericNet(module, (1, 8, 8), "mine")
    assert says in str(err.value) and "\n" not in str(err.value)
    if "not supported" in says:
        assert "supported: Linear, Conv2d" in str(err.value)


def test_each_network_carries_its_defaults_and_the_presets_read_them():
    default = ExperimentConfig()
    fc1, lenet5 = preset_experiment("paper", "fc1-mnist"), preset_experiment("paper", "lenet5-cifar10")
    assert (fc1.epochs, lenet5.epochs) == (100, 300)
    for exp in (fc1, lenet5):  # the D_n paper's: unchanged
        assert (exp.lr, exp.batch_size, exp.weight_decay) == (default.lr, default.batch_size, default.weight_decay)
    conv2 = preset_experiment("paper", "conv2-cifar10")
    assert (conv2.epochs, conv2.lr, conv2.batch_size) == (24, 2e-4, 60)
    lenet300 = preset_experiment("paper", "lenet300-mnist")
    assert (lenet300.epochs, lenet300.lr, lenet300.batch_size) == (50, 1.2e-3, 60)
    assert preset_experiment("quick", "conv4-cifar10").lr == 3e-4 == MODELS["conv6"].lr
    assert preset_experiment("smoke", "conv6-cifar10").batch_size == 256  # the preset's own choice wins
    resnet = preset_experiment("paper", "resnet20-cifar10")  # open_lth's SGD recipe (tests/test_optimizers.py)
    assert model_info("resnet20").optimizer == "sgd" == resnet.optimizer and resnet.lr == 0.1
    assert (resnet.momentum, resnet.lr_drops) == (0.9, "80,120")
    assert (resnet.batch_size, resnet.weight_decay, resnet.epochs) == (128, 1e-4, 160)
    assert model_info("conv2").init == "xavier_normal" and conv2.init == default.init  # a protocol setting
    assert preset_experiment("paper", "conv2-cifar10", lr=1e-3).lr == 1e-3


USER_MODULE = '''
from collections import OrderedDict

from torch import nn


def build(input_shape, num_classes):
    c, h, w = input_shape
    return nn.Sequential(OrderedDict([
        ("conv", nn.Conv2d(c, 4, 3, padding=1)), ("bn", nn.BatchNorm2d(4)), ("relu", nn.ReLU()),
        ("pool", nn.MaxPool2d(2)), ("flatten", nn.Flatten()),
        ("fc", nn.Linear(4 * (h // 2) * (w // 2), num_classes))]))


def plain(input_shape, num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(input_shape[0] * input_shape[1] * input_shape[2], num_classes))


def not_a_module(input_shape, num_classes):
    return 3
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "dn_user_nets.py").write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "dn_user_nets"


def test_a_user_model_is_built_by_its_function(user_module):
    net = build_model(f"{user_module}:build", (1, 8, 8), 10)
    assert isinstance(net, GenericNet)
    assert [(s.name, s.shape) for s in net.layers] == [("conv", (4, 1, 3, 3)), ("fc", (10, 64))]
    assert [s.name for s in build_model(f"{user_module}:plain", (1, 8, 8), 10).layers] == ["1"]
    assert split_experiment(f"{user_module}:build-digits") == (f"{user_module}:build", "digits")


@pytest.mark.parametrize("name,says", [
    ("dn_user_nets:missing", "has no 'missing'"),
    ("dn_user_nets:not_a_module", "must return a torch.nn.Module"),
    ("dn_no_such_module_here:build", "cannot import 'dn_no_such_module_here'"),
    ("dn-user-nets:build", "may not contain '-'"),
    ("dn_user_nets:", "package.module:function"),
])
def test_user_model_mistakes_are_one_line(user_module, name, says):
    with pytest.raises(DnError) as err:
        build_model(name, (1, 8, 8), 10)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_a_user_model_trains_end_to_end_from_the_cli(user_module, tmp_path, monkeypatch, capsys):
    """`dn train --model package.module:function` with every condition at the smoke preset."""
    out = tmp_path / "run"
    model = f"{user_module}:build"
    code, stdout, err = run_dn(["train", "--model", model, "--dataset", "digits", "--preset", "smoke",
                                "--conditions", "all", "--prune-rounds", "2", "--ticket-rounds", "1", "--ticket-rounds", "2",
                                "--out", str(out), "--no-progress", "--device", "cpu"], monkeypatch, capsys)
    assert code == 0, err
    assert (out / "paired.csv").exists() and (out / f"{model}-digits" / "layers.json").exists()
    run = open_run(out)
    assert run.is_complete and run.experiments == [f"{model}-digits"]
    exp = run.experiment(f"{model}-digits")
    weights, mask = exp.initial_weights("reinit", trial=0, round=2)  # re-derived, checked by its digest
    assert set(mask) == {"conv.weight", "fc.weight"} and "bn.weight" not in weights
