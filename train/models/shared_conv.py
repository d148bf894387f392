"""The conv layers of M models that read one shared batch, computed piece by piece in cache.

When a stack's models share their data order (a trial's conditions in `dn train`), their first
convolutions all read the same images. Stacking their filters side by side turns M thin
convolutions (3 -> 6 channels, which oneDNN runs at a fraction of the machine's peak) into one
wide one (3 -> 6M channels); every later conv layer becomes one grouped convolution over the
models' channels (groups=M). Run on the whole batch, these layers' outputs are hundreds of MB
for a stack of 8 and memory traffic costs more than the arithmetic; run on a few dozen images
at a time, from conv1 through the last max-pool and back, each piece stays in cache. On a
2-core CPU that makes LeNet5's conv layers ~2x faster per model than the model-by-model
layout (`dn bench`).

Each stage is conv -> 2x2 max-pool -> ReLU (the ReLU after the pool: max and ReLU commute), or
conv -> ReLU for a stage without a pool; a stage's convolution may zero-pad its input (stride 1).
Only each piece's pooled outputs and the max-pools' argmax indices are kept for the backward
pass; the gradient goes through the same max-pool and convolution kernels as the textbook
layers (ties in a max-pool go where `torch.nn.MaxPool2d` sends them), so values and gradients
match the model-by-model layout up to float rounding (tests/test_models.py, tests/test_conv_stages.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

CHUNK = 64  # images per piece: conv1 of 8 LeNet5s on 64 images is ~10 MB
CL = torch.channels_last


def _conv_backward(grad, inputs, weight, groups: int, padding: int, input_grad: bool):
    return torch.ops.aten.convolution_backward(
        grad, inputs, weight, [weight.shape[0]], [1, 1], [padding, padding], [1, 1], False, [0, 0], groups,
        [input_grad, True, True],
    )


def _pool_backward(grad, conv_shape: torch.Size, index):
    # only its shape, layout and dtype are read
    like = torch.empty(conv_shape, memory_format=CL, dtype=grad.dtype, device=grad.device)
    return torch.ops.aten.max_pool2d_with_indices_backward(
        grad, like, [2, 2], [2, 2], [0, 0], [1, 1], False, index
    )


class SharedConvStack(torch.autograd.Function):
    """(conv -> [2x2 max-pool] -> ReLU) x stages for M models over one batch, piece by piece.

    forward(x, models, chunk, own_inputs, plan, w1, b1, w2, b2, ...), `plan` a (padding, pool)
    pair per stage, with stage weights side by side:
    w1 (M*O1, C, k, k) applied to x (B, C, H, W) as one convolution, or, with `own_inputs`, to
    the models' own images side by side, x (B, M*C, H, W), as one grouped convolution; w_s
    (M*O_s, O_{s-1}, k, k) applied with groups=M. Returns (M, B, O_last * H' * W'): each model's
    features in (C, H, W) order.
    """

    @staticmethod
    def forward(ctx, x, models: int, chunk: int, own_inputs: bool, plan, *weights):
        stages = list(zip(weights[0::2], weights[1::2], plan, strict=True))
        batch, out = x.shape[0], None
        pieces = []  # per piece: [(output, pool index or None, conv shape) per stage]
        for start in range(0, batch, chunk):
            h, kept = x[start : start + chunk], []
            for s, (w, b, (padding, pool)) in enumerate(stages):
                conv = F.conv2d(h, w, b, padding=padding, groups=_groups(s, models, own_inputs))
                h, index = F.max_pool2d_with_indices(conv, 2) if pool else (conv, None)
                h.relu_()
                kept.append((h, index, conv.shape))
            if out is None:  # returned whole, not as a view (a caller may change it in place)
                out = h.new_empty((models, batch, h[0].numel() // models))
            out.view(models, batch, h.shape[1] // models, *h.shape[2:])[:, start : start + chunk] = (
                h.unflatten(1, (models, -1)).transpose(0, 1))
            pieces.append(kept)
        ctx.save_for_backward(x, *weights)
        ctx.models, ctx.chunk, ctx.own_inputs, ctx.plan, ctx.pieces = models, chunk, own_inputs, plan, pieces
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, *weights = ctx.saved_tensors
        models, chunk = ctx.models, ctx.chunk
        grads = [torch.zeros_like(w) for w in weights]
        for piece, start in enumerate(range(0, x.shape[0], chunk)):
            kept = ctx.pieces[piece]
            last = kept[-1][0]
            g = grad_out[:, start : start + chunk].transpose(0, 1).reshape(last.shape)
            g = g.contiguous(memory_format=CL)
            for s in range(len(kept) - 1, -1, -1):
                output, index, conv_shape = kept[s]
                g = torch.ops.aten.threshold_backward(g, output, 0)  # the ReLU's gradient
                if index is not None:
                    g = _pool_backward(g, conv_shape, index)
                inputs = kept[s - 1][0] if s else x[start : start + chunk]
                g, g_w, g_b = _conv_backward(
                    g, inputs, weights[2 * s], _groups(s, models, ctx.own_inputs), ctx.plan[s][0], input_grad=s > 0
                )
                grads[2 * s] += g_w
                grads[2 * s + 1] += g_b
        return None, None, None, None, None, *grads


def _groups(stage: int, models: int, own_inputs: bool) -> int:
    return models if stage or own_inputs else 1


def shared_conv_stack(
    x: torch.Tensor, stages: list[tuple[torch.Tensor, torch.Tensor]], chunk: int | None = None,
    own_inputs: bool = False, plan: tuple[tuple[int, bool], ...] | None = None,
) -> torch.Tensor:
    """(M, B, features) of every model's conv stages over one shared batch `x` (B, C, H, W), or
    with `own_inputs` over each model's own batch side by side, `x` (B, M*C, H, W).

    `stages`: per conv layer, weight (M, O, I, k, k) and bias (M, O) as stacked in the engine.
    `chunk`: images per piece (default CHUNK). `plan`: per stage, the convolution's zero padding
    and whether a 2x2 max-pool follows it (default: LeNet5's, no padding and a pool each).
    """
    models = stages[0][0].shape[0]
    flat = []
    for w, b in stages:
        flat += [w.reshape(-1, *w.shape[2:]), b.reshape(-1)]
    plan = tuple(plan) if plan is not None else ((0, True),) * len(stages)
    return SharedConvStack.apply(x.contiguous(memory_format=CL), models, chunk or CHUNK, own_inputs, plan, *flat)


def side_by_side(data: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Each model's minibatch, its channels beside the other models': `data` (N, C, H, W)
    channels_last and `index` (M, B) give (B, M*C, H, W) channels_last, gathered in one pass."""
    models, batch = index.shape
    rows = data.permute(0, 2, 3, 1).index_select(0, index.T.reshape(-1))  # (B*M, H, W, C), contiguous
    return rows.view(batch, models, *rows.shape[1:]).movedim(1, 3).reshape(
        batch, *rows.shape[1:3], -1).permute(0, 3, 1, 2)
