"""`dn bench`: how close the stacked engine gets to the machine's FLOP bound, in one run.

For each paper model (FC-1/MNIST, LeNet5/CIFAR-10) it times one model-epoch these ways:

* ``bound``: 6 x multiply-adds per sample x samples / the measured matmul peak (forward 2, backward 4
  FLOPs per multiply-add) -- what a perfect implementation would need;
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
import time
from collections.abc import Callable, Iterator, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from train.data import load_raw
from train.data.dataset import RawData, build, channel_stats
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


def matmul_peak(device: torch.device, sizes: tuple[int, ...] = (1024, 2048), repeats: int = 2,
                min_seconds: float = 0.3) -> float:
    """Best fp32 GFLOP/s of square matmuls of the given sizes (2 n^3 FLOPs each)."""
    best = 0.0
    for n in sizes:
        gen = torch.Generator().manual_seed(n)
        a = torch.randn(n, n, generator=gen).to(device)
        b = torch.randn(n, n, generator=gen).to(device)
        out = torch.empty(n, n, device=device)
        torch.mm(a, b, out=out)  # warm-up
        _sync(device)
        t0 = time.perf_counter()
        torch.mm(a, b, out=out)
        _sync(device)
        one = max(time.perf_counter() - t0, 1e-6)
        calls = max(1, min(50, int(min_seconds / one)))

        def run(calls=calls, a=a, b=b, out=out):
            for _ in range(calls):
                torch.mm(a, b, out=out)

        seconds = _best_time(run, device, repeats)
        best = max(best, 2.0 * n**3 * calls / seconds / 1e9)
    return best


# ------------------------------------------------------------------------------------ FLOP bound

def macs_per_sample(net: StackedNet, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of one forward pass of one model.

    Linear layers: out*in. Conv layers: out_ch*out_h*out_w*in_ch*k*k, for valid (unpadded)
    stride-1 convolutions each followed by a 2x2 max-pool, as in LeNet5.
    """
    _, h, w = input_shape if len(input_shape) == 3 else (1, 1, 1)
    total = 0
    for layer in net.layers:
        if len(layer.shape) == 4:
            out_ch, in_ch, kh, kw = layer.shape
            oh, ow = h - kh + 1, w - kw + 1
            total += out_ch * oh * ow * in_ch * kh * kw
            h, w = oh // 2, ow // 2
        else:
            total += layer.shape[0] * layer.shape[1]
    return total


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
            peak_sizes: tuple[int, ...] = (1024, 2048)) -> dict:
    """Run the benchmark and return its results (seconds per model-epoch); prints nothing."""
    from train.runner import device_name, resolve_device

    dev = resolve_device(device) if isinstance(device, str) else device
    if models < 1 or repeats < 1 or steps < 1 or warmup < 0 or batch_size < 1:
        raise ValueError("bench needs models, repeats, steps, batch_size >= 1 and warmup >= 0")
    raws = {model: load_raw(name, data_dir) for model, name in datasets.items()}  # fail early
    keep_freed_memory()  # as the engine does; every way below runs with it
    peak = matmul_peak(dev, peak_sizes, repeats)
    result: dict = {
        "peak_gflops": peak,
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
        bound = 6.0 * macs * n / (peak * 1e9)
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
            "ratio_to_bound": {way: row[way] / bound for way in WAYS},
            "dataloader_over_stacked": row["dataloader"] / row["stacked"],
            # the most any engine could gain over the DataLoader loop: one running at the bound
            "dataloader_over_bound": row["dataloader"] / bound,
            "single_over_stacked": row["single"] / row["stacked"],
        })
        result[model] = row
        del data, runners
    return result


def format_table(result: dict, models: list[str]) -> str:
    """The readable form of :func:`measure`'s result."""
    lines = [
        f"dn bench on {result['device']} ({result['device_name']}), torch {result['torch']}, "
        f"{result['threads']} threads",
        f"matmul peak: {result['peak_gflops']:.1f} GFLOP/s (fp32)",
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
              peak_sizes: tuple[int, ...] = (1024, 2048)) -> dict:
    """`dn bench`: measure, print JSON (`json_out`) or a table, and return the result."""
    result = measure(device=device, data_dir=data_dir, datasets=datasets, models=models,
                     repeats=repeats, steps=steps, warmup=warmup, batch_size=batch_size,
                     peak_sizes=peak_sizes)
    if json_out:
        print(json.dumps(result, indent=2))
    else:
        print(format_table(result, list(datasets)))
    return result
