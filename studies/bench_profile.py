"""`dn bench --profile NET`: where one model-epoch's time goes, per phase and per layer, against
each phase's share of the FLOPs.

Phases: data gather, forward, input gradient, weight gradient, gradient masking, optimizer step.

How it is measured, and why not with `torch.profiler`:

* The step's phases are timed inside the engine's own step, a copy of
  :func:`train.engine.train_epoch`'s loop body with the clock read (the device synchronized)
  between its parts: gather (``stack_input``), forward with the loss, backward, gradient
  masking, optimizer step (with ``zero_grad``). The intervals are consecutive, so they add up
  to the instrumented loop's wall time exactly; the same steps through ``train_epoch`` itself
  are timed beside it (the ``engine`` line), so the instrumentation's cost is visible.
* Inside the forward and backward passes, each weight layer is run alone as its stacked kernel
  (:func:`stacked_kernel`: what `torch.vmap`'s batching rules make of the generic path's layer --
  a batched or, for the first layer's shared batch, wide matmul; one grouped or wide
  convolution), on inputs of the shape it sees in the step: its forward, its input gradient
  (``torch.autograd.grad`` for the input only) and its weight gradient (for the weight and bias
  only). Autograd computes only the gradients asked for -- a convolution's backward gets an
  output mask -- so input and weight gradients are two separate computations that can be timed
  honestly one at a time (their sum matches one backward for both). What is left of the step's
  forward and backward after its layers is its own row, ``other``: ReLU, pooling, the loss,
  vmap's and autograd's bookkeeping, and for FC-1 and LeNet5 the difference between their
  hand-written layouts and these kernels -- negative when a layout beats the kernel run alone.

`torch.profiler` cannot split a convolution's backward into input and weight gradient (both are
one ``convolution_backward`` call), and on a CPU its per-operator recording costs microseconds
per op, a large share of the small kernels of FC-1 or LeNet5 at 2 threads; explicit timing of
separately run phases adds one clock read per phase.

FLOPs (`studies/flops.py`'s convention): 2 per multiply-add per phase and layer (no input
gradient in the first layer); gradient masking 1 per weight per step (a multiply); the network's
optimizer (its registry recipe: Adam, or resnet20's SGD) its `OptimizerKind.flops` per parameter
per step; the data gather 0 (it only moves memory).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from dn_data.dataset import build
from results.errors import DnError
from studies.bench_data import DEFAULT_DATASETS, bench_raw
from studies.bench_generic import generic_net, is_hand_written
from studies.bench_plain import textbook_module
from studies.bench_timing import Recipe, round_robin, sync
from studies.flops import TracedLayer, phase_flops, trace_layers
from train.engine import Stack, epoch_order, train_epoch
from train.init import initial_weights
from train.memory import keep_freed_memory
from train.models import StackedNet, build_model, model_info
from train.models.base import stacked_linear
from train.optimizers import optimizer_kind
from train.seeding import generator

STEP_PHASES = ("data gather", "forward", "backward", "gradient masking", "optimizer step")
PHASES = ("data gather", "forward", "input gradient", "weight gradient", "gradient masking", "optimizer step")
MASK_FLOPS_PER_WEIGHT = 1
OTHER = "other"


def _clock(device: torch.device) -> float:
    sync(device)
    return time.perf_counter()


def _timed_steps(net: StackedNet, stack: Stack, x: torch.Tensor, y: torch.Tensor, order: torch.Tensor,
                 batch: int, device: torch.device) -> dict[str, float]:
    """Seconds of each step phase over the minibatches of `order`: train_epoch's body, clocked."""
    spent = dict.fromkeys(STEP_PHASES, 0.0)
    for start in range(0, order.shape[1], batch):
        t0 = _clock(device)
        index = order[:, start : start + batch]
        xb = net.stack_input(x, index)
        t1 = _clock(device)
        logits = net.forward_with(stack.params, stack.buffers, xb, training=True)
        target = y.index_select(0, index.reshape(-1)).view(index.shape).expand(logits.shape[:2])
        losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                 reduction="none").view(target.shape).mean(dim=1)
        t2 = _clock(device)
        stack.optimizer.zero_grad(set_to_none=True)
        t3 = _clock(device)
        losses.sum().backward()
        t4 = _clock(device)
        stack.mask_gradients()
        t5 = _clock(device)
        stack.optimizer.step()
        t6 = _clock(device)
        for phase, seconds in zip(STEP_PHASES, (t1 - t0, t2 - t1, t4 - t3, t5 - t4, (t3 - t2) + (t6 - t5)),
                                  strict=True):
            spent[phase] += seconds
    return spent


def stacked_kernel(mod: nn.Module, shared: bool) -> Callable[[dict[str, torch.Tensor], torch.Tensor], torch.Tensor]:
    """The layer's stacked kernel, (M-stacked parameters, input) -> output, as `torch.vmap`'s
    batching rules run the generic path's layer, without vmap's Python plumbing.

    Linear: one batched matmul per stack (:func:`stacked_linear`), one wide matmul against all
    M weights when the input is shared ((B, in)). Conv2d: the models' channels side by side and
    one grouped convolution (groups = M x the layer's groups); a shared input, one wide
    convolution against all M filters banks.
    """
    if isinstance(mod, nn.Linear):
        def linear(p: dict[str, torch.Tensor], h: torch.Tensor) -> torch.Tensor:
            w = p["weight"]
            b = p["bias"] if "bias" in p else w.new_zeros(w.shape[:2])
            h = h.reshape(1 if shared else w.shape[0], -1, w.shape[2])
            return stacked_linear(h, w, b)
        return linear

    def conv(p: dict[str, torch.Tensor], h: torch.Tensor) -> torch.Tensor:
        w = p["weight"]
        models = w.shape[0]
        b = p["bias"].reshape(-1) if "bias" in p else None
        if shared and mod.groups > 1:  # a grouped layer cannot be widened: give every model the batch
            h, shared_now = h.unsqueeze(0).expand(models, *h.shape), False
        else:
            shared_now = shared
        if shared_now:
            x, groups = h, 1
        else:
            x, groups = h.transpose(0, 1).reshape(h.shape[1], -1, *h.shape[3:]), models * mod.groups
        return F.conv2d(x, w.reshape(-1, *w.shape[2:]), b, mod.stride, mod.padding, mod.dilation, groups)
    return conv


def _layer_runners(layer: TracedLayer, first: bool, models: int, batch: int, steps: int,
                   device: torch.device) -> dict[str, Callable[[], None]]:
    """The layer alone as its stacked kernel (:func:`stacked_kernel`): forward, input and weight
    gradient, each `steps` times (one call per step, as the step phases are timed over `steps`)."""
    mod = layer.module
    shared = first and models > 1
    gen = torch.Generator().manual_seed(0)
    params = {name: (torch.randn((models, *p.shape), generator=gen) * 0.05).to(device).requires_grad_(True)
              for name, p in mod.named_parameters()}
    h_shape = (batch, *layer.input_shape) if shared else (models, batch, *layer.input_shape)
    h = torch.randn(h_shape, generator=gen).to(device).requires_grad_(not first)
    run = stacked_kernel(mod, shared)
    out = run(params, h)
    grad = torch.randn(out.shape, generator=gen).to(device)
    weights = list(params.values())

    def repeat(fn: Callable[[], object]) -> Callable[[], None]:
        def go() -> None:
            for _ in range(steps):
                fn()
        return go

    runners = {"forward": repeat(lambda: run(params, h)),
               "weight gradient": repeat(lambda: torch.autograd.grad(out, weights, grad, retain_graph=True))}
    if not first:  # the data needs no gradient: the engine never computes the first layer's
        runners["input gradient"] = repeat(lambda: torch.autograd.grad(out, h, grad, retain_graph=True))
    return runners


def profile(model: str, device: str | torch.device = "cpu", data_dir=None, dataset: str | None = None,
            models: int = 8, steps: int = 8, warmup: int = 2, repeats: int = 3, batch_size: int | None = None,
            synthetic: bool = False, generic: bool = False) -> dict:
    """Profile one network's training step (see the module docstring); prints nothing.

    `generic`: profile the generic path (GenericNet of the textbook module) even where a
    hand-written layout exists (FC-1, LeNet5). Times are seconds per model-epoch: per step x
    steps per epoch / models, the stack sharing one data order as `dn train` stacks conditions.
    """
    from train.runner import device_name, resolve_device

    dev = resolve_device(device) if isinstance(device, str) else device
    if models < 1 or repeats < 1 or steps < 1 or warmup < 0 or (batch_size is not None and batch_size < 1):
        raise ValueError("bench needs models, repeats, steps, batch_size >= 1 and warmup >= 0")
    if model not in DEFAULT_DATASETS:
        raise DnError(f"unknown network {model!r} to profile; choose from {', '.join(DEFAULT_DATASETS)}")
    name = dataset or DEFAULT_DATASETS[model]
    raw = bench_raw(name, data_dir, synthetic)
    batch = batch_size or model_info(model).batch_size
    keep_freed_memory()
    data = build(name, raw, device=dev)
    shape, classes, n = tuple(data.x_train.shape[1:]), data.num_classes, data.x_train.shape[0]
    net = generic_net(model, shape, classes) if generic else build_model(model, shape, classes)
    template = textbook_module(model, shape, classes) if is_hand_written(net) else net.module
    traced = trace_layers(template, shape)
    if len(traced) != len(net.layers):
        raise ValueError(f"{model}: the textbook module has {len(traced)} weight layers, the network {len(net.layers)}")
    x, y = net.prepare_data(data.x_train), data.y_train
    thetas = [initial_weights("xavier_uniform", net.layers, generator(0, "profile", model, i)) for i in range(models)]
    ones = {spec.param: torch.ones(spec.shape) for spec in net.layers}
    recipe = Recipe.of(model)  # the optimizer its runs use: Adam, or resnet20's SGD
    stack = recipe.build(net, thetas, [ones] * models, dev)
    need = (warmup + 2 * steps * repeats) * batch
    order = torch.cat([epoch_order([(0, "profile", model)], e, n, dev) for e in range(math.ceil(need / n))], dim=1)
    cursor = [0]

    def take(count: int) -> torch.Tensor:
        cursor[0] += count * batch
        return order[:, cursor[0] - count * batch : cursor[0]]

    _timed_steps(net, stack, x, y, take(warmup), batch, dev)
    rounds: list[dict[str, float]] = []
    fns: dict[str, Callable[[], object]] = {
        "phases": lambda: rounds.append(_timed_steps(net, stack, x, y, take(steps), batch, dev)),
        "engine": lambda: train_epoch(net, stack, x, y, take(steps), batch),
    }
    layer_fns = {}
    for i, layer in enumerate(traced):
        for phase, fn in _layer_runners(layer, i == 0, models, batch, steps, dev).items():
            fn()  # warm-up
            layer_fns[(phase, i)] = fn
    seconds = round_robin({**fns, **{f"{p}|{i}": fn for (p, i), fn in layer_fns.items()}}, dev, repeats)
    step = min(rounds, key=lambda r: sum(r.values()))
    per_epoch = n / (batch * models * steps)  # seconds over `steps` stacked steps -> per model-epoch
    names = [spec.name for spec in net.layers]
    result = {
        "model": model, "dataset": name, "path": "hand-written" if is_hand_written(net) else "generic",
        "device": str(dev), "device_name": device_name(dev), "threads": torch.get_num_threads(),
        "torch": torch.__version__, "cpus": os.cpu_count(), "models": models, "batch_size": batch,
        "steps": steps, "warmup": warmup, "repeats": repeats, "samples": n, "synthetic": synthetic,
        "epoch_scale": n / (steps * batch),
        "rows": _rows(step, {k: v * per_epoch for k, v in seconds.items()}, per_epoch, names,
                      phase_flops(net, shape), net, n, batch, optimizer_kind(recipe.optimizer).flops),
        "step_phases": {phase: spent * per_epoch for phase, spent in step.items()},
        "engine": seconds["engine"] * per_epoch,
        "instrumented": seconds["phases"] * per_epoch,
    }
    result["total"] = sum(row["seconds"] for row in result["rows"])
    return result


def _rows(step: dict[str, float], layer_seconds: dict[str, float], per_epoch: float, names: list[str],
          flops: list[dict[str, int]], net: StackedNet, n: int, batch: int, optimizer_flops: int) -> list[dict]:
    """The profile's rows, per model-epoch: (phase, layer, seconds, FLOPs), with time and FLOP shares.

    The step's forward and backward are split into the layers run alone and what is left
    (``other``); every other phase is one row for the whole network. The rows' seconds add up
    to the instrumented step's, their FLOPs to the step's.
    """
    weights = sum(math.prod(spec.shape) for spec in net.layers)
    parameters = sum(math.prod(s) for s in net.param_shapes().values())
    steps_per_epoch = n / batch

    def layers(*phases: str) -> list[tuple[str, str, float, float]]:
        return [(phase, name, layer_seconds[f"{phase}|{i}"], float(flops[i][phase] * n))
                for phase in phases for i, name in enumerate(names) if f"{phase}|{i}" in layer_seconds]

    forward, backward = layers("forward"), layers("input gradient", "weight gradient")
    rows = [("data gather", "all", step["data gather"] * per_epoch, 0.0),
            *forward, ("forward", OTHER, step["forward"] * per_epoch - sum(r[2] for r in forward), 0.0),
            *backward, ("backward", OTHER, step["backward"] * per_epoch - sum(r[2] for r in backward), 0.0),
            ("gradient masking", "all", step["gradient masking"] * per_epoch,
             float(MASK_FLOPS_PER_WEIGHT * weights * steps_per_epoch)),
            ("optimizer step", "all", step["optimizer step"] * per_epoch,
             float(optimizer_flops * parameters * steps_per_epoch))]
    total_s, total_f = sum(r[2] for r in rows), sum(r[3] for r in rows)
    return [{"phase": phase, "layer": layer, "seconds": s, "flops": f, "time_share": s / total_s,
             "flop_share": f / total_f, "gflops": f / s / 1e9 if f and s > 0 else None}
            for phase, layer, s, f in rows]


def format_profile(result: dict) -> str:
    """The readable form of :func:`profile`'s result."""
    lines = [
        f"dn bench --profile {result['model']} ({result['path']} path) on {result['dataset']}"
        + (" (synthetic)" if result["synthetic"] else "") + f", {result['device']} ({result['device_name']}), "
        f"torch {result['torch']}, {result['threads']} threads",
        f"{result['models']} models stacked sharing a data order, batch {result['batch_size']}; "
        f"best of {result['repeats']} rounds of {result['steps']} steps = {result['steps'] * result['batch_size']:,} "
        f"of {result['samples']:,} samples per model, scaled x{result['epoch_scale']:.2f} to the epoch",
        "seconds per model-epoch; each layer timed alone as its stacked kernel, 'other' = the step's "
        "forward or backward minus its layers; time/FLOP = share of the time / share of the FLOPs",
        "",
        f"{'phase':<17} {'layer':<12} {'s/epoch':>9} {'time %':>7} {'FLOP %':>7} {'time/FLOP':>10} {'GFLOP/s':>8}",
    ]
    for row in result["rows"]:
        ratio = f"{row['time_share'] / row['flop_share']:>9.2f}x" if row["flop_share"] else f"{'-':>10}"
        rate = f"{row['gflops']:>8.1f}" if row["gflops"] else f"{'-':>8}"
        lines.append(f"{row['phase']:<17} {row['layer']:<12} {row['seconds']:>9.4f} {row['time_share']:>7.1%} "
                     f"{row['flop_share']:>7.1%} {ratio} {rate}")
    lines += [f"{'total':<30} {result['total']:>9.4f} {1:>7.1%} {1:>7.1%}", "",
              f"the clocked steps took {result['instrumented']:.4f} s/epoch in all; train_epoch itself, on as many "
              f"steps with no clocks inside: {result['engine']:.4f} s/epoch"]
    return "\n".join(lines)


def run_profile(model: str, json_out: bool = False, **options) -> dict:
    """`dn bench --profile NET`: profile, print JSON or the table, return the result."""
    result = profile(model, **options)
    print(json.dumps(result, indent=2) if json_out else format_profile(result))
    return result
