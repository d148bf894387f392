"""`dn bench`: how close the stacked engine gets to the machine's FLOP bound, in one run.

For each network it times one model-epoch these ways:

* ``bound``: the FLOPs of one training step per sample x samples / the measured matmul peak -- what a
  perfect implementation would need: 2 FLOPs per multiply-add forward, 2 for the weight gradient and
  2 for the input gradient, except in the first layer, whose input needs no gradient
  (`studies/flops.py`). The peak's shape is the best of square matmuls and of the networks' own
  matmul shapes (each layer's forward and backward products, :func:`gemm_shapes`), each timed for
  at least 0.2 s; that matmul then takes its turn among every network's ways, and the network's
  bound is the best rate it reached there: the bound is measured under the same load as the
  ways (on a shared machine the peak moved 175-329 GFLOP/s between runs). A way that beats the
  bound gets a warning line;
* ``stacked``: the training engine (:func:`train.engine.train_epoch`) with M models in one stack
  that share one data order, as `dn train` stacks a trial's conditions (common random numbers);
* ``stacked_own_order``: the same stack with a data order per model, as in the pruning rounds
  (each trial its own order);
* ``single``: the same engine with a stack of 1 (one model at a time in memory);
* ``generic``, ``generic_single``: the same engine on the generic stacked path -- ``GenericNet``
  wrapping the network's textbook ``nn.Module`` (`studies/bench_generic.py`) -- M models sharing
  one data order, and a stack of one;
* ``dataloader``: the loop most research code uses -- a ``torch.utils.data.Dataset`` that converts
  and normalizes each uint8 image on access (as torchvision's ToTensor+Normalize), a DataLoader at
  the same batch size, a plain ``nn.Module`` and ``torch.optim.Adam``;
* ``dataloader_data_only`` (shown as ``data only``): that DataLoader alone, no model -- the share
  of the DataLoader loop that is data handling rather than training.

FC-1/MNIST and LeNet5/CIFAR-10 (hand-written stacked layouts) get every way; Conv-2/4/6 on
CIFAR-10 (3x32x32), which only the generic path trains, get ``generic`` and ``generic_single``.

To stay short, each way runs a few warm-up minibatch steps, then times `steps` steps at the
network's batch size (best of `repeats` rounds in which the ways take turns) and scales per
sample to a full epoch of the train split; the table states each network's scale factor. Absolute
times move with machine load; the ratios within one run are what to compare. `--profile NET`
splits one network's step into phases and layers instead (`studies/bench_profile.py`).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping

import torch

from dn_data.dataset import build
from studies.bench_data import bench_raw
from studies.bench_generic import GENERIC_WAYS, generic_runners, is_hand_written, target_ratios
from studies.bench_plain import dataloader_runner, plain_model
from studies.bench_timing import Recipe, gemm_runner, matmul_rates, round_robin, stacked_runner
from studies.flops import flops_per_sample, gemm_shapes, macs_per_sample
from train.memory import keep_freed_memory
from train.models import build_model, model_info

__all__ = ["BENCH", "flops_per_sample", "gemm_shapes", "macs_per_sample", "measure", "plain_model", "run_bench"]

PAPER_BENCH: dict[str, str] = {"fc1": "mnist", "lenet5": "cifar10"}
GENERIC_BENCH: dict[str, str] = {"conv2": "cifar10", "conv4": "cifar10", "conv6": "cifar10"}
BENCH: dict[str, str] = {**PAPER_BENCH, **GENERIC_BENCH}
HAND_WAYS = ("stacked", "stacked_own_order", "single", "dataloader", *GENERIC_WAYS)
LABELS = {"bound": "bound", "stacked": "stacked", "stacked_own_order": "own order", "single": "single",
          "generic": "generic", "generic_single": "gen. single", "dataloader": "dataloader",
          "dataloader_data_only": "data only"}


def beaten_bound(result: dict, models: list[str]) -> list[str]:
    """A warning for every way that ran faster than the FLOP bound (its peak was measured low)."""
    lines = []
    for model in models:
        row = result[model]
        for way in row["ratio_to_bound"]:
            if row[way] < row["bound"]:
                lines.append(
                    f"warning: {model} {way} ran {row['bound'] / row[way]:.2f}x faster than the FLOP bound, "
                    f"so the matmul peak ({row['peak_gflops']:.1f} GFLOP/s, {result['peak_shape']}, timed "
                    "beside the ways) was measured too low (a busy machine?); "
                    "the ratios to the bound are too small: run dn bench again on an idle machine")
    return lines


def _check(models: int, repeats: int, steps: int, warmup: int, batch_size: int | None) -> None:
    if models < 1 or repeats < 1 or steps < 1 or warmup < 0 or (batch_size is not None and batch_size < 1):
        raise ValueError("bench needs models, repeats, steps, batch_size >= 1 and warmup >= 0")


def measure(device: str | torch.device = "cpu", data_dir=None,
            datasets: Mapping[str, str] = BENCH, models: int = 8, repeats: int = 3,
            steps: int = 8, warmup: int = 2, batch_size: int | None = None,
            peak_sizes: tuple[int, ...] = (1024, 2048), peak_seconds: float = 0.2,
            synthetic: bool = False) -> dict:
    """Run the benchmark and return its results (seconds per model-epoch); prints nothing.

    `datasets` maps each network to its dataset; `batch_size` None means each network's own
    (its registry recipe: 1024 for FC-1 and LeNet5, 60 for Conv-2/4/6). `synthetic`: random
    images of each dataset's shape and size instead of its files (:mod:`studies.bench_data`).
    The peak is the best of square matmuls (`peak_sizes`) and of every network's own matmul
    shapes (:func:`gemm_shapes`), each timed for at least `peak_seconds`; `warnings` lists the
    ways that still beat the bound.
    """
    from train.runner import device_name, resolve_device

    dev = resolve_device(device) if isinstance(device, str) else device
    _check(models, repeats, steps, warmup, batch_size)
    loaded = {name: bench_raw(name, data_dir, synthetic) for name in dict.fromkeys(datasets.values())}  # fail early
    raws = {model: loaded[name] for model, name in datasets.items()}
    batches = {model: batch_size or model_info(model).batch_size for model in datasets}
    keep_freed_memory()  # as the engine does; every way below runs with it
    shapes = []
    for model, raw in raws.items():
        shape = tuple(raw.x_train.shape[1:])
        shapes += gemm_shapes(build_model(model, shape, raw.num_classes), shape, batches[model], models)
    rates = matmul_rates(dev, peak_sizes, repeats, peak_seconds, tuple(shapes))
    peak_shape = max(rates, key=rates.__getitem__)
    result: dict = {
        "peak_gflops": rates[peak_shape],
        "peak_shape": _shape_label(peak_shape),
        "matmul_gflops": {_shape_label(shape): rate for shape, rate in rates.items()},
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
        "synthetic": synthetic,
        "note": (f"each time is the best of {repeats} runs of {steps} minibatch steps (after "
                 f"{warmup} warm-up steps; the ways take turns in every round), scaled per "
                 f"sample to one full epoch of the train split"),
    }
    for model, name in datasets.items():
        result[model] = _measure_network(model, name, raws[model], dev, peak_shape, peak_seconds, models,
                                         repeats, steps, warmup, batches[model])
    result["warnings"] = beaten_bound(result, list(datasets))
    return result


def _shape_label(shape: tuple[int, int, int]) -> str:
    return " x ".join(map(str, shape))


def _measure_network(model: str, name: str, raw, dev: torch.device, peak_shape: tuple[int, int, int],
                     peak_seconds: float, models: int, repeats: int, steps: int, warmup: int, batch: int) -> dict:
    """One network's row: every way's seconds per model-epoch, its bound and the ratios; the
    peak matmul takes its turn among the ways, and its best rate there sets the bound."""
    data = build(name, raw, device=dev)
    shape = tuple(data.x_train.shape[1:])
    net = build_model(model, shape, data.num_classes)
    n = data.x_train.shape[0]
    macs = macs_per_sample(net, shape)
    flops = flops_per_sample(net, shape)
    hand = is_hand_written(net)
    peak_run, peak_flops = gemm_runner(peak_shape, dev, peak_seconds)
    recipe = Recipe.of(model)  # the optimizer its runs use
    runners = generic_runners(model, data.x_train, data.y_train, data.num_classes, models, batch, steps,
                              warmup, repeats, recipe)
    if hand:
        xs, ys, tag = net.prepare_data(data.x_train), data.y_train, f"{model}-stacked"
        runners = {
            "stacked": stacked_runner(net, xs, ys, models, batch, steps, warmup, repeats, tag, recipe=recipe),
            "stacked_own_order": stacked_runner(net, xs, ys, models, batch, steps, warmup, repeats, tag,
                                                shared_order=False, recipe=recipe),
            "single": stacked_runner(net, xs, ys, 1, batch, steps, warmup, repeats, f"{model}-single",
                                     recipe=recipe),
            **runners,
            "dataloader": dataloader_runner(model, raw, dev, batch, steps, warmup),
            "dataloader_data_only": dataloader_runner(model, raw, dev, batch, steps, warmup, train=False),
        }
    seconds = round_robin({"peak": peak_run, **runners}, dev, repeats)
    peak = peak_flops / seconds.pop("peak") / 1e9
    bound = float(flops) * n / (peak * 1e9)
    ways = HAND_WAYS if hand else GENERIC_WAYS
    reference = "stacked" if hand else "generic"
    stacked = {"stacked", "stacked_own_order", "generic"}
    samples = {way: steps * batch * (models if way in stacked else 1) for way in runners}
    row = {"bound": bound, **{way: seconds[way] * n / samples[way] for way in runners}}
    row.update({
        "dataset": name,
        "peak_gflops": peak,
        "samples": n,
        "batch_size": batch,
        "timed_samples_per_model": steps * batch,
        "epoch_scale": n / (steps * batch),
        "macs_per_sample": macs,
        "flops_per_sample": flops,
        "reference": reference,
        "ratio_to_bound": {way: row[way] / bound for way in ways},
        "targets": target_ratios(row),
    })
    if hand:
        row.update({
            "dataloader_over_stacked": row["dataloader"] / row["stacked"],
            # the most any engine could gain over the DataLoader loop: one running at the bound
            "dataloader_over_bound": row["dataloader"] / bound,
            "single_over_stacked": row["single"] / row["stacked"],
            "generic_over_stacked": row["generic"] / row["stacked"],
        })
    return row


def format_table(result: dict, models: list[str]) -> str:
    """The readable form of :func:`measure`'s result."""
    lines = [
        f"dn bench on {result['device']} ({result['device_name']}), torch {result['torch']}, "
        f"{result['threads']} threads" + (", synthetic data" if result.get("synthetic") else ""),
        f"matmul peak: {result['peak_gflops']:.1f} GFLOP/s (fp32, best of {len(result['matmul_gflops'])} "
        f"shapes: {result['peak_shape']}); timed again beside each network's ways, where it sets the bound: "
        + ", ".join(f"{model} {result[model]['peak_gflops']:.1f}" for model in models),
        f"seconds per model-epoch; stacked = {result['models']} models in one stack sharing "
        f"a data order (own order: one order per model); generic = the same through GenericNet of "
        f"the textbook nn.Module; single = a stack of one",
        f"({result['note']})",
        "",
        f"{'model':<8} {'dataset':<9} {'way':<11} {'s/epoch':>9} {'x bound':>8} {'vs stacked':>11}",
    ]
    for model in models:
        row = result[model]
        for way, label in LABELS.items():
            if way not in row:
                continue
            ratio = row[way] / row["bound"]
            vs = row[way] / row[row["reference"]]
            lines.append(f"{model:<8} {row['dataset']:<9} {label:<11} {row[way]:>9.3f} "
                         f"{ratio:>8.2f} {vs:>10.2f}x")
    lines += ["", "timed per network (per model, each way; stacked ways timed all models at once):"]
    for model in models:
        row = result[model]
        steps = f"{result['steps']} step" + ("s" if result["steps"] != 1 else "")
        lines.append(f"  {model:<8} batch {row['batch_size']}: {steps} = "
                     f"{row['timed_samples_per_model']:,} of {row['samples']:,} samples, "
                     f"scaled x{row['epoch_scale']:.2f} to the epoch")
    lines += ["", "generic path targets (reported, not enforced):"]
    for model in models:
        for t in result[model]["targets"]:
            lines.append(f"  {model:<8} {t['what']:<46} {t['ratio']:>6.2f}x  "
                         f"(target <= {t['target']:g}x: {'met' if t['met'] else 'missed'})")
    return "\n".join(lines)


def run_bench(json_out: bool = False, data_dir=None, device: str = "auto", models: int = 8,
              repeats: int = 3, datasets: Mapping[str, str] = BENCH, steps: int = 8,
              warmup: int = 2, batch_size: int | None = None,
              peak_sizes: tuple[int, ...] = (1024, 2048), peak_seconds: float = 0.2,
              synthetic: bool = False) -> dict:
    """`dn bench`: measure, print JSON (`json_out`) or a table, and return the result.

    A way that beat the FLOP bound gets a warning line on stderr (the JSON stays parseable).
    """
    result = measure(device=device, data_dir=data_dir, datasets=datasets, models=models,
                     repeats=repeats, steps=steps, warmup=warmup, batch_size=batch_size,
                     peak_sizes=peak_sizes, peak_seconds=peak_seconds, synthetic=synthetic)
    if json_out:
        print(json.dumps(result, indent=2))
    else:
        print(format_table(result, list(datasets)))
    for line in result["warnings"]:
        print(f"dn: {line}", file=sys.stderr)
    return result
