"""A Sequential network's leading conv stages, found so the generic path can run them fused.

`GenericNet` runs any module; on a CPU a stack of them is fastest when its first convolutions
run the way the hand-written LeNet5 runs them (`train/models/shared_conv.py`): every model's
first convolution as one wide convolution over the shared batch, the later ones grouped, in
cache-sized pieces. That rewrite is only exact for layers whose order of application is known,
so it applies to an `nn.Sequential` (nested Sequentials included) that starts with stages of

    Conv2d (stride 1, no dilation, one group, zero padding, with a bias) -> ReLU [-> MaxPool2d(2)]

(a pool and its ReLU in either order: max and ReLU commute), when those stages hold every Conv2d
of the Sequential and every one after the first is thin (fewer than THIN input channels). M
models' later stages run as one grouped convolution, which oneDNN computes faster than M thin
convolutions (LeNet5's 6 -> 16 channels) but slower than M wide ones (Conv-2's 64 -> 64: 1.4-1.6x
per step, even in smaller pieces or looped over the models inside them); and fusing only a
network's first stage, its output handed to model-by-model convolutions, doubled Conv-2's step.
The rest of the Sequential (no convolutions) runs as its own module under vmap. A module with a
`forward` of its own has no known order and is left whole.

(Splitting a Conv-2 after its convolutions without fusing them, to run its fully connected
layers under vmap, made its step 1.5x slower: at batch 60, M batched matmuls of 60 x 16384 x 256
run slower than M plain ones.)
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn

THIN = 16  # a later stage joins while its convolution has fewer input channels than this


@dataclass(frozen=True)
class ConvStages:
    """The stages found: `convs` their Conv2d module paths, `plan` a (padding, pool) pair each
    (as `shared_conv_stack` takes it), `output_shape` the (C, H, W) after the last stage, and the
    rest of the Sequential as a module of its own whose parameter and buffer names map from the
    whole module's by `rename` ("4.weight" of `rest` is "body.fc1.weight" of the module)."""

    convs: tuple[str, ...]
    plan: tuple[tuple[int, bool], ...]
    output_shape: tuple[int, ...]
    rest: nn.Sequential
    rename: dict[str, str]

    def pick(self, named: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The entries of `named` (by the whole module's names) that are the rest's, renamed."""
        return {self.rename[k]: v for k, v in named.items() if k in self.rename}


def _leaves(module: nn.Module, path: str) -> list[tuple[str, nn.Module]] | None:
    """The modules a Sequential applies, in order, with their paths; None past a module whose
    `forward` is its own (anything with children that is not a plain Sequential, including a
    subclass of Sequential that overrides `forward`)."""
    if isinstance(module, nn.Sequential) and type(module).forward is nn.Sequential.forward:
        if len(list(module.named_children())) != len(module):  # a module it applies twice
            return None
        out: list[tuple[str, nn.Module]] = []
        for name, child in module.named_children():
            inner = _leaves(child, f"{path}.{name}" if path else name)
            if inner is None:
                return None
            out += inner
        return out
    return None if any(True for _ in module.children()) else [(path, module)]


def _fusable_conv(mod: nn.Module) -> bool:
    return (type(mod) is nn.Conv2d and mod.bias is not None and mod.groups == 1
            and mod.stride == (1, 1) and mod.dilation == (1, 1) and mod.padding_mode == "zeros"
            and isinstance(mod.padding, tuple) and mod.padding[0] == mod.padding[1])


def _pool2(mod: nn.Module) -> bool:
    if type(mod) is not nn.MaxPool2d or mod.return_indices or mod.ceil_mode:
        return False
    pairs = [mod.kernel_size, mod.stride, mod.padding, mod.dilation]
    pairs = [p if isinstance(p, tuple) else (p, p) for p in pairs]
    return pairs == [(2, 2), (2, 2), (0, 0), (1, 1)]


def _stage_length(leaves: list[tuple[str, nn.Module]], i: int) -> tuple[int, bool] | None:
    """How many modules the stage starting at leaves[i] spans, and whether it pools."""
    if i >= len(leaves) or not _fusable_conv(leaves[i][1]):
        return None
    kinds = ["relu" if type(m) is nn.ReLU else "pool" if _pool2(m) else "other" for _, m in leaves[i + 1 : i + 3]]
    if kinds[:2] in (["relu", "pool"], ["pool", "relu"]):
        return 3, True
    if kinds[:1] == ["relu"]:
        return 2, False
    return None


def _hooked(module: nn.Module) -> bool:
    """Whether any module in `module` has forward hooks, which the fused stages would skip."""
    return any(m._forward_hooks or m._forward_pre_hooks for m in module.modules())


def conv_stages(module: nn.Module, input_shape: tuple[int, ...]) -> ConvStages | None:
    """The leading conv stages of `module` (module docstring), or None where there are none, or
    where a module is applied twice or has forward hooks (the fused path would skip them)."""
    leaves = _leaves(module, "")
    if not leaves or len({id(mod) for _, mod in leaves}) != len(leaves) or _hooked(module):
        return None
    convs, plan, i = [], [], 0
    while (stage := _stage_length(leaves, i)) is not None:
        length, pool = stage
        path, conv = leaves[i]
        if convs and conv.in_channels >= THIN:
            return None
        convs.append(path)
        plan.append((conv.padding[0], pool))
        i += length
    rest_leaves = leaves[i:]
    if not convs or any(isinstance(mod, nn.Conv2d) for _, mod in rest_leaves):
        return None
    rest = nn.Sequential(OrderedDict((str(j), mod) for j, (_, mod) in enumerate(rest_leaves)))
    rename = {}
    for j, (path, mod) in enumerate(rest_leaves):
        for name, _ in [*mod.named_parameters(recurse=False), *mod.named_buffers(recurse=False)]:
            rename[f"{path}.{name}" if path else name] = f"{j}.{name}"
    try:  # on CPU float32 zeros: a module built on another device or dtype is simply not fused
        with torch.no_grad():  # the stages' output shape (no BatchNorm in them: no state changes)
            h = torch.zeros(1, *input_shape)
            for _, mod in leaves[:i]:
                h = mod(h)
    except RuntimeError:
        return None  # a module that does not fit its inputs: GenericNet says so in one line
    return ConvStages(tuple(convs), tuple(plan), tuple(h.shape[1:]), rest, rename)
