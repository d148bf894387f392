"""Optimizers by name, and the learning-rate drops: what `--optimizer` and `--lr-drops` mean.

A new optimizer is one `register(OptimizerKind(...))` here: how it is built over a stack's
tensors and which per-parameter state it keeps; the config's choices, the engine and the
checkpoints follow from the entry.

Why pruned weights stay zero: every entry is elementwise (a model's update never reads the rest
of its stack) and couples weight decay into the gradient (g + wd * w). The engine masks the
gradient, so at a pruned weight (w = 0) g + wd * 0 = 0: Adam's moments and SGD's momentum buffer
stay exactly zero, and so does the weight. Decoupled decay (AdamW) would keep that too, but is
not what the paper or open_lth use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

Builder = Callable[[list[torch.Tensor], float, float, float], torch.optim.Optimizer]


@dataclass(frozen=True)
class OptimizerKind:
    """One optimizer: `build(params, lr, weight_decay, momentum)` and the state it keeps.

    `state` names the per-parameter entries a checkpoint saves, as `<name>/<param>/<entry>`;
    `scalars` those among them saved with shape (1,) (a step count). `momentum` says whether the
    optimizer reads `--momentum` (one that does not refuses a nonzero value); `help` says what it
    is in `--optimizer`'s help; `flops` its floating-point operations per parameter per step, with
    weight decay (and momentum), for `dn bench --profile`.
    """

    name: str
    build: Builder
    state: tuple[str, ...]
    flops: int
    scalars: tuple[str, ...] = ()
    momentum: bool = False
    help: str = ""


OPTIMIZERS: dict[str, OptimizerKind] = {}


def register(kind: OptimizerKind) -> OptimizerKind:
    if kind.name in OPTIMIZERS:
        raise ValueError(f"optimizer {kind.name!r} is registered twice")
    OPTIMIZERS[kind.name] = kind
    return kind


def optimizer_kind(name: str) -> OptimizerKind:
    """The registry entry `name`; ValueError naming the choices."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")
    return OPTIMIZERS[name]


# fused: one pass over each tensor, deterministic on CPU; ~3x faster than foreach for Adam (dn bench),
# ~5-10x for SGD (one step over resnet20-sized stacks).
register(OptimizerKind(
    "adam", lambda params, lr, wd, momentum: torch.optim.Adam(params, lr=lr, weight_decay=wd, fused=True),
    state=("exp_avg", "exp_avg_sq", "step"), scalars=("step",),
    help="betas 0.9, 0.999: the D_n paper's",
    # g + wd * p (2), first moment lerp (3), second moment mul + addcmul (4), sqrt / bias
    # correction + eps (3), p += -step * m / denom (3)
    flops=15))
register(OptimizerKind(
    "sgd", lambda params, lr, wd, momentum: torch.optim.SGD(
        params, lr=lr, momentum=momentum, weight_decay=wd, fused=True),
    state=("momentum_buffer",), momentum=True,
    help="heavy-ball --momentum, no dampening, not Nesterov: open_lth's resnet20",
    flops=6))  # with momentum: g + wd * p (2), buf = momentum * buf + g (2), p -= lr * buf (2)


def choices_help() -> str:
    """Every registered optimizer and what it is, for `--optimizer`'s help."""
    return "; ".join(f"{kind.name} ({kind.help})" for kind in OPTIMIZERS.values())


def parse_drops(text: str) -> tuple[int, ...]:
    """``"80,120"`` -> (80, 120); ValueError unless strictly increasing positive whole epochs."""
    text = str(text).strip()
    if not text:
        return ()
    try:
        drops = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"lr_drops are epochs like 80,120 (whole numbers, comma-separated), got {text!r}") from None
    if drops[0] < 1 or list(drops) != sorted(set(drops)):
        raise ValueError(f"lr_drops must be increasing epochs >= 1, e.g. 80,120; got {text!r}")
    return drops


def format_drops(drops: Sequence[int]) -> str:
    return ",".join(str(d) for d in drops)


def lr_at(lr: float, drops: Sequence[int], epoch: int) -> float:
    """The learning rate of (1-based) `epoch`: `lr` divided by 10 for every drop before it.

    A drop at d divides from the epoch after the d-th on (0-based index d), as open_lth's
    milestone `80ep` does: 160 epochs at drops 80,120 train 80 at lr, 40 at lr/10, 40 at lr/100.
    """
    return lr / 10 ** sum(d < epoch for d in drops)


def scale_drops(drops: Sequence[int], epochs: int, recipe_epochs: int) -> tuple[int, ...]:
    """The drops of a `recipe_epochs` schedule moved to one of `epochs` at the same fractions.

    Rounded to whole epochs, kept increasing (a drop that would land on or before the previous
    one moves one epoch later), so `scale_drops((80, 120), 20, 160) == (10, 15)`.
    """
    out: list[int] = []
    for d in drops:
        out.append(max(round(d * epochs / recipe_epochs), out[-1] + 1 if out else 1))
    return tuple(out)
