"""The stacked networks compute exactly the textbook networks (nn.Module), in every layout."""

from __future__ import annotations

import copy
from collections import OrderedDict
from unittest.mock import patch

import pytest
import torch
import torch.nn.functional as F
from _numerics import (
    abs_forward_reference,
    abs_gradients,
    assert_rows_within,
    assert_within,
    forward_error_bound,
    gamma,
    step_terms,
    unit_roundoff,
)
from torch import nn

from dn_data import load_dataset
from studies.bench import plain_model
from train.engine import build_stack, epoch_order, evaluate, train_epoch
from train.init import initial_weights
from train.models import GenericNet, build_model, shared_conv
from train.models.lenet5 import PerModelBatch
from train.pruning import prune_masks
from train.seeding import generator

SHAPE = (3, 32, 32)


def _stacked_params(net, models: int) -> dict[str, torch.Tensor]:
    thetas = [initial_weights("xavier_uniform", net.layers, generator(0, "models", m)) for m in range(models)]
    params = {k: torch.stack([t[k] for t in thetas]) for k in thetas[0]}
    for k in params:  # nonzero biases, so a bias in the wrong place would show
        if k.endswith(".bias"):
            params[k] = torch.randn(params[k].shape, generator=generator(0, "bias", k)) * 0.1
    return {k: v.requires_grad_(True) for k, v in params.items()}


def _plain_with(net, params: dict[str, torch.Tensor], m: int, dtype=torch.float32) -> torch.nn.Module:
    plain = plain_model("lenet5", SHAPE, 10).to(dtype)
    layers = [mod for mod in plain if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        for spec, mod in zip(net.layers, layers, strict=True):
            mod.weight.copy_(params[spec.param][m])
            mod.bias.copy_(params[spec.bias][m])
    return plain


@pytest.mark.parametrize("shared", [False, True], ids=["own-batches", "shared-batch"])
def test_lenet5_cpu_layout_equals_textbook_lenet5_in_values_and_gradients(shared):
    """ReLU after pooling, the zero-padded conv1 channels (own batches) and the wide chunked conv1
    (one batch for every model, in pieces smaller than the batch) are exact rewrites.

    Both sides sum in their own orders, so they agree up to rounding, bounded from the sums'
    lengths (tests/_numerics.py): logits in float32 (the engine's kernels), per image within
    twice the propagated rounding bound of each layer; gradients in float64 (the same layouts;
    a ReLU or max-pool decision that rounding could flip would make a float32 gradient jump),
    per weight within 2 gamma(K) times the sum of its terms' magnitudes.
    """
    net = build_model("lenet5", SHAPE, 10)
    params = _stacked_params(net, 3)
    data = net.prepare_data(torch.randn(50, *SHAPE, generator=generator(0, "x")))
    index = torch.stack([torch.randperm(50, generator=generator(0, "i", m))[:16] for m in range(3)])
    if shared:
        index = index[:1]
    with patch.object(shared_conv, "CHUNK", 5):  # 16 images: pieces of 5, 5, 5 and 1
        logits = net.forward(params, net.stack_input(data, index))
    for m in range(3):
        x = data[index[0 if shared else m]].contiguous()
        out = _plain_with(net, params, m)(x)
        bound = 2 * forward_error_bound("lenet5", params, m, x, torch.float32)
        assert_rows_within(logits[m], out, bound, "logits")

    p64 = {k: v.detach().double().requires_grad_(True) for k, v in params.items()}
    data64 = data.double()
    with patch.object(shared_conv, "CHUNK", 5):
        net.forward(p64, net.stack_input(data64, index)).square().sum().backward()
    grad_bound = 2 * gamma(step_terms(net.layers, SHAPE[1:], 16, 10), torch.float64)
    for m in range(3):
        x = data64[index[0 if shared else m]].contiguous()
        plain = _plain_with(net, p64, m, torch.float64)
        out = plain(x)
        out.square().sum().backward()
        magnitudes = abs_gradients("lenet5", p64, m, x, 2 * out)
        grads = [mod.weight.grad for mod in plain if hasattr(mod, "weight")]
        for spec, grad in zip(net.layers, grads, strict=True):
            assert_within(p64[spec.param].grad[m], grad, grad_bound * magnitudes[spec.param], spec.param)


def test_lenet5_grouped_layout_equals_cpu_layout():
    """The CUDA layout (one grouped convolution) computes what the CPU layout does, up to twice
    the rounding bound of the conv stages (float32, any kernels)."""
    net = build_model("lenet5", SHAPE, 10)
    params = _stacked_params(net, 4)
    data = torch.randn(40, *SHAPE, generator=generator(0, "y"))
    index = torch.stack([torch.randperm(40, generator=generator(0, "j", m))[:8] for m in range(4)])

    def close(got: torch.Tensor, want: torch.Tensor, inputs: list[torch.Tensor]) -> None:
        for m, x in enumerate(inputs):
            bound = 2 * forward_error_bound("lenet5", params, m, x, torch.float32, layers=2)
            assert_rows_within(got[m], want[m], bound, f"model {m}")

    looped = net._features_looped(params, PerModelBatch(data, index))
    side_by_side = data[index.T].reshape(8, -1, 32, 32)
    close(net._features_grouped(params, side_by_side), looped, [data[i] for i in index])
    shared = net._features_looped(params, data[:8])  # evaluation: one batch for every model
    close(net._features_grouped(params, net_repeat(data[:8], 4)), shared, [data[:8]] * 4)
    # a shared batch reaches the CUDA layout unrepeated (stack_input of a (1, B) index)
    close(net._features_grouped(params, data[:8]), shared, [data[:8]] * 4)


def net_repeat(x: torch.Tensor, models: int) -> torch.Tensor:
    return x.repeat(1, models, 1, 1)


def test_fc1_equals_textbook_fc1():
    """The stacked FC-1 computes the textbook one, within twice its float32 rounding bound."""
    net = build_model("fc1", (1, 28, 28), 10)
    params = _stacked_params(net, 2)
    x = torch.randn(2, 12, 1, 28, 28, generator=generator(0, "z"))
    logits = net.forward(params, x)
    for m in range(2):
        plain = plain_model("fc1", (1, 28, 28), 10)
        linears = [mod for mod in plain if isinstance(mod, torch.nn.Linear)]
        with torch.no_grad():
            for spec, mod in zip(net.layers, linears, strict=True):
                mod.weight.copy_(params[spec.param][m])
                mod.bias.copy_(params[spec.bias][m])
        bound = 2 * forward_error_bound("fc1", params, m, x[m], torch.float32)
        assert_rows_within(logits[m], plain(x[m]), bound, "logits")


# ---------------------------------------------------------------- the generic stacked path
# (train/models/generic.py: any nn.Module of the supported layers, one vmap over the models)

F64 = torch.float64
CPU = torch.device("cpu")


GENERIC = [pytest.param("fc1", (1, 28, 28), id="fc1"), pytest.param("lenet5", SHAPE, id="lenet5")]


@pytest.mark.parametrize("path", ["cpu-choice", "model-by-model", "vmap"])
@pytest.mark.parametrize("shared", [False, True], ids=["own-batches", "shared-batch"])
@pytest.mark.parametrize("model,shape", GENERIC)
def test_generic_path_equals_handwritten_in_values_and_gradients(model, shape, shared, path):
    """The generic path given FC-1 or LeNet5 as an nn.Module computes what the hand-written
    stacked network does: the same layers, and logits and gradients that agree up to rounding.

    Each side is one evaluation of the same sums in its own order, so each lies within the
    rounding bound of exact arithmetic (tests/_numerics.py) and they differ by at most twice it:
    logits in float32, per image, within twice the propagated bound of every layer; gradients in
    float64 (a ReLU or max-pool decision that rounding could flip would make a float32 gradient
    jump), per weight and bias within 2 gamma(K) times the sum of its terms' magnitudes.
    """
    hand = build_model(model, shape, 10)
    net = GenericNet(plain_model(model, shape, 10), shape)
    assert net.model_by_model == (model == "lenet5")  # on a CPU, convolutions run model by model
    assert net.use_stages == (model == "lenet5")  # ... except leading conv stages, fused
    if path != "cpu-choice":
        net.use_stages = False
    if path == "vmap":  # the path CUDA takes, and every network without convolutions
        net.model_by_model = False
    assert net.layers == hand.layers
    assert net.param_shapes() == hand.param_shapes()
    params = _stacked_params(hand, 3)
    data = torch.randn(50, *shape, generator=generator(0, "generic", model))
    index = torch.stack([torch.randperm(50, generator=generator(0, "gi", m))[:16] for m in range(3)])
    if shared:
        index = index[:1]
    got = net.forward(params, net.stack_input(net.prepare_data(data), index))
    want = hand.forward(params, hand.stack_input(hand.prepare_data(data), index))
    assert got.shape == (3, 16, 10)
    for m in range(3):
        x = data[index[0 if shared else m]]
        bound = 2 * forward_error_bound(model, params, m, x, torch.float32)
        assert_rows_within(got[m], want[m], bound, f"logits of model {m}")

    sides = {}
    for name, side in (("generic", net), ("hand", hand)):
        p64 = {k: v.detach().double().requires_grad_(True) for k, v in params.items()}
        logits = side.forward(p64, side.stack_input(side.prepare_data(data).double(), index))
        logits.square().sum().backward()
        sides[name] = (p64, logits.detach())
    (g64, _), (h64, logits) = sides["generic"], sides["hand"]
    grad_bound = 2 * gamma(step_terms(hand.layers, shape[1:], 16, 10), F64)
    for m in range(3):
        x = data.double()[index[0 if shared else m]]
        magnitudes = abs_gradients(model, h64, m, x, 2 * logits[m])
        for key in params:
            assert_within(g64[key].grad[m], h64[key].grad[m], grad_bound * magnitudes[key], f"{key} of model {m}")


def _generic_trainer(model: str, dataset: str, train_subset: int | None, batch: int):
    """Float64 training of two epochs (model 0 dense, model 1 pruned to 50%, each its own data
    order) by the hand-written network or by the generic path given the same network."""
    data = load_dataset(dataset, train_subset=train_subset, test_subset=train_subset)
    shape = tuple(data.x_train.shape[1:])
    nets = {"hand": build_model(model, shape, data.num_classes),
            "generic": GenericNet(plain_model(model, shape, data.num_classes), shape)}
    layers = nets["hand"].layers
    thetas = [initial_weights("xavier_uniform", layers, generator(0, "generic", model, t)) for t in range(2)]
    ones = {spec.param: torch.ones(spec.shape) for spec in layers}
    masks = [ones, prune_masks(layers, thetas[1], ones, 0.5)]
    keys = [(0, "generic-order", t) for t in range(2)]
    n = data.x_train.shape[0]

    def train(kind: str, indices: list[int], noise: dict[str, torch.Tensor] | None = None):
        net = nets[kind]
        stack = build_stack(net, [thetas[i] for i in indices], [masks[i] for i in indices], 1e-3, 1e-4, CPU, F64)
        if noise:  # a lone model: amplitude * U[-1, 1] added to every gradient element of every step
            gen = torch.Generator().manual_seed(1)
            for name, p in stack.params.items():
                p.register_hook(lambda g, a=noise[name].to(F64).unsqueeze(0): g + a * (
                    2 * torch.rand(g.shape, generator=gen, dtype=g.dtype) - 1))
        x = net.prepare_data(data.x_train).double()
        losses = [train_epoch(net, stack, x, data.y_train, epoch_order([keys[i] for i in indices], e, n, CPU), batch)
                  for e in (1, 2)]
        return stack, torch.stack(losses), *evaluate(net, stack, data.x_test.double(), data.y_test)

    def magnitudes(i: int) -> dict[str, torch.Tensor]:
        """Per parameter element of model i, the sum of |terms| of its first-step gradient."""
        theta = {k: (v * masks[i][k] if k in masks[i] else v).unsqueeze(0) for k, v in thetas[i].items()}
        index = epoch_order([keys[i]], 1, n, CPU)[0, :batch]
        x = data.x_train.double().index_select(0, index)
        grad = torch.softmax(abs_forward_reference(model, theta, x), -1) - F.one_hot(data.y_train[index], 10)
        return abs_gradients(model, theta, 0, x, grad / batch)

    train.layers, train.shape, train.batch, train.magnitudes = layers, shape, batch, magnitudes
    return train


@pytest.mark.parametrize("model,dataset", [("fc1", "digits"), ("lenet5", "digits32")])
def test_generic_stack_trains_as_handwritten_and_as_alone(model, dataset):
    """A short stacked training on the generic path gives what the hand-written network gives,
    and each of its models what it gets trained alone (on the generic path).

    The tolerance is derived as in tests/test_train.py::test_stacked_equals_alone, in float64:
    every gradient element is a chain of at most K sums, so any summation order puts it within
    gamma(K) times the sum of its terms' magnitudes of exact arithmetic. The hand-written model,
    trained alone, is trained again with that much error added to every gradient element of every
    step; D, the largest change this makes to a parameter or a loss, is what rounding of that size
    can do. Every other way of training that model (generic, stacked or alone) lies within D of
    exact too, so any two differ by at most 2 D (plus the last rounding of the stored values).
    """
    lenet = model == "lenet5"  # float64 convolutions are slow on CPU: 128 images, 4 steps
    train = _generic_trainer(model, dataset, 128 if lenet else None, 64 if lenet else 256)
    bound = gamma(step_terms(train.layers, train.shape[1:], train.batch, 10), F64)
    last = 4 * unit_roundoff(F64)
    stacked, loss_s, test_s, acc_s = train("generic", [0, 1])
    for i in (0, 1):
        hand, loss_h, test_h, acc_h = train("hand", [i])
        noisy, loss_n, test_n, _ = train("hand", [i], {k: bound * v for k, v in train.magnitudes(i).items()})
        alone, loss_a, test_a, acc_a = train("generic", [i])
        for name, p in hand.params.items():
            tol = 2 * (noisy.params[name][0] - p[0]).abs().max() + last * p[0].abs().max()
            for what, got in (("stacked", stacked.params[name][i]), ("alone", alone.params[name][0])):
                diff = (got - p[0]).abs().max()
                assert diff <= tol, f"generic {what} model {i} {name}: {diff:.3g} > {tol:.3g}"
            diff = (stacked.params[name][i] - alone.params[name][0]).abs().max()
            assert diff <= tol, f"generic stacked vs alone, model {i} {name}: {diff:.3g} > {tol:.3g}"
        for got, alone_value, want, moved in ((loss_s[:, i], loss_a[:, 0], loss_h[:, 0], loss_n[:, 0]),
                                              (test_s[i], test_a[0], test_h[0], test_n[0])):
            tol = 2 * (moved - want).abs().max() + last * want.abs().max()
            assert (got - want).abs().max() <= tol and (alone_value - want).abs().max() <= tol
            assert (got - alone_value).abs().max() <= tol
        assert acc_s[i] == acc_h[0] == acc_a[0]  # counts of correct answers: exact unless a margin < tol


def _bn_net(classes: int = 10) -> nn.Module:
    """A small network of every kind of layer the generic path supports, BatchNorm in 2d and 1d
    (for 1x8x8 digits)."""
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, 4, 3, padding=1, bias=False)), ("bn1", nn.BatchNorm2d(4)), ("relu1", nn.ReLU()),
        ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(4, 8, 3, padding=1)), ("bn2", nn.BatchNorm2d(8)), ("relu2", nn.ReLU()),
        ("pool2", nn.AvgPool2d(2)), ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(32, 16)), ("bn3", nn.BatchNorm1d(16)), ("relu3", nn.ReLU()),
        ("fc2", nn.Linear(16, classes))]))


@pytest.mark.parametrize("shared_order", [False, True], ids=["own-order", "shared-order"])
def test_generic_batchnorm_stack_members_do_not_depend_on_each_other(shared_order):
    """Exact, in float32 with the engine's own kernels: on the generic path with BatchNorm, a
    model's weights, BatchNorm scales and shifts, running statistics, Adam moments, losses and
    accuracy are bit for bit the same whichever models share its stack (same shapes, hence the
    same kernels and summation orders; only another model's values change)."""
    data = load_dataset("digits")
    net = GenericNet(_bn_net(), tuple(data.x_train.shape[1:]))
    assert [spec.name for spec in net.layers] == ["conv1", "conv2", "fc1", "fc2"]
    assert {"bn1.weight", "bn1.bias", "bn3.weight"} <= set(net.param_shapes()) - {
        k for spec in net.layers for k in (spec.param, spec.bias)}
    assert set(net.initial_buffers()) >= {"bn1.running_mean", "bn2.running_var", "bn3.num_batches_tracked"}
    thetas = [initial_weights("xavier_uniform", net.layers, generator(0, "bn", t)) for t in range(4)]
    ones = {spec.param: torch.ones(spec.shape) for spec in net.layers}
    masks = [ones, prune_masks(net.layers, thetas[1], ones, 0.5), ones, ones]
    keys = [(0, "bn-order", 0 if shared_order else t) for t in range(4)]

    def train(indices):
        stack = build_stack(net, [thetas[i] for i in indices], [masks[i] for i in indices], 1e-2, 1e-4, CPU)
        losses = [train_epoch(net, stack, data.x_train, data.y_train,
                              epoch_order([keys[i] for i in indices], e, data.x_train.shape[0], CPU), 128)
                  for e in (1, 2)]
        return stack, torch.stack(losses), *evaluate(net, stack, data.x_test, data.y_test)

    first, loss, test_loss, acc = train([0, 1, 2])
    other, loss2, test_loss2, acc2 = train([3, 1, 2])
    assert not torch.equal(first.params["bn1.weight"][0], other.params["bn1.weight"][0])
    assert not torch.equal(first.buffers["bn2.running_mean"][0], other.buffers["bn2.running_mean"][0])
    assert int(first.buffers["bn1.num_batches_tracked"][1]) == 2 * -(-data.x_train.shape[0] // 128)
    assert torch.all(first.params["conv1.bias"] == 0)  # conv1 has no bias: its entry is never used
    for i in (1, 2):
        for name, p in first.params.items():
            q = other.params[name]
            assert torch.equal(p[i], q[i]), name
            for moment in ("exp_avg", "exp_avg_sq"):
                if p.grad is not None:
                    assert torch.equal(first.optimizer.state[p][moment][i], other.optimizer.state[q][moment][i])
        for name, b in first.buffers.items():
            assert torch.equal(b[i], other.buffers[name][i]), name
        assert torch.equal(loss[:, i], loss2[:, i])
        assert torch.equal(test_loss[i], test_loss2[i]) and torch.equal(acc[i], acc2[i])
    pruned = masks[1]["conv2.weight"] == 0
    assert torch.all(first.params["conv2.weight"][1][pruned] == 0)


def _rounding_bound(module: nn.Module, x: torch.Tensor, training: bool) -> dict[str, torch.Tensor]:
    """First-order bounds on the rounding error of `module`'s outputs in float64, whatever order
    its sums are computed in: {"logits": per logit, "<bn>.running_mean"/"_var": per statistic
    after a training step}.

    Every layer's output is perturbed by its own rounding error, at most `a` per element, and
    the output moves by the Jacobian times it, so |error| <= sum over layers of |J| a (to first
    order in u, as in tests/_numerics.py). Per element, `a` is (float64 evaluation on the exact
    inputs; u = 2^-53, gamma(K) as in _numerics):

    * Linear, Conv2d: gamma(fan_in + 1) (|W| |h| + |b|), a sum of fan_in products and the bias.
    * AvgPool2d(k): gamma(k^2 + 1) avg|h|, a sum of k^2 terms and one scaling.
    * ReLU, MaxPool2d, Flatten: 0 (exact).
    * BatchNorm, training: over the n values of a channel, the mean mu is within gamma(n) mean|x|;
      the variance, by any of the two-pass, updating (Welford) or textbook one-pass formulas,
      within gamma(4n + 8) E[x^2] (Chan, Golub & LeVeque 1983: the updating formula's bound
      n u kappa var is at most 1.5 n u E[x^2]; the one-pass E[x^2] - mu^2 at most (n + 2) u 4 E[x^2]).
      Both move y = (x - mu) w / sigma + b (sigma^2 = var + eps) through its derivatives
      (|w| / sigma, |x - mu| |w| / (2 sigma^3)); y itself takes at most 8 rounded operations
      (var + eps, sqrt, reciprocal, the scale, the shift's product and sum, the output's product
      and sum) on terms no larger than (|x| + |mu|) |w| / sigma and |b|: gamma(8) times their sum.
      The new running statistics (1 - m) r + m s (the variance's s times n / (n - 1)) take at
      most 6 more rounded operations each.
    * BatchNorm, evaluation: gamma(8) ((|x| + |mu|) |w| / sigma + |b|), mu and sigma^2 the
      running statistics (exact inputs).
    """
    ref = copy.deepcopy(module).double().train(training)
    stats_local: dict[str, torch.Tensor] = {}
    norms = {path: mod for path, mod in ref.named_modules() if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d))}
    old = {path: (mod.running_mean.clone(), mod.running_var.clone()) for path, mod in norms.items()}
    if training:  # batch statistics without updating the buffers (the update is computed below)
        for mod in norms.values():
            mod.running_mean = mod.running_var = mod.num_batches_tracked = None

    def local(path: str, mod: nn.Module, h: torch.Tensor, out: torch.Tensor) -> torch.Tensor | None:
        if isinstance(mod, (nn.Linear, nn.Conv2d)):
            b = None if mod.bias is None else mod.bias.abs()
            if isinstance(mod, nn.Linear):
                mag = F.linear(h.abs(), mod.weight.abs(), b)
            else:
                mag = F.conv2d(h.abs(), mod.weight.abs(), b, mod.stride, mod.padding, mod.dilation, mod.groups)
            return gamma(mod.weight[0].numel() + 1, F64) * mag
        if isinstance(mod, nn.AvgPool2d):
            return gamma(mod.kernel_size ** 2 + 1, F64) * F.avg_pool2d(h.abs(), mod.kernel_size)
        if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            dims = [0, *range(2, h.dim())]
            view = [1, -1] + [1] * (h.dim() - 2)
            w, b = mod.weight.view(view), mod.bias.view(view)
            if training:
                n = h.numel() // h.shape[1]
                mu, var = h.mean(dims, keepdim=True), h.var(dims, unbiased=False, keepdim=True)
                a_mean = gamma(n, F64) * h.abs().mean(dims, keepdim=True)
                a_var = gamma(4 * n + 8, F64) * h.square().mean(dims, keepdim=True)
                m = mod.momentum
                rm, rv = (s.view(view) for s in old[path])
                stats_local[f"{path}.running_mean"] = (m * a_mean + gamma(6, F64) * (
                    (1 - m) * rm.abs() + m * mu.abs())).flatten()
                stats_local[f"{path}.running_var"] = (m * n / (n - 1) * a_var + gamma(6, F64) * (
                    (1 - m) * rv.abs() + m * var * n / (n - 1))).flatten()
            else:
                mu, var = (s.view(view) for s in old[path])
                a_mean = a_var = torch.zeros_like(mu)
            sigma = (var + mod.eps).sqrt()
            return (w.abs() / sigma * a_mean + (h - mu).abs() * w.abs() / (2 * sigma**3) * a_var
                    + gamma(8, F64) * ((h.abs() + mu.abs()) * w.abs() / sigma + b.abs()))
        return None  # exact

    captured: dict[str, torch.Tensor] = {}
    perturbed = {}
    for path, mod in ref.named_modules():
        if next(mod.children(), None) is None:
            mod.register_forward_hook(lambda mod, args, out, path=path: (
                captured.__setitem__(path, args[0]), out + perturbed[path] if path in perturbed else out)[1])
    with torch.no_grad():
        ref(x)
        layer_out = {}
        for path, mod in ref.named_modules():
            if path in captured:
                layer_out[path] = mod(captured[path])
        amplitudes = {}
        for path, mod in ref.named_modules():
            if path in captured:
                a = local(path, mod, captured[path], layer_out[path])
                if a is not None:
                    amplitudes[path] = a.expand_as(layer_out[path])

    def outputs(deltas: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        perturbed.clear()
        perturbed.update(deltas)
        out = {"logits": ref(x)}
        if training:
            for path, mod in norms.items():
                h = captured[path]
                dims = [0, *range(2, h.dim())]
                n = h.numel() // h.shape[1]
                m, (rm, rv) = mod.momentum, old[path]
                out[f"{path}.running_mean"] = (1 - m) * rm + m * h.mean(dims)
                out[f"{path}.running_var"] = (1 - m) * rv + m * h.var(dims, unbiased=False) * n / (n - 1)
        return out

    zeros = {path: torch.zeros_like(a) for path, a in amplitudes.items()}
    jac = torch.func.jacrev(outputs)(zeros)
    perturbed.clear()
    bounds = {}
    for key, per_layer in jac.items():
        total = stats_local.get(key, 0.0)
        for path, j in per_layer.items():
            a = amplitudes[path]
            total = total + (j.abs() * a).flatten(start_dim=j.dim() - a.dim()).sum(-1)
        bounds[key] = total.detach()
    return bounds


def test_generic_batchnorm_equals_torch_batchnorm_per_model():
    """BatchNorm on the generic path is torch.nn.BatchNorm for every model of the stack: batch
    statistics and running-statistics updates in training (own batches), the running statistics
    in evaluation (one batch shared by the stack).

    Float64, against each model run alone as a plain nn.Module; both are evaluations of the same
    function in their own orders, each within the first-order rounding bound of
    `_rounding_bound`, so they differ by at most twice it.
    """
    data = load_dataset("digits")
    module = _bn_net()
    net = GenericNet(module, (1, 8, 8))
    models = 3
    params = {}
    for k, shape in net.param_shapes().items():  # nonzero biases, BatchNorm scales away from 1
        scale = 0.5 if k.startswith(("conv", "fc")) else 0.3
        params[k] = torch.randn(models, *shape, generator=generator(0, "bn-params", k), dtype=F64) * scale
        if k.startswith("bn") and k.endswith(".weight"):
            params[k] = params[k] + 1
    buffers = {k: torch.stack([v] * models).to(v.dtype if not v.is_floating_point() else F64)
               for k, v in net.initial_buffers().items()}
    index = torch.stack([torch.randperm(1437, generator=generator(0, "bn-i", m))[:16] for m in range(models)])
    x = data.x_train.double()
    logits = net.forward_with(params, buffers, net.stack_input(x, index), training=True)
    shared = x[:12]
    evaluated = net.forward_with(params, buffers, net.shared_input(shared, models), training=False)
    for m in range(models):
        alone = copy.deepcopy(module).double()
        with torch.no_grad():
            for k, p in alone.named_parameters():
                p.copy_(params[k][m])
        alone.conv1.bias = None
        inputs = x[index[m]]
        bounds = _rounding_bound(alone, inputs, training=True)
        out = alone.train()(inputs)
        assert_within(logits[m], out, 2 * bounds["logits"], f"training logits of model {m}")
        for k, b in alone.named_buffers():
            if k.endswith("num_batches_tracked"):
                assert int(buffers[k][m]) == int(b) == 1
            else:
                assert_within(buffers[k][m], b, 2 * bounds[k], f"{k} of model {m}")
        with torch.no_grad():  # evaluation from the generic path's own running statistics
            for k, b in alone.named_buffers():
                b.copy_(buffers[k][m])
        bounds = _rounding_bound(alone, shared, training=False)
        assert_within(evaluated[m], alone.eval()(shared), 2 * bounds["logits"], f"evaluation logits of model {m}")
