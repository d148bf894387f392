"""The generic path's fused conv stages (train/models/conv_stages.py, shared_conv.py): which
modules qualify, and that the fused stages compute the plain layers' values and gradients."""

from __future__ import annotations

import copy
from collections import OrderedDict

import pytest
import torch
from _numerics import gamma
from torch import nn

from train.models import GenericNet
from train.models.conv_stages import conv_stages
from train.models.shared_conv import shared_conv_stack
from train.seeding import generator

F64 = torch.float64


def _thin(pool_first: bool = False) -> nn.Sequential:
    """Two thin stages, the first same-padded without a pool, then a classifier."""
    pool = [nn.MaxPool2d(2), nn.ReLU()] if pool_first else [nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(OrderedDict([
        ("features", nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3), *pool)),
        ("flatten", nn.Flatten()), ("fc", nn.Linear(6 * 3 * 3, 5))]))


class OwnForward(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = _thin()

    def forward(self, x):
        return self.body(x)


class SequentialOwnForward(nn.Sequential):
    """A Sequential subclass with a `forward` of its own: the order it applies its layers in is unknown."""

    def forward(self, x):
        return super().forward(x)


def _shared_relu() -> nn.Sequential:
    relu = nn.ReLU()
    return nn.Sequential(nn.Conv2d(3, 4, 3), relu, nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 6), relu,
                         nn.Linear(6, 5))


def _hooked() -> nn.Sequential:
    module = _thin()
    module[0][1].register_forward_hook(lambda mod, args, out: out * 2)
    return module


@pytest.mark.parametrize("module,fused", [
    (_thin(), True),
    (_thin(pool_first=True), True),
    (OwnForward(), False),  # its own forward: the order of its layers is not known
    (SequentialOwnForward(*_thin()), False),
    (_shared_relu(), False),  # one ReLU applied twice
    (_hooked(), False),  # a forward hook the fused stages would skip
    (nn.Sequential(nn.Conv2d(3, 4, 3, padding="same"), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 5)), False),
    (nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5)), False),
    (nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 3 * 3, 5)), False),
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 5)), False),  # no ReLU
    # a wide later convolution runs model by model, so no stage is fused
    (nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.Conv2d(16, 4, 3), nn.ReLU(), nn.Flatten(),
                   nn.Linear(4 * 4 * 4, 5)), False),
    # a convolution after the stages (here after an AvgPool2d) keeps the whole network unfused
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AvgPool2d(2), nn.Conv2d(4, 4, 1), nn.Flatten(),
                   nn.Linear(4 * 3 * 3, 5)), False),
    (nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 5)), False),  # no convolution
])
def test_which_modules_have_fused_stages(module, fused):
    stages = conv_stages(module, (3, 8, 8))
    assert (stages is not None) == fused
    assert GenericNet(module, (3, 8, 8)).use_stages == fused


def test_the_stages_and_the_rest_are_named_as_in_the_module():
    stages = conv_stages(_thin(), (3, 8, 8))
    assert stages.convs == ("features.0", "features.2")
    assert stages.plan == ((1, False), (0, True))
    assert stages.output_shape == (6, 3, 3)
    assert stages.rename == {"fc.weight": "1.weight", "fc.bias": "1.bias"}


def _inputs(net: GenericNet, tag: str, models: int, images: int, batch: int):
    """Float64 parameters of `models` stacked models, a dataset of `images` 3x8x8 images and each
    model's `batch` rows of it, all seeded by `tag`."""
    params = {k: torch.randn((models, *s), generator=generator(0, tag, k), dtype=F64)
              for k, s in net.param_shapes().items()}
    data = torch.randn(images, 3, 8, 8, generator=generator(0, f"{tag}-x"), dtype=F64)
    index = torch.stack([torch.randperm(images, generator=generator(0, f"{tag}-i", m))[:batch] for m in range(models)])
    return params, data, index


def _abs_bound(module: nn.Module, params: dict[str, torch.Tensor], m: int, x: torch.Tensor) -> torch.Tensor:
    """Per logit, twice Higham's gamma_K times the output of the network with every weight, bias
    and input replaced by its magnitude and the ReLUs left out: that output bounds the sum of the
    magnitudes of the terms behind each logit, K is the longest chain of sums (every layer's fan-in
    plus its bias), so each of two evaluation orders is within half the bound of exact arithmetic."""
    net = copy.deepcopy(module).double()
    terms = 0
    with torch.no_grad():
        for name, mod in net.named_modules():
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                mod.weight.copy_(params[f"{name}.weight"][m].abs())
                mod.bias.copy_(params[f"{name}.bias"][m].abs())
                terms += mod.weight[0].numel() + 1
        for mod in list(net.modules()):
            for child_name, child in list(mod.named_children()):
                if isinstance(child, nn.ReLU):
                    setattr(mod, child_name, nn.Identity())
        return 2 * gamma(terms, F64) * net(x.abs())


@pytest.mark.parametrize("pool_first", [False, True], ids=["relu-pool", "pool-relu"])
@pytest.mark.parametrize("shared", [False, True], ids=["own-batches", "shared-batch"])
def test_fused_stages_equal_the_plain_layers(shared, pool_first):
    """Logits within the derived rounding bound of the model-by-model path, in float64 (padding,
    a stage without a pool and a pool before its ReLU included)."""
    module = _thin(pool_first)
    fused = GenericNet(module, (3, 8, 8))
    plain = GenericNet(module, (3, 8, 8))
    plain.use_stages = False
    params, data, index = _inputs(fused, "stages", models=3, images=20, batch=7)
    if shared:
        index = index[:1]
    got = fused.forward(params, fused.stack_input(fused.prepare_data(data), index))
    want = plain.forward(params, plain.stack_input(data, index))
    for m in range(3):
        bound = _abs_bound(module, params, m, data[index[0 if shared else m]])
        assert ((got[m] - want[m]).abs() <= bound).all(), f"model {m}"
        assert bound.max() < 1e-9 * (1 + want[m].abs().max())  # small enough to catch a wrong layer


@pytest.mark.parametrize("own_inputs", [False, True])
def test_fused_stages_gradients_pass_gradcheck(own_inputs):
    """Every weight and bias gradient of padded, pooled and unpooled stages against finite
    differences (torch.autograd.gradcheck, float64)."""
    models = 2
    x = torch.randn(3, 3 * models if own_inputs else 3, 6, 6, generator=generator(0, "gc-x"), dtype=F64)
    shapes = [(models, 3, 3, 3, 3), (models, 3), (models, 4, 3, 3, 3), (models, 4)]
    weights = [torch.randn(s, generator=generator(0, "gc", i), dtype=F64).requires_grad_(True)
               for i, s in enumerate(shapes)]

    def run(w1, b1, w2, b2):
        return shared_conv_stack(x, [(w1, b1), (w2, b2)], chunk=2, own_inputs=own_inputs,
                                 plan=((1, False), (0, True)))

    assert torch.autograd.gradcheck(run, weights)


@pytest.mark.parametrize("shared", [False, True], ids=["own-batches", "shared-batch"])
def test_the_fused_network_passes_gradcheck(shared):
    """Every parameter's gradient through GenericNet's fused path, the rest of the Sequential
    included, against finite differences (torch.autograd.gradcheck, float64)."""
    net = GenericNet(_thin(), (3, 8, 8))
    assert net.use_stages
    names = list(net.param_shapes())
    params, data, index = _inputs(net, "net-gc", models=2, images=9, batch=4)
    start = [v.requires_grad_(True) for v in params.values()]
    x = net.stack_input(net.prepare_data(data), index[:1] if shared else index)

    def run(*values):
        return net.forward(dict(zip(names, values, strict=True)), x)

    assert torch.autograd.gradcheck(run, start)


def _rests() -> list:
    """Fusable stages followed by rests the fused path must run as the whole module does."""
    return [
        pytest.param(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 6, 3), nn.ReLU(),
                                   nn.AdaptiveAvgPool2d(1), nn.Flatten()), id="no-parameters"),
        pytest.param(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
                                   nn.Flatten(), nn.ReLU(inplace=True), nn.Linear(64, 5)), id="inplace-on-the-output"),
    ]


@pytest.mark.parametrize("models", [1, 3])
@pytest.mark.parametrize("module", _rests())
def test_fused_rests_equal_the_whole_module(module, models):
    """A rest without parameters and in-place ReLUs on the fused output, in a stack of one and of
    three: logits within the derived rounding bound of the whole module's (float64), gradients
    through gradcheck."""
    fused, whole = GenericNet(module, (3, 8, 8)), GenericNet(module, (3, 8, 8))
    whole.use_stages = False
    assert fused.use_stages
    params, data, index = _inputs(fused, "rest", models=models, images=9, batch=4)
    x_in = fused.stack_input(fused.prepare_data(data), index)
    logits = fused.forward(params, x_in)
    expect = whole.forward(params, whole.stack_input(data, index))
    for m in range(models):
        assert ((logits[m] - expect[m]).abs() <= _abs_bound(module, params, m, data[index[m]])).all()
    names = list(params)

    def run(*values):
        return fused.forward(dict(zip(names, values, strict=True)), x_in)

    assert torch.autograd.gradcheck(run, [params[k].clone().requires_grad_(True) for k in names])


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_a_batchnorm_after_fused_stages_keeps_its_statistics_per_model(training):
    """BatchNorm in the rest: its buffers are found under the whole module's names and kept per
    model, batch statistics in training, running ones in evaluation. Small integers for data and
    weights make every sum before the BatchNorm exact in any order, and the whole module runs
    under vmap as the fused path's rest does, so both compute the same operations on the same
    values: logits and statistics are compared exactly."""
    module = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 7),
                           nn.ReLU(inplace=True), nn.BatchNorm1d(7))
    fused, whole = GenericNet(module, (3, 8, 8)), GenericNet(module, (3, 8, 8))
    whole.use_stages, whole.model_by_model = False, False
    models = 3
    params = {k: torch.randint(-3, 4, (models, *s), generator=generator(0, "bn", k)).double()
              for k, s in fused.param_shapes().items()}
    data = torch.randint(-3, 4, (9, 3, 8, 8), generator=generator(0, "bn-x")).double()
    index = torch.stack([torch.randperm(9, generator=generator(0, "bn-i", m))[:5] for m in range(models)])
    start = {k: torch.stack([v.double() if v.is_floating_point() else v] * models)
             for k, v in fused.initial_buffers().items()}
    start = {k: v + torch.arange(models).view(-1, *[1] * (v.dim() - 1)) for k, v in start.items()}  # per model
    got, want = {k: v.clone() for k, v in start.items()}, {k: v.clone() for k, v in start.items()}
    logits = fused.forward_with(params, got, fused.stack_input(fused.prepare_data(data), index), training)
    expect = whole.forward_with(params, want, whole.stack_input(data, index), training)
    assert torch.equal(logits, expect)
    for k in start:
        assert torch.equal(got[k], want[k]), k
        assert torch.equal(got[k], start[k]) != training, k  # updated in training only
    # `forward` (fresh statistics, batch mode) takes the fused path's own-batch input as well
    assert torch.equal(fused.forward(params, fused.stack_input(fused.prepare_data(data), index)),
                       whole.forward(params, whole.stack_input(data, index)))
