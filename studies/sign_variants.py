"""The sign experiment's table (runs made by `python -m studies.sign_experiment`).

    python -m studies.sign_variants DIR [--data-dir DIR]

Reads the three runs, one per input normalization, and reports each layer's share of positive
survivors (t-test across trials) and the first layer's share by the mean of the pixel it reads.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dn_analysis.signs import input_mean_trend, layer_lean


def summarize(out: Path, data_dir: str | None = None) -> dict:
    from dn_data import load_dataset
    from results.errors import DnError
    from train import open_run

    if not Path(out).is_dir():
        raise DnError(f"{out} is not a folder; give the --out of `python -m studies.sign_experiment`")
    result: dict = {"variants": {}}
    pixel_mean = None
    for folder in sorted(p for p in Path(out).iterdir() if (p / "config.json").exists()):
        run = open_run(folder)
        name = run.experiments[0]
        exp, cfg = run.experiment(name), run.config["experiments"][0]
        final = cfg["prune_rounds"]
        thetas = [exp.theta0(t) for t in exp.trials]
        masks = [exp.mask(t, final) for t in exp.trials]
        if pixel_mean is None:  # binned by the dataset-normalized pixel mean in every variant
            data = load_dataset(cfg["dataset"], data_dir, train_subset=cfg["train_subset"], seed=run.config["seed"])
            pixel_mean = data.x_train.reshape(data.x_train.shape[0], -1).mean(dim=0).numpy()
            result["settings"] = {k: cfg[k] for k in ("dataset", "train_subset", "trials", "prune_rounds",
                                                      "prune_epochs")}
        layers = [layer["param"] for layer in exp.layers]
        result["variants"][cfg.get("normalization", "dataset")] = {
            "layers": layer_lean(thetas, masks, layers),
            "trend": input_mean_trend(thetas, masks, layers[0], pixel_mean),
        }
    if not result["variants"]:
        raise DnError(f"{out} holds no results folder (no */config.json); run `python -m studies.sign_experiment "
                      f"--out {out}` first")
    return result


def markdown(result: dict) -> str:
    s = result["settings"]
    lines = [f"FC-1/{s['dataset']} ({s['train_subset']} training images), {s['trials']} trials, "
             f"{s['prune_rounds']} rounds x {s['prune_epochs']} epochs; share of survivors with θ0 > 0 "
             "(t-test across trials):", "",
             "| input normalization | " + " | ".join(r["layer"] for r in next(iter(result["variants"].values()))["layers"])
             + " | first layer by pixel mean, lowest -> highest quintile |",
             "|---|" + "---|" * (len(next(iter(result["variants"].values()))["layers"]) + 1)]
    for variant, v in result["variants"].items():
        cells = [f"{100 * r['positive']:.1f}% (p={r['pvalue']:.2g})" for r in v["layers"]]
        trend = " / ".join(f"{100 * p:.0f}%" for p in v["trend"]["positive"])
        lines.append(f"| {variant} | {' | '.join(cells)} | {trend} (p={v['trend']['pvalue']:.2g}) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    from results.errors import script_main

    return script_main(lambda: print(markdown(summarize(args.out, args.data_dir))))


if __name__ == "__main__":
    sys.exit(main())
