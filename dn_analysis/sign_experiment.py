"""The intervention behind dn_analysis.signs: center every input pixel and FC-1's lean goes away.

    python -m dn_analysis.sign_experiment --data-dir DIR [--train-subset 20000] [--out FILE.json]

Runs Algorithm 1 on FC-1/MNIST twice with the same seeds, θ0 and data order: with the paper's
normalization (one global mean and std, so background pixels sit at -0.42) and with each pixel
centered on its own training mean afterwards. The mechanism in signs.py predicts that the first
layer's survivors stop leaning negative (and stop depending on the pixel's mean) once every
input has mean zero, while the hidden layer, fed by ReLUs, keeps its positive lean.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from dn_analysis.signs import input_mean_trend, layer_lean

VARIANTS = ("global", "pixel-centered", "double-centered")


def prune_fc1(x: torch.Tensor, y: torch.Tensor, trials: int, rounds: int, epochs: int, seed: int):
    """Algorithm 1 (global magnitude pruning, rate 0.2, rewind to θ0) for `trials` FC-1 at once."""
    from train.engine import build_stack, epoch_order, train_epoch
    from train.init import initial_weights
    from train.models import build_model
    from train.pruning import prune_masks
    from train.seeding import generator

    net = build_model("fc1", tuple(x.shape[1:]), 10)
    thetas = [initial_weights("xavier_uniform", net.layers, generator(seed, "signs", t)) for t in range(trials)]
    ones = {layer.param: torch.ones(layer.shape) for layer in net.layers}
    masks = [[ones] for _ in range(trials)]
    for r in range(rounds):
        stack = build_stack(net, thetas, [m[r] for m in masks], 1e-3, 1e-4, torch.device("cpu"))
        for epoch in range(1, epochs + 1):
            keys = [(seed, "signs-order", t, r) for t in range(trials)]
            train_epoch(net, stack, x, y, epoch_order(keys, epoch, x.shape[0], x.device), 1024)
        for t in range(trials):
            weights = {layer.param: stack.params[layer.param][t].detach() for layer in net.layers}
            masks[t].append(prune_masks(net.layers, weights, masks[t][r], 0.2))
    to_np = lambda d: {k: v.numpy() for k, v in d.items()}  # noqa: E731
    return [to_np(t) for t in thetas], [[to_np(m) for m in ms] for ms in masks]


def run(data_dir: str | None, train_subset: int, trials: int, rounds: int, epochs: int, seed: int) -> dict:
    from train.data import load_dataset

    data = load_dataset("mnist", data_dir, train_subset=train_subset, seed=seed)
    x = data.x_train.reshape(data.x_train.shape[0], -1)
    pixel_mean = x.mean(dim=0)
    out: dict = {"settings": {"train_subset": train_subset, "trials": trials, "rounds": rounds,
                              "epochs_per_round": epochs, "seed": seed}, "variants": {}}
    for variant in VARIANTS:
        xv = x if variant == "global" else x - pixel_mean
        if variant == "double-centered":  # every image's pixels also sum to zero: no total-ink signal
            xv = xv - xv.mean(dim=1, keepdim=True)
        tic = time.perf_counter()
        thetas, masks = prune_fc1(xv, data.y_train, trials, rounds, epochs, seed)
        final = [m[rounds] for m in masks]
        names = list(thetas[0])
        names = [n for n in names if n.endswith(".weight")]
        out["variants"][variant] = {
            "seconds": time.perf_counter() - tic,
            "layers": layer_lean(thetas, final, names),
            # binned by the paper-normalized pixel mean in both variants: does the trend vanish?
            "trend": input_mean_trend(thetas, final, "fc1.weight", pixel_mean.numpy()),
        }
    return out


def markdown(result: dict) -> str:
    s = result["settings"]
    lines = [f"FC-1/MNIST ({s['train_subset']} training images), {s['trials']} trials, {s['rounds']} rounds "
             f"x {s['epochs_per_round']} epochs; share of survivors with θ0 > 0 (t-test across trials):", "",
             "| input normalization | fc1 | fc2 | fc3 | fc1 by pixel mean, lowest -> highest quintile |",
             "|---|---|---|---|---|"]
    for variant, v in result["variants"].items():
        cells = [f"{100 * r['positive']:.1f}% (p={r['pvalue']:.2g})" for r in v["layers"]]
        trend = " / ".join(f"{100 * p:.0f}%" for p in v["trend"]["positive"])
        lines.append(f"| {variant} | {' | '.join(cells)} | {trend} (p={v['trend']['pvalue']:.2g}) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None, help="datasets folder (default: $DN_DATA_DIR)")
    parser.add_argument("--train-subset", type=int, default=20000)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per pruning round")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="also write the result as JSON")
    args = parser.parse_args(argv)
    if min(args.trials, args.rounds, args.epochs, args.train_subset) < 1:
        parser.error("trials, rounds, epochs and train-subset must be >= 1")
    try:
        result = run(args.data_dir, args.train_subset, args.trials, args.rounds, args.epochs, args.seed)
    except Exception as err:  # a missing dataset and the like: one line, no traceback
        from train.errors import DnError

        if not isinstance(err, (DnError, ValueError)):
            raise
        print(f"dn sign_experiment: error: {err}", file=sys.stderr)
        return 2
    print(markdown(result))
    if args.out:
        from train.store import write_json

        write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
