"""`dn bench`: how close the stacked engine gets to the machine's FLOP bound, in one run.

For each paper model (FC-1/MNIST, LeNet5/CIFAR-10) it times one model-epoch these ways:

* ``bound``: the FLOPs of one training step per sample x samples / the measured matmul peak -- what a
  perfect implementation would need: 2 FLOPs per multiply-add forward, 2 for the weight gradient and
  2 for the input gradient, except in the first layer, whose input needs no gradient
  (:func:`flops_per_sample`). The peak is the best of
  square matmuls and of the models' own matmul shapes (each layer's forward and backward
  products, :func:`gemm_shapes`), each timed for at least 0.2 s, so that no way can beat the
  bound; one that still does gets a warning line;
* ``stacked``: the training engine (:func:`train.engine.train_epoch`) with M models in one stack
  that share one data order, as `dn train` stacks a trial's conditions (common random numbers);
* ``stacked_own_order``: the same stack with a data order per model, as in the pruning rounds
  (each trial its own order);
* ``single``: the same engine with a stack of 1 (one model at a time in memory);
* ``dataloader``: the loop most research code uses -- a ``torch.utils.data.Dataset`` that converts
  and normalizes each uint8 image on access (as torchvision's ToTensor+Normalize), a DataLoader at
  the same batch size, a plain ``nn.Module`` and ``torch.optim.Adam``;
* ``dataloader_data_only`` (shown as ``data only``): that DataLoader alone, no model -- the share
  of the DataLoader loop that is data handling rather than training.

To stay short, each way runs a few warm-up minibatch steps, then times a fixed number of steps
(best of `repeats` rounds in which the ways take turns) and scales per sample to a full epoch of
the train split. Absolute times move with machine load; the ratios within one run are what to
compare.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dn_data import load_raw
from dn_data.dataset import RawData, build, channel_stats
from train.engine import build_stack, epoch_order, train_epoch
from train.init import initial_weights
from train.memory import keep_freed_memory
from train.models import StackedNet, build_model
from train.seeding import generator

PAPER_BENCH: dict[str, str] = {"fc1": "mnist", "lenet5": "cifar10"}
WAYS = ("stacked", "stacked_own_order", "single", "dataloader")
LR, WEIGHT_DECAY = 1e-3, 1e-4


# --------------------------------------------------------------------------------- timing helpers

def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _best_time(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Best wall time of `repeats` calls of `fn`, with the device synchronized around each."""
    return _round_robin({"fn": fn}, device, repeats)["fn"]


def _round_robin(fns: Mapping[str, Callable[[], object]], device: torch.device,
                 repeats: int) -> dict[str, float]:
    """Best wall time of each function over `repeats` rounds that call every function in turn.

    Taking turns spreads a shared machine's changing load over all of them alike, so their
    ratios stay fair even when absolute times drift.
    """
    best = dict.fromkeys(fns, math.inf)
    for _ in range(max(1, repeats)):
        for name, fn in fns.items():
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


Shape = tuple[int, int, int]  # (m, k, n): an (m x k) @ (k x n) product, 2 m k n FLOPs


def _gemm_gflops(shape: Shape, device: torch.device, repeats: int, min_seconds: float) -> float:
    """Best fp32 GFLOP/s of one matmul shape; each timing repeats it until it lasts min_seconds.

    One call of a small shape is over before clocks, caches and thread pools settle, and a
    peak measured that way is too low: the bound below it could then be beaten.
    """
    m, k, n = shape
    gen = torch.Generator().manual_seed(m * 1_000_003 + k * 1_009 + n)
    a = torch.randn(m, k, generator=gen).to(device)
    b = torch.randn(k, n, generator=gen).to(device)
    out = torch.empty(m, n, device=device)

    def timed(calls: int) -> float:
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(calls):
            torch.mm(a, b, out=out)
        _sync(device)
        return time.perf_counter() - t0

    timed(1)  # warm-up
    calls, seconds = 1, timed(1)
    while seconds < min_seconds:  # grow the count until one timing lasts long enough
        calls = max(2 * calls, math.ceil(1.2 * calls * min_seconds / max(seconds, 1e-9)))
        seconds = timed(calls)
    for _ in range(max(1, repeats) - 1):
        seconds = min(seconds, timed(calls))
    return 2.0 * m * k * n * calls / seconds / 1e9


def matmul_rates(device: torch.device, sizes: tuple[int, ...] = (1024, 2048), repeats: int = 2,
                 min_seconds: float = 0.2, shapes: tuple[Shape, ...] = ()) -> dict[str, float]:
    """GFLOP/s of square matmuls of the given sizes and of `shapes`, keyed "m x k x n"."""
    todo = list(dict.fromkeys([*((n, n, n) for n in sizes), *shapes]))
    return {" x ".join(map(str, shape)): _gemm_gflops(shape, device, repeats, min_seconds)
            for shape in todo}


def matmul_peak(device: torch.device, sizes: tuple[int, ...] = (1024, 2048), repeats: int = 2,
                min_seconds: float = 0.2, shapes: tuple[Shape, ...] = ()) -> float:
    """Best fp32 GFLOP/s over square matmuls of the given sizes and the given shapes."""
    return max(matmul_rates(device, sizes, repeats, min_seconds, shapes).values())


# ------------------------------------------------------------------------------------ FLOP bound

def macs_per_sample(net: StackedNet, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of one forward pass of one model.

    Linear layers: out*in. Conv layers: out_ch*out_h*out_w*in_ch*k*k, for valid (unpadded)
    stride-1 convolutions each followed by a 2x2 max-pool, as in LeNet5.
    """
    return sum(layer_macs(net, input_shape))


def layer_gemms(net: StackedNet, input_shape: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """Each layer's forward pass as one matmul per sample: (rows, inner, cols).

    Linear layers: (1, in, out). Conv layers as im2col: rows = output pixels, inner = in_ch*k*k,
    cols = out_ch, for valid (unpadded) stride-1 convolutions each followed by a 2x2 max-pool,
    as in LeNet5.
    """
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
    """Multiply-adds of one forward pass of one model, per layer (see macs_per_sample)."""
    return [rows * inner * cols for rows, inner, cols in layer_gemms(net, input_shape)]


def flops_per_sample(net: StackedNet, input_shape: tuple[int, ...]) -> int:
    """FLOPs of one training step per sample: 6 per multiply-add, 4 in the first layer.

    Forward (2), weight gradient (2) and input gradient (2); the first layer's input is the data,
    which needs no gradient, so a bound that counted 6 there could be beaten by any engine that
    skips it (as autograd does).
    """
    macs = layer_macs(net, input_shape)
    return 4 * macs[0] + 6 * sum(macs[1:])


def gemm_shapes(net: StackedNet, input_shape: tuple[int, ...], batch: int, models: int,
                max_rows: int = 65536) -> list[Shape]:
    """The matmul shapes a training step of `net` is made of, as (m, k, n).

    Per layer: the forward product (batch x in x out), the backward ones for the input
    (batch x out x in) and the weights (out x batch x in), and the forward product of all
    `models` at once (batch x in x models*out, as the stacked engine runs a shared input).
    Convolutions count as their im2col products (rows = batch x output pixels, capped at
    `max_rows`, which keeps the shape and its memory small).
    """
    shapes: list[Shape] = []
    for pixels, inner, cols in layer_gemms(net, input_shape):
        rows = min(batch * pixels, max_rows)
        shapes += [(rows, inner, cols), (rows, cols, inner), (cols, rows, inner), (rows, inner, models * cols)]
    return list(dict.fromkeys(shapes))


def beaten_bound(result: dict, models: list[str]) -> list[str]:
    """A warning for every way that ran faster than the FLOP bound (its peak was measured low)."""
    lines = []
    for model in models:
        row = result[model]
        for way in WAYS:
            if row[way] < row["bound"]:
                lines.append(
                    f"warning: {model} {way} ran {row['bound'] / row[way]:.2f}x faster than the FLOP bound, "
                    f"so the matmul peak ({result['peak_gflops']:.1f} GFLOP/s, best of "
                    f"{len(result['matmul_gflops'])} shapes) was measured too low (a busy machine?); "
                    "the ratios to the bound are too small: run dn bench again on an idle machine")
    return lines


# ------------------------------------------------------------------------------ the stacked engine

def _stacked_runner(net: StackedNet, x: torch.Tensor, y: torch.Tensor, models: int,
                    batch: int, steps: int, warmup: int, repeats: int, tag: str,
                    shared_order: bool = True) -> Callable[[], None]:
    """A warmed-up function that trains `steps` minibatches with `models` stacked.

    `shared_order`: every model reads the same minibatches (a trial's conditions in `dn train`);
    otherwise each model has its own data order (the pruning rounds, one trial per model).
    """
    device, n = x.device, x.shape[0]
    thetas = [initial_weights("xavier_uniform", net.layers, generator(0, "bench", tag, i))
              for i in range(models)]
    ones = {layer.param: torch.ones(layer.shape) for layer in net.layers}
    stack = build_stack(net, thetas, [ones] * models, LR, WEIGHT_DECAY, device)
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


# ------------------------------------------------------------------------- the DataLoader baseline

class ImageDataset(torch.utils.data.Dataset):
    """uint8 images converted and normalized one at a time on access (ToTensor + Normalize)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, scale: float,
                 mean: tuple[float, ...], std: tuple[float, ...]):
        self.x, self.y, self.scale = x, y, scale
        self.mean = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = torch.from_numpy(self.x[i]).to(torch.float32).div(self.scale)
        return (image - self.mean) / self.std, int(self.y[i])


class PlainFC1(nn.Module):
    def __init__(self, inputs: int, classes: int, hidden=(300, 100)):
        super().__init__()
        sizes = [inputs, *hidden]
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.body = nn.Sequential(*layers, nn.Linear(sizes[-1], classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class PlainLeNet5(nn.Module):
    def __init__(self, channels: int, height: int, width: int, classes: int):
        super().__init__()
        h, w = ((height - 4) // 2 - 4) // 2, ((width - 4) // 2 - 4) // 2
        self.body = nn.Sequential(
            nn.Conv2d(channels, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(16 * h * w, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def plain_model(model: str, input_shape: tuple[int, ...], classes: int) -> nn.Module:
    if model == "fc1":
        return PlainFC1(math.prod(input_shape), classes)
    if model == "lenet5":
        return PlainLeNet5(*input_shape, classes)
    raise ValueError(f"no plain nn.Module for model {model!r}")


def _dataloader_runner(model: str, raw: RawData, device: torch.device, batch: int, steps: int,
                       warmup: int, train: bool = True) -> Callable[[], None]:
    """A warmed-up function that runs `steps` minibatches of the usual Dataset + DataLoader +
    nn.Module + Adam loop.

    With `train=False` only the DataLoader runs: what the per-image conversion costs by itself.
    """
    torch.manual_seed(0)
    mean, std = channel_stats(raw.x_train, raw.scale)
    data = ImageDataset(raw.x_train, raw.y_train, raw.scale, mean, std)
    loader = torch.utils.data.DataLoader(data, batch_size=batch, shuffle=True, drop_last=True,
                                         generator=torch.Generator().manual_seed(0))
    net = plain_model(model, tuple(raw.x_train.shape[1:]), raw.num_classes).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)

    def batches() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            yield from loader

    stream = batches()

    def run(count: int) -> None:
        for _ in range(count):
            xb, yb = next(stream)
            xb, yb = xb.to(device), yb.to(device)
            if not train:
                continue
            loss = F.cross_entropy(net(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    if warmup:
        run(warmup)
    return lambda: run(steps)


# ------------------------------------------------------------------------------------- the bench

def measure(device: str | torch.device = "cpu", data_dir=None,
            datasets: Mapping[str, str] = PAPER_BENCH, models: int = 8, repeats: int = 3,
            steps: int = 8, warmup: int = 2, batch_size: int = 1024,
            peak_sizes: tuple[int, ...] = (1024, 2048), peak_seconds: float = 0.2) -> dict:
    """Run the benchmark and return its results (seconds per model-epoch); prints nothing.

    The peak is the best of square matmuls (`peak_sizes`) and of every model's own matmul
    shapes (:func:`gemm_shapes`), each timed for at least `peak_seconds`; `warnings` lists the
    ways that still beat the bound.
    """
    from train.runner import device_name, resolve_device

    dev = resolve_device(device) if isinstance(device, str) else device
    if models < 1 or repeats < 1 or steps < 1 or warmup < 0 or batch_size < 1:
        raise ValueError("bench needs models, repeats, steps, batch_size >= 1 and warmup >= 0")
    raws = {model: load_raw(name, data_dir) for model, name in datasets.items()}  # fail early
    keep_freed_memory()  # as the engine does; every way below runs with it
    shapes = [shape for model, raw in raws.items() for shape in gemm_shapes(
        build_model(model, tuple(raw.x_train.shape[1:]), raw.num_classes), tuple(raw.x_train.shape[1:]),
        batch_size, models)]
    rates = matmul_rates(dev, peak_sizes, repeats, peak_seconds, tuple(shapes))
    peak = max(rates.values())
    result: dict = {
        "peak_gflops": peak,
        "peak_shape": max(rates, key=rates.__getitem__),
        "matmul_gflops": rates,
        "device": str(dev),
        "device_name": device_name(dev),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "models": models,
        "batch_size": batch_size,
        "steps": steps,
        "warmup": warmup,
        "repeats": repeats,
        "note": (f"each time is the best of {repeats} runs of {steps} minibatch steps (after "
                 f"{warmup} warm-up steps; the ways take turns in every round), scaled per "
                 f"sample to one full epoch of the train split"),
    }
    for model, name in datasets.items():
        raw = raws[model]
        data = build(name, raw, device=dev)
        net = build_model(model, tuple(data.x_train.shape[1:]), data.num_classes)
        data.x_train = net.prepare_data(data.x_train)
        n = data.x_train.shape[0]
        macs = macs_per_sample(net, tuple(data.x_train.shape[1:]))
        flops = flops_per_sample(net, tuple(data.x_train.shape[1:]))
        bound = float(flops) * n / (peak * 1e9)
        xs, ys, tag = data.x_train, data.y_train, f"{model}-stacked"
        runners = {
            "stacked": _stacked_runner(net, xs, ys, models, batch_size, steps, warmup, repeats, tag),
            "stacked_own_order": _stacked_runner(net, xs, ys, models, batch_size, steps, warmup,
                                                 repeats, tag, shared_order=False),
            "single": _stacked_runner(net, xs, ys, 1, batch_size, steps, warmup, repeats,
                                      f"{model}-single"),
            "dataloader": _dataloader_runner(model, raw, dev, batch_size, steps, warmup),
            "dataloader_data_only": _dataloader_runner(model, raw, dev, batch_size, steps, warmup,
                                                       train=False),
        }
        seconds = _round_robin(runners, dev, repeats)
        samples = {way: steps * batch_size * (models if way.startswith("stacked") else 1)
                   for way in runners}
        row = {"bound": bound, **{way: seconds[way] * n / samples[way] for way in runners}}
        row.update({
            "dataset": name,
            "samples": n,
            "macs_per_sample": macs,
            "flops_per_sample": flops,
            "ratio_to_bound": {way: row[way] / bound for way in WAYS},
            "dataloader_over_stacked": row["dataloader"] / row["stacked"],
            # the most any engine could gain over the DataLoader loop: one running at the bound
            "dataloader_over_bound": row["dataloader"] / bound,
            "single_over_stacked": row["single"] / row["stacked"],
        })
        result[model] = row
        del data, runners
    result["warnings"] = beaten_bound(result, list(datasets))
    return result


def format_table(result: dict, models: list[str]) -> str:
    """The readable form of :func:`measure`'s result."""
    lines = [
        f"dn bench on {result['device']} ({result['device_name']}), torch {result['torch']}, "
        f"{result['threads']} threads",
        f"matmul peak: {result['peak_gflops']:.1f} GFLOP/s (fp32, best of {len(result['matmul_gflops'])} "
        f"shapes: {result['peak_shape']})",
        f"seconds per model-epoch; stacked = {result['models']} models in one stack sharing "
        f"a data order (own order: one order per model), batch {result['batch_size']}",
        f"({result['note']})",
        "",
        f"{'model':<8} {'dataset':<9} {'way':<11} {'s/epoch':>9} {'x bound':>8} {'vs stacked':>11}",
    ]
    for model in models:
        row = result[model]
        for way, label in (("bound", "bound"), ("stacked", "stacked"),
                           ("stacked_own_order", "own order"), ("single", "single"),
                           ("dataloader", "dataloader"), ("dataloader_data_only", "data only")):
            ratio = row[way] / row["bound"]
            vs = row[way] / row["stacked"]
            lines.append(f"{model:<8} {row['dataset']:<9} {label:<11} {row[way]:>9.3f} "
                         f"{ratio:>8.2f} {vs:>10.2f}x")
    return "\n".join(lines)


def run_bench(json_out: bool = False, data_dir=None, device: str = "auto", models: int = 8,
              repeats: int = 3, datasets: Mapping[str, str] = PAPER_BENCH, steps: int = 8,
              warmup: int = 2, batch_size: int = 1024,
              peak_sizes: tuple[int, ...] = (1024, 2048), peak_seconds: float = 0.2) -> dict:
    """`dn bench`: measure, print JSON (`json_out`) or a table, and return the result.

    A way that beat the FLOP bound gets a warning line on stderr (the JSON stays parseable).
    """
    result = measure(device=device, data_dir=data_dir, datasets=datasets, models=models,
                     repeats=repeats, steps=steps, warmup=warmup, batch_size=batch_size,
                     peak_sizes=peak_sizes, peak_seconds=peak_seconds)
    if json_out:
        print(json.dumps(result, indent=2))
    else:
        print(format_table(result, list(datasets)))
    for line in result["warnings"]:
        print(f"dn: {line}", file=sys.stderr)
    return result
