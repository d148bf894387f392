"""`dn bench`'s clocks: fair wall times on a shared machine, the matmul peak, the engine's runner.

Every timing synchronizes the device around the timed call (CUDA runs asynchronously; on the CPU
the call is synchronous and the synchronization is a no-op), and ways that are compared take
turns in every round (:func:`round_robin`), so a machine whose load changes slows them alike.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields

import torch

from train.engine import Stack, build_stack, epoch_order, train_epoch
from train.init import initial_weights
from train.models import StackedNet, model_info
from train.seeding import generator

LR, WEIGHT_DECAY = 1e-3, 1e-4
Shape = tuple[int, int, int]  # (m, k, n): an (m x k) @ (k x n) product, 2 m k n FLOPs


@dataclass(frozen=True)
class Recipe:
    """The optimizer settings a timed stack trains with: by default Adam (FC-1's, LeNet5's and
    the Conv networks'); :meth:`of` a registered network's own, so that resnet20 is timed with
    the SGD its runs use."""

    optimizer: str = "adam"
    momentum: float = 0.0
    lr: float = LR
    weight_decay: float = WEIGHT_DECAY

    @classmethod
    def of(cls, model: str) -> Recipe:
        """The settings every preset of `model` starts from (`ModelInfo.config_defaults`)."""
        defaults = model_info(model).config_defaults()
        return cls(**{f.name: defaults[f.name] for f in fields(cls)})

    def build(self, net: StackedNet, thetas: Sequence[dict[str, torch.Tensor]],
              masks: Sequence[dict[str, torch.Tensor]], device: torch.device) -> Stack:
        """The engine's stack of `thetas` under these settings (`train.engine.build_stack`)."""
        return build_stack(net, thetas, masks, self.lr, self.weight_decay, device,
                           optimizer=self.optimizer, momentum=self.momentum)


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so that a clock read after it has really finished."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_time(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Best wall time of `repeats` calls of `fn`, with the device synchronized around each."""
    return round_robin({"fn": fn}, device, repeats)["fn"]


def round_robin(fns: Mapping[str, Callable[[], object]], device: torch.device,
                repeats: int) -> dict[str, float]:
    """Best wall time of each function over `repeats` rounds that call every function in turn.

    Taking turns spreads a shared machine's changing load over all of them alike, so their
    ratios stay fair even when absolute times drift.
    """
    best = dict.fromkeys(fns, math.inf)
    for _ in range(max(1, repeats)):
        for name, fn in fns.items():
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def gemm_runner(shape: Shape, device: torch.device, min_seconds: float) -> tuple[Callable[[], None], float]:
    """A warmed-up function that runs one matmul shape often enough to last `min_seconds`, and
    the FLOPs one call of it does.

    One call of a small shape is over before clocks, caches and thread pools settle, and a
    peak measured that way is too low: the bound below it could then be beaten.
    """
    m, k, n = shape
    gen = torch.Generator().manual_seed(m * 1_000_003 + k * 1_009 + n)
    a = torch.randn(m, k, generator=gen).to(device)
    b = torch.randn(k, n, generator=gen).to(device)
    out = torch.empty(m, n, device=device)
    calls = [1]

    def run() -> None:
        for _ in range(calls[0]):
            torch.mm(a, b, out=out)

    run()  # warm-up
    seconds = best_time(run, device, 1)
    while seconds < min_seconds:  # grow the count until one timing lasts long enough
        calls[0] = max(2 * calls[0], math.ceil(1.2 * calls[0] * min_seconds / max(seconds, 1e-9)))
        seconds = best_time(run, device, 1)
    return run, 2.0 * m * k * n * calls[0]


def matmul_rates(device: torch.device, sizes: tuple[int, ...] = (1024, 2048), repeats: int = 2,
                 min_seconds: float = 0.2, shapes: tuple[Shape, ...] = ()) -> dict[Shape, float]:
    """Best fp32 GFLOP/s of square matmuls of the given sizes and of `shapes`, by shape."""
    rates = {}
    for shape in dict.fromkeys([*((n, n, n) for n in sizes), *shapes]):
        run, flops = gemm_runner(shape, device, min_seconds)
        rates[shape] = flops / best_time(run, device, repeats) / 1e9
    return rates


def matmul_peak(device: torch.device, sizes: tuple[int, ...] = (1024, 2048), repeats: int = 2,
                min_seconds: float = 0.2, shapes: tuple[Shape, ...] = ()) -> float:
    """Best fp32 GFLOP/s over square matmuls of the given sizes and the given shapes."""
    return max(matmul_rates(device, sizes, repeats, min_seconds, shapes).values())


def stacked_runner(net: StackedNet, x: torch.Tensor, y: torch.Tensor, models: int,
                   batch: int, steps: int, warmup: int, repeats: int, tag: str,
                   shared_order: bool = True, recipe: Recipe = Recipe()) -> Callable[[], None]:
    """A warmed-up function that trains `steps` minibatches with `models` stacked.

    `shared_order`: every model reads the same minibatches (a trial's conditions in `dn train`);
    otherwise each model has its own data order (the pruning rounds, one trial per model).
    The steps are :func:`train.engine.train_epoch` itself, over consecutive slices of epoch
    orders made long enough for the warm-up and every timed round.
    """
    device, n = x.device, x.shape[0]
    thetas = [initial_weights("xavier_uniform", net.layers, generator(0, "bench", tag, i))
              for i in range(models)]
    ones = {layer.param: torch.ones(layer.shape) for layer in net.layers}
    stack = recipe.build(net, thetas, [ones] * models, device)
    seeds = [(0, "bench", tag, 0 if shared_order else i) for i in range(models)]
    need = (warmup + steps * max(1, repeats)) * batch
    order = torch.cat([epoch_order(seeds, e, n, device) for e in range(math.ceil(need / n))], dim=1)
    cursor = [0]

    def run(count: int) -> None:
        start = cursor[0]
        cursor[0] += count * batch
        train_epoch(net, stack, x, y, order[:, start : start + count * batch], batch)

    if warmup:
        run(warmup)
    return lambda: run(steps)
