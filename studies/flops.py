"""FLOP counts of a training step, per layer and per phase: the bound `dn bench` measures against.

Convention (one for every network): a multiply-add is 2 FLOPs. A weight layer's forward pass is
one matmul per sample (its im2col form for a convolution), and its backward pass two more of the
same size: the input gradient and the weight gradient. The first layer's input is the data,
which needs no gradient (autograd skips it), so that layer counts 4 FLOPs per multiply-add, every
other layer 6. Element-wise work (ReLU, pooling, the loss, biases) is left out of the bound: it is
memory traffic, not arithmetic the matmul peak describes.

The hand-written networks (FC-1, LeNet5) are counted from their layer shapes by formula; every
network of the generic path (a ``GenericNet``: an nn.Module of any shape) by tracing one image
through its module and reading each Linear and Conv2d layer's input and output shapes, so
padding, strides and pooling need no formula of their own. The tests check one against the other
on LeNet5 and the trace against hand counts of Conv-2/4/6.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from train.models import GenericNet, StackedNet

Shape = tuple[int, int, int]  # (rows, inner, cols): rows x inner x cols multiply-adds per sample
PHASES = ("forward", "input gradient", "weight gradient")


@dataclass(frozen=True)
class TracedLayer:
    """One Linear or Conv2d layer as a traced forward pass of one image saw it."""

    name: str  # module path, as in GenericNet.layers
    module: nn.Module
    input_shape: tuple[int, ...]  # per sample, without the batch dimension
    output_shape: tuple[int, ...]

    @property
    def gemm(self) -> Shape:
        """The layer's forward pass of one sample as one matmul (rows, inner, cols).

        Conv2d (im2col): rows = output pixels, inner = in_channels / groups x kernel area,
        cols = out_channels. Linear: rows = output elements / out_features (1 for a flat
        input), inner = in_features, cols = out_features.
        """
        mod = self.module
        if isinstance(mod, nn.Conv2d):
            pixels = math.prod(self.output_shape[1:])
            return pixels, mod.in_channels // mod.groups * math.prod(mod.kernel_size), mod.out_channels
        rows = math.prod(self.output_shape) // mod.out_features
        return rows, mod.in_features, mod.out_features


def trace_layers(module: nn.Module, input_shape: tuple[int, ...]) -> list[TracedLayer]:
    """Every Linear and Conv2d of `module` with its per-sample input and output shape, in
    `named_modules` order (GenericNet's layer order), from one forward pass of one zero image.

    Runs in eval mode (a BatchNorm1d cannot take batch statistics of one image) and restores the
    module's mode afterwards; a layer called more than once is refused (its count would be ambiguous).
    """
    seen: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
    handles = []
    layers = {path: mod for path, mod in module.named_modules() if isinstance(mod, (nn.Linear, nn.Conv2d))}
    for path, mod in layers.items():
        def hook(_mod, args, out, path=path):
            if path in seen:
                raise ValueError(f"layer {path} runs more than once per forward pass; its FLOPs are ambiguous")
            seen[path] = (tuple(args[0].shape[1:]), tuple(out.shape[1:]))
        handles.append(mod.register_forward_hook(hook))
    was_training = module.training
    try:
        module.eval()
        with torch.no_grad():
            module(torch.zeros(1, *input_shape))
    finally:
        module.train(was_training)
        for handle in handles:
            handle.remove()
    return [TracedLayer(path, mod, *seen[path]) for path, mod in layers.items() if path in seen]


def layer_gemms(net: StackedNet, input_shape: tuple[int, ...]) -> list[Shape]:
    """Each layer's forward pass as one matmul per sample: (rows, inner, cols).

    A GenericNet: traced (:func:`trace_layers`). The hand-written networks by formula: linear
    layers (1, in, out); conv layers as im2col (rows = output pixels, inner = in_ch*k*k,
    cols = out_ch) for valid (unpadded) stride-1 convolutions each followed by a 2x2 max-pool,
    as in LeNet5.
    """
    if isinstance(net, GenericNet):
        traced = {layer.name: layer.gemm for layer in trace_layers(net.module, input_shape)}
        return [traced[spec.name] for spec in net.layers]
    _, h, w = input_shape if len(input_shape) == 3 else (1, 1, 1)
    out = []
    for layer in net.layers:
        if len(layer.shape) == 4:
            out_ch, in_ch, kh, kw = layer.shape
            oh, ow = h - kh + 1, w - kw + 1
            out.append((oh * ow, in_ch * kh * kw, out_ch))
            h, w = oh // 2, ow // 2
        else:
            out.append((1, layer.shape[1], layer.shape[0]))
    return out


def layer_macs(net: StackedNet, input_shape: tuple[int, ...]) -> list[int]:
    """Multiply-adds of one forward pass of one model, per layer (see :func:`layer_gemms`)."""
    return [rows * inner * cols for rows, inner, cols in layer_gemms(net, input_shape)]


def macs_per_sample(net: StackedNet, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of one forward pass of one model."""
    return sum(layer_macs(net, input_shape))


def phase_flops(net: StackedNet, input_shape: tuple[int, ...]) -> list[dict[str, int]]:
    """Per layer, the FLOPs per sample of each phase of a training step (:data:`PHASES`):
    2 per multiply-add for the forward pass, the input gradient (none in the first layer) and
    the weight gradient."""
    return [{"forward": 2 * macs, "input gradient": 0 if i == 0 else 2 * macs, "weight gradient": 2 * macs}
            for i, macs in enumerate(layer_macs(net, input_shape))]


def flops_per_sample(net: StackedNet, input_shape: tuple[int, ...]) -> int:
    """FLOPs of one training step per sample: 6 per multiply-add, 4 in the first layer.

    Forward (2), weight gradient (2) and input gradient (2); the first layer's input is the data,
    which needs no gradient, so a bound that counted 6 there could be beaten by any engine that
    skips it (as autograd does).
    """
    return sum(sum(phases.values()) for phases in phase_flops(net, input_shape))


def gemm_shapes(net: StackedNet, input_shape: tuple[int, ...], batch: int, models: int,
                max_rows: int = 65536, max_flops: float = 2e10) -> list[Shape]:
    """The matmul shapes a training step of `net` is made of, as (m, k, n).

    Per layer: the forward product (batch x in x out), the backward ones for the input
    (batch x out x in) and the weights (out x batch x in), and the forward product of all
    `models` at once (batch x in x models*out, as the stacked engine runs a shared input).
    Convolutions count as their im2col products (rows = batch x output pixels). Rows are capped
    at `max_rows` and so that no product exceeds `max_flops` (a deep convolution's wide product
    would take seconds per call): a matmul's rate is flat in its row count long before that.
    """
    shapes: list[Shape] = []
    for pixels, inner, cols in layer_gemms(net, input_shape):
        rows = max(1, min(batch * pixels, max_rows, int(max_flops // (2 * inner * models * cols))))
        shapes += [(rows, inner, cols), (rows, cols, inner), (cols, rows, inner), (rows, inner, models * cols)]
    return list(dict.fromkeys(shapes))
