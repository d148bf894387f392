"""Float tolerances that follow from an error argument, not from one machine's numbers.

Two float evaluations of the same sums in different orders (other kernels, blockings, thread
counts or batch shapes) differ by rounding only. The standard model of floating-point arithmetic
bounds each: a sum of K products computed in any order is within ``gamma(K) * sum|terms|`` of
the exact value, ``gamma(K) = K u / (1 - K u)``, u the unit roundoff (2^-24 for float32, 2^-53
for float64). The helpers here turn that bound into tolerances for the tests.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def unit_roundoff(dtype: torch.dtype) -> float:
    """u = eps / 2: the largest relative error of one rounded operation."""
    return torch.finfo(dtype).eps / 2


def gamma(terms: int, dtype: torch.dtype) -> float:
    """Higham's gamma_K: relative error bound of a K-term sum of products, in any order."""
    ku = terms * unit_roundoff(dtype)
    assert ku < 0.5, "the bound needs K u < 1"
    return ku / (1 - ku)


def forward_terms(layers) -> int:
    """Length of the chain of sums behind one logit: every layer's fan-in plus its bias."""
    return sum(layer.fan_in + 1 for layer in layers)


def step_terms(layers, input_hw: tuple[int, int], batch: int, classes: int) -> int:
    """Longest chain of sums behind one weight's update in one training step.

    Forward sums (fan-in + bias per layer), the backward sums (fan-out per layer), the
    weight-gradient sums (batch x output positions per layer; LeNet5-style valid convolutions
    each followed by a 2x2 pool), the softmax and the batch mean of the loss, and a few
    operations of Adam's own update.
    """
    h, w = input_hw
    grads = 0
    for layer in layers:
        if len(layer.shape) == 4:
            h, w = h - layer.shape[2] + 1, w - layer.shape[3] + 1
            grads += batch * h * w
            h, w = h // 2, w // 2
        else:
            grads += batch
    adam = 16
    backward = sum(layer.fan_out for layer in layers)
    return forward_terms(layers) + backward + grads + batch + classes + adam


def _lenet5_features(p: dict[str, torch.Tensor], h: torch.Tensor) -> torch.Tensor:
    for name in ("conv1", "conv2"):
        h = F.max_pool2d(F.conv2d(h, p[f"{name}.weight"], p[f"{name}.bias"]), 2)
    return h.flatten(1)


def _linears(p: dict[str, torch.Tensor], h: torch.Tensor) -> torch.Tensor:
    for name in ("fc1", "fc2", "fc3"):
        h = F.linear(h, p[f"{name}.weight"], p[f"{name}.bias"])
    return h


def _lenet5(p: dict[str, torch.Tensor], h: torch.Tensor) -> torch.Tensor:
    return _linears(p, _lenet5_features(p, h))


def _fc1(p: dict[str, torch.Tensor], h: torch.Tensor) -> torch.Tensor:
    return _linears(p, h.flatten(1))


NETS = {"lenet5": _lenet5, "fc1": _fc1}


def _abs(params: dict[str, torch.Tensor], m: int) -> dict[str, torch.Tensor]:
    return {k: v[m].detach().abs().double() for k, v in params.items()}


def forward_error_bound(model: str, params: dict[str, torch.Tensor], m: int, x: torch.Tensor,
                        dtype: torch.dtype, layers: int | None = None) -> torch.Tensor:
    """Per sample, a bound on the l2 norm of the rounding error of model m's output in `dtype`.

    Layer l computes each output as a sum of fan_in + 1 terms, so in any order its rounding
    error is at most gamma(fan_in + 1) * (|W| |h| + |b|) (evaluated here in float64 on the exact
    input h). An error e coming in leaves a linear layer at most ||W||_2 ||e|| long and a valid
    k x k convolution at most k ||W_mat||_2 ||e|| (every input pixel is read k^2 times);
    max-pool and ReLU do not lengthen it. Summing the layers' own errors, each grown by the
    layers after it, bounds the output's error (to first order in u). `layers`: only the first
    few (LeNet5's conv stages: 2).
    """
    p = {k: v[m].detach().double() for k, v in params.items()}
    h = x.detach().double()
    names = ["conv1", "conv2", "fc1", "fc2", "fc3"] if model == "lenet5" else ["fc1", "fc2", "fc3"]
    names = names[:layers] if layers else names
    error = torch.zeros(h.shape[0], dtype=torch.float64)
    for j, name in enumerate(names):
        w, b = p[f"{name}.weight"], p[f"{name}.bias"]
        if w.dim() == 4:
            z = F.conv2d(h, w, b)
            local = F.conv2d(h.abs(), w.abs(), b.abs())
            grow = w.shape[2] * torch.linalg.matrix_norm(w.flatten(1), ord=2)
        else:
            h = h.flatten(1)
            z = F.linear(h, w, b)
            local = F.linear(h.abs(), w.abs(), b.abs())
            grow = torch.linalg.matrix_norm(w, ord=2)
        error = grow * error + gamma(w[0].numel() + 1, dtype) * local.flatten(1).norm(dim=1)
        if w.dim() == 4:
            z = F.max_pool2d(z, 2)
        h = z if j == len(names) - 1 and layers is None else torch.relu(z)
    return error


def abs_forward_reference(model: str, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Model 0 of `params` in float64 (its logits), as textbook layers."""
    return NETS[model]({k: v[0].double() for k, v in params.items()}, x.double())


def abs_gradients(model: str, params: dict[str, torch.Tensor], m: int, x: torch.Tensor,
                  grad_logits: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per weight of model `m`, the sum of the magnitudes of every term of its gradient.

    The backward pass of the network on |x|, |W|, |b| with |dL/dlogits| coming in: each product
    of the real backward pass appears in it with its magnitude (float64).
    """
    leaves = {k: v.requires_grad_(True) for k, v in _abs(params, m).items()}
    out = NETS[model](leaves, x.detach().abs().double())
    (out * grad_logits.detach().abs().double()).sum().backward()
    return {k: v.grad for k, v in leaves.items()}


def assert_within(got: torch.Tensor, want: torch.Tensor, bound: torch.Tensor, what: str) -> None:
    """|got - want| <= bound elementwise, with the worst offender in the message."""
    diff = (got.detach().double() - want.detach().double()).abs()
    excess = (diff - bound).flatten()
    worst = int(excess.argmax())
    assert float(excess[worst]) <= 0, (
        f"{what}: |diff| {float(diff.flatten()[worst]):.3g} > bound {float(bound.flatten()[worst]):.3g}")


def assert_rows_within(got: torch.Tensor, want: torch.Tensor, bound: torch.Tensor, what: str) -> None:
    """Per row (sample), ||got - want||_2 <= bound, with the worst row in the message."""
    diff = (got.detach().double() - want.detach().double()).flatten(1).norm(dim=1)
    worst = int((diff - bound).argmax())
    assert float(diff[worst]) <= float(bound[worst]), (
        f"{what}: row {worst} differs by {float(diff[worst]):.3g} > bound {float(bound[worst]):.3g}")
