"""The generic stacked path in `dn bench`: `GenericNet` wrapping each network's textbook module.

FC-1 and LeNet5 have hand-written stacked layouts; every other network trains through
`GenericNet` (one `torch.vmap` over the stack). Timing the generic path on FC-1 and LeNet5 beside
their hand-written layouts shows what the generic path costs; on Conv-2/4/6 it is the engine.
The targets (:data:`TARGETS`) are reported, never enforced: times move with the machine.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from studies.bench_plain import textbook_module
from studies.bench_timing import Recipe, stacked_runner
from train.models import GenericNet, StackedNet

GENERIC_WAYS = ("generic", "generic_single")
# (numerator way, denominator way, most the ratio should be, what it says)
TARGETS = (
    ("generic", "stacked", 1.3, "generic / hand-written stacked"),
    ("generic", "single", 1.0, "generic / one model at a time (hand-written)"),
    ("generic", "generic_single", 1.0, "generic / one model at a time (generic)"),
)


def generic_net(model: str, input_shape: tuple[int, ...], classes: int) -> GenericNet:
    """The generic stacked path of `model`: GenericNet of its textbook nn.Module."""
    return GenericNet(textbook_module(model, tuple(input_shape), classes), tuple(input_shape), model)


def is_hand_written(net: StackedNet) -> bool:
    """True for a network with its own stacked layout (FC-1, LeNet5), not the generic path."""
    return not isinstance(net, GenericNet)


def generic_runners(model: str, x: torch.Tensor, y: torch.Tensor, classes: int, models: int, batch: int,
                    steps: int, warmup: int, repeats: int, recipe: Recipe = Recipe()) -> dict[str, Callable[[], None]]:
    """Warmed-up runners of the generic path: `models` stacked sharing one data order (as
    `dn train` stacks a trial's conditions), and a stack of one (one model at a time).

    `x` is the dataset as loaded (N, C, H, W), before any hand-written layout's `prepare_data`.
    """
    net = generic_net(model, tuple(x.shape[1:]), classes)
    xg = net.prepare_data(x)
    return {
        "generic": stacked_runner(net, xg, y, models, batch, steps, warmup, repeats, f"{model}-generic",
                                  recipe=recipe),
        "generic_single": stacked_runner(net, xg, y, 1, batch, steps, warmup, repeats, f"{model}-generic-single",
                                         recipe=recipe),
    }


def target_ratios(row: dict) -> list[dict]:
    """Each target whose two ways were timed in `row`: the ratio, the target and whether it was met."""
    out = []
    for num, den, most, label in TARGETS:
        if num in row and den in row:
            ratio = row[num] / row[den]
            out.append({"what": label, "ratio": ratio, "target": most, "met": ratio <= most})
    return out
