"""How closely an `--protocol authors` run reproduces the authors' published outputs.

    python -m studies.authors_match RUN [--experiment fc1-mnist]

Per condition: our max average test accuracy against theirs (the maximum over epochs of the
5-trial mean; it equals the paper's Figure 1/3 number), our min average train loss as a ratio
to theirs, and the share of epochs at which our trial-mean accuracy lies inside their min-max
band over trials (±0.003). Per ticket round: the KS distance between our pooled θ_LT and theirs
(from the 2001 quantiles in authors_theta_lt.csv; the quantile grid adds at most 1/2000), beside
the KS distance between two halves of our own trials (2 against 3), its noise floor.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from results.labels import experiment_of

HERE = Path(__file__).parent
REFERENCE_CSV = HERE / "authors_reference.csv"  # the authors' published curves (docs/authors/derive_reference.py)
THETA_LT_CSV = HERE / "authors_theta_lt.csv"  # quantiles of their published θ_LT


def _reference(experiment: str) -> dict[str, dict[int, dict[str, float]]]:
    out: dict[str, dict[int, dict[str, float]]] = defaultdict(dict)
    with open(REFERENCE_CSV) as f:
        for r in csv.DictReader(f):
            if r["experiment"] == experiment:
                out[r["condition"]][int(r["epoch"])] = {k: float(v) for k, v in r.items()
                                                         if k not in ("experiment", "condition")}
    return out


def _quantiles(experiment: str, round_: int) -> tuple[np.ndarray, np.ndarray]:
    probs, values = [], []
    with open(THETA_LT_CSV) as f:
        for r in csv.DictReader(f):
            if r["experiment"] == experiment and int(r["round"]) == round_:
                probs.append(float(r["prob"]))
                values.append(float(r["quantile"]))
    return np.array(probs), np.array(values)


def ks_to_quantiles(x: np.ndarray, probs: np.ndarray, quantiles: np.ndarray) -> float:
    """sup |F_x - F| with F the piecewise-linear CDF through (quantiles, probs)."""
    x = np.sort(x)
    n = x.size
    theirs = np.interp(x, quantiles, probs, left=0.0, right=1.0)
    ours_hi, ours_lo = np.arange(1, n + 1) / n, np.arange(n) / n
    return float(max(np.abs(ours_hi - theirs).max(), np.abs(theirs - ours_lo).max()))


def ks_2samp(a: np.ndarray, b: np.ndarray) -> float:
    from scipy import stats

    return float(stats.ks_2samp(a, b).statistic)


def has_reference(experiment: str) -> bool:
    """Whether the authors' published outputs cover `experiment` (fc1-mnist, lenet5-cifar10)."""
    return bool(_reference(experiment))


def match(run_path: str | Path | object, experiment: str = "fc1-mnist") -> dict:
    """The comparison for one experiment of a run (a folder, or a run `open_run` returned)."""
    from train import open_run

    run = open_run(run_path) if isinstance(run_path, (str, Path)) else run_path
    ref = _reference(experiment)
    by: dict[str, dict[int, dict[int, dict]]] = defaultdict(lambda: defaultdict(dict))
    for r in run.metrics():
        if r["experiment"] == experiment:
            by[r["condition"]][int(r["epoch"])][int(r["trial"])] = r
    conditions = []
    for condition, epochs in by.items():
        if condition not in ref:
            continue
        common = sorted(e for e in epochs if e in ref[condition])
        acc = np.array([np.mean([m["test_acc"] for m in epochs[e].values()]) for e in common])
        loss = np.array([np.mean([m["train_loss"] for m in epochs[e].values()]) for e in common])
        theirs_acc = np.array([ref[condition][e]["test_acc_mean"] for e in common])
        theirs_loss = np.array([ref[condition][e]["train_loss_mean"] for e in common])
        lo = np.array([ref[condition][e]["test_acc_min"] for e in common])
        hi = np.array([ref[condition][e]["test_acc_max"] for e in common])
        conditions.append({
            "condition": condition, "epochs": len(common), "first_epoch": common[0], "last_epoch": common[-1],
            "max_avg_acc": float(acc.max()), "authors_max_avg_acc": float(theirs_acc.max()),
            "diff": float(acc.max() - theirs_acc.max()),
            "min_avg_train_loss": float(loss.min()), "authors_min_avg_train_loss": float(theirs_loss.min()),
            "loss_ratio": float(loss.min() / theirs_loss.min()),
            "in_band": float(np.mean((acc >= lo - 0.003) & (acc <= hi + 0.003))),
        })
    exp = run.experiment(experiment)
    rounds = []
    cfg = next(e for e in run.config["experiments"] if experiment_of(e) == experiment)
    for r in cfg["ticket_rounds"]:
        probs, quantiles = _quantiles(experiment, r)
        if not probs.size:
            continue
        pooled = np.concatenate([exp.theta_lt(t, r) for t in exp.trials])
        half = len(exp.trials) * 2 // 5
        a = np.concatenate([exp.theta_lt(t, r) for t in exp.trials[:half]])
        b = np.concatenate([exp.theta_lt(t, r) for t in exp.trials[half:]])
        rounds.append({"round": r, "ks_to_authors": ks_to_quantiles(pooled, probs, quantiles),
                       "ks_own_halves": ks_2samp(a, b), "n_values": int(pooled.size)})
    return {"experiment": experiment, "conditions": conditions, "rounds": rounds}


def markdown(result: dict) -> str:
    span = {(c["first_epoch"], c["last_epoch"]) for c in result["conditions"]}
    over = ", ".join(f"epochs {a}-{b}" for a, b in sorted(span))
    lines = [f"{result['experiment']} under `--protocol authors` against the authors' published outputs "
             f"(both over {over}):", "",
             "| condition | max avg acc | authors | diff | min avg train loss | authors | ratio | epochs in band |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for c in result["conditions"]:
        lines.append(f"| {c['condition']} | {c['max_avg_acc']:.4f} | {c['authors_max_avg_acc']:.4f} | "
                     f"{c['diff']:+.4f} | {c['min_avg_train_loss']:.3e} | {c['authors_min_avg_train_loss']:.3e} | "
                     f"{c['loss_ratio']:.2f} | {100 * c['in_band']:.0f}% |")
    lines += ["", "| ticket round | KS to the authors' pooled θ_LT | KS between halves of our trials |",
              "|---|---:|---:|"]
    for r in result["rounds"]:
        lines.append(f"| {r['round']} | {r['ks_to_authors']:.4f} | {r['ks_own_halves']:.4f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--experiment", default="fc1-mnist")
    args = parser.parse_args(argv)
    from results.errors import script_main

    return script_main(lambda: print(markdown(match(args.run, args.experiment))))


if __name__ == "__main__":
    sys.exit(main())
