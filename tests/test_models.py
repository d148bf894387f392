"""The stacked networks compute exactly the textbook networks (nn.Module), in every layout."""

from __future__ import annotations

from unittest.mock import patch

import pytest
import torch
from _numerics import (
    abs_gradients,
    assert_rows_within,
    assert_within,
    forward_error_bound,
    gamma,
    step_terms,
)

from studies.bench import plain_model
from train.init import initial_weights
from train.models import build_model, shared_conv
from train.models.lenet5 import PerModelBatch
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
    layers = [mod for mod in plain.body if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear))]
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
        grads = [mod.weight.grad for mod in plain.body if hasattr(mod, "weight")]
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
        linears = [mod for mod in plain.body if isinstance(mod, torch.nn.Linear)]
        with torch.no_grad():
            for spec, mod in zip(net.layers, linears, strict=True):
                mod.weight.copy_(params[spec.param][m])
                mod.bias.copy_(params[spec.bias][m])
        bound = 2 * forward_error_bound("fc1", params, m, x[m], torch.float32)
        assert_rows_within(logits[m], plain(x[m]), bound, "logits")
