"""The intervention behind dn_analysis.signs: center every input pixel and FC-1's lean goes away.

    python -m studies.sign_experiment --data-dir DIR --out DIR [--train-subset 20000]
    python -m studies.sign_variants DIR --data-dir DIR     # the table

Trains Algorithm 1 on FC-1/MNIST three times with the same seed, so the same θ0 and data order,
as ordinary `dn` runs (OUT/<normalization>) that differ in one setting, the input
normalization: the paper's (one global mean and std, so background pixels sit at -0.42), each
pixel centered on its own training mean afterwards, and each image centered too. The mechanism
in signs.py predicts that the first layer's survivors stop leaning negative (and stop depending
on the pixel's mean) once every input has mean zero, while the hidden layer, fed by ReLUs, keeps
its positive lean.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from results.errors import script_main
from train.config import RunConfig, preset_experiment

VARIANTS = ("dataset", "pixel-centered", "double-centered")


def variant_config(normalization: str, train_subset: int | None, trials: int, rounds: int, epochs: int,
                   experiment: str = "fc1-mnist", preset: str = "paper") -> RunConfig:
    """Algorithm 1 only (no condition runs) with one input normalization."""
    exp = preset_experiment(preset, experiment, train_subset=train_subset, trials=trials, prune_rounds=rounds,
                            ticket_rounds=(rounds,), prune_epochs=epochs, conditions=(),
                            normalization=normalization)
    return RunConfig((exp,), seed=0, preset=preset)


def train_variants(out: Path, data_dir: str | None, train_subset: int | None, trials: int, rounds: int,
                   epochs: int, experiment: str = "fc1-mnist", preset: str = "paper",
                   progress: bool = True) -> list[Path]:
    from train.runner import train_run

    folders = []
    for variant in VARIANTS:
        cfg = variant_config(variant, train_subset, trials, rounds, epochs, experiment, preset)
        folders.append(train_run(cfg, out / variant, data_dir=data_dir, progress=progress))
    return folders


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None, help="datasets folder (default: $DN_DATA_DIR)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the three runs")
    parser.add_argument("--train-subset", type=int, default=20000)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per pruning round")
    args = parser.parse_args(argv)
    code = script_main(lambda: train_variants(args.out, args.data_dir, args.train_subset, args.trials,
                                              args.rounds, args.epochs))
    if code == 0:
        print(f"runs in {args.out}; table: python -m studies.sign_variants {args.out}")
    return code


if __name__ == "__main__":
    sys.exit(main())
