"""The first conv layer of M models that read one shared batch, as one cache-sized computation.

When a stack's models share their data order (a trial's conditions in `dn train`), their first
convolutions all read the same images. Stacking their filters side by side turns M thin
convolutions (3 -> 6 channels, which oneDNN runs at a fraction of the machine's peak) into one
wide one (3 -> 6M channels), and running it on a few dozen images at a time keeps its large
output in cache while it is max-pooled: the full-batch conv output of 8 models is ~200 MB, and
writing it to memory and reading it back cost more than the convolution itself. On a 2-core
CPU this block is ~3x faster per model than the model-by-model layout (`dn bench`).

Only each piece's pooled output and the max-pool's argmax indices are kept for the backward
pass, which runs piece by piece too; the gradient goes through the same max-pool and
convolution kernels as the textbook layer (ties in the max-pool go where `torch.nn.MaxPool2d`
sends them), so values and gradients match the model-by-model layout up to float rounding
(tests/test_models.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

CHUNK = 64  # images per piece: the wide conv output of 8 LeNet5s on 64 images is ~13 MB


class SharedConvPoolReLU(torch.autograd.Function):
    """conv -> 2x2 max-pool -> ReLU of M stacked filter banks over one batch, chunk by chunk.

    forward(x (B, C, H, W) channels_last, weight (M*O, C, k, k), bias (M*O,), models, chunk)
    returns M tensors (B, O, H', W') in channels_last, one per model.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, models: int, chunk: int):
        batch, per_model = x.shape[0], weight.shape[0] // models
        outs, pieces, indices = None, [], []
        for start in range(0, batch, chunk):
            conv = F.conv2d(x[start : start + chunk], weight, bias)
            pooled, index = F.max_pool2d_with_indices(conv, 2)
            pooled.relu_()
            if outs is None:
                shape = (batch, per_model, *pooled.shape[2:])
                outs = [torch.empty(shape, memory_format=torch.channels_last) for _ in range(models)]
                ctx.conv_shape = conv.shape[1:]
            for m, out in enumerate(outs):
                out[start : start + chunk] = pooled[:, m * per_model : (m + 1) * per_model]
            pieces.append(pooled)
            indices.append(index)
        ctx.save_for_backward(x, weight)
        ctx.pieces, ctx.indices, ctx.chunk = pieces, indices, chunk
        return tuple(outs)

    @staticmethod
    def backward(ctx, *grads):
        x, weight = ctx.saved_tensors
        grad_weight = torch.zeros_like(weight)
        grad_bias = torch.zeros(weight.shape[0], dtype=weight.dtype)
        for piece, start in enumerate(range(0, x.shape[0], ctx.chunk)):
            xc, pooled = x[start : start + ctx.chunk], ctx.pieces[piece]
            g = torch.cat([g[start : start + ctx.chunk] for g in grads], dim=1)
            g = torch.ops.aten.threshold_backward(g, pooled, 0)  # the ReLU's gradient
            conv_like = torch.empty((xc.shape[0], *ctx.conv_shape), memory_format=torch.channels_last)
            grad_conv = torch.ops.aten.max_pool2d_with_indices_backward(
                g, conv_like, [2, 2], [2, 2], [0, 0], [1, 1], False, ctx.indices[piece]
            )
            _, gw, gb = torch.ops.aten.convolution_backward(
                grad_conv, xc, weight, [weight.shape[0]], [1, 1], [0, 0], [1, 1], False, [0, 0], 1,
                [False, True, True],
            )
            grad_weight += gw
            grad_bias += gb
        return None, grad_weight, grad_bias, None, None


def shared_conv_pool_relu(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, chunk: int | None = None
) -> list[torch.Tensor]:
    """Each model's relu(max_pool(conv(x))) for weight (M, O, C, k, k), bias (M, O); x shared.

    `chunk`: images per piece (default CHUNK).
    """
    models = weight.shape[0]
    outs = SharedConvPoolReLU.apply(
        x.contiguous(memory_format=torch.channels_last),
        weight.reshape(-1, *weight.shape[2:]),
        bias.reshape(-1),
        models,
        chunk or CHUNK,
    )
    return list(outs)
