"""Measure each protocol setting alone: the text protocol with one authors' setting switched on.

    python -m studies.protocol_effects --data-dir DIR --out ~/dn-runs/effects [--trials 2 --epochs 20]

Each variant is an ordinary, resumable `dn` run under OUT/<setting>; `effects.csv` compares
each with the text baseline: max average test accuracy and min average train loss per
condition, and the KS distance of its pooled θ_LT to the baseline's at every ticket round.
docs/protocols.md reports these numbers with the sizes used.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from results.errors import script_main
from results.labels import Label
from results.store import write_csv
from train.config import PROTOCOLS, RunConfig, preset_experiment

COLUMNS = ["variant", "setting", "value", "trials", "epochs", "condition", "max_avg_acc", "delta_max_avg_acc",
           "min_avg_train_loss", "ratio_min_avg_train_loss", "ks_theta_lt_r6", "ks_theta_lt_r10", "order_holds"]
# (the ks_ columns follow the experiment's ticket rounds)


def variants() -> dict[str, dict[str, object]]:
    """`text`, one variant per authors' setting, and `authors` (all of them)."""
    out: dict[str, dict[str, object]] = {"text": {}}
    for key, value in PROTOCOLS["authors"].items():
        out[key] = {key: value}
    out["authors"] = {"protocol": "authors"}
    return out


def order_holds(summary: dict[str, float], suffix: str) -> bool | None:
    """The paper's order at one sparsity: full > pruned > reinit > remask (by trial means)."""
    names = ["full"] + [Label.named(kind, suffix) for kind in ("pruned", "reinit", "remask")]
    if not all(n in summary for n in names):
        return None
    values = [summary[n] for n in names]
    return all(a > b for a, b in zip(values, values[1:], strict=False))


def run_variants(data_dir: str | None, out: Path, trials: int, epochs: int, seed: int,
                 experiment: str = "fc1-mnist", preset: str = "paper", progress: bool = True,
                 **extra: object) -> list[dict]:
    """Train every variant (resumable) and compare it with the text baseline; `extra` settings apply to all."""
    from train import open_run
    from train.runner import train_run

    results = {}
    for name, changes in variants().items():
        exp = preset_experiment(preset, experiment, trials=trials, epochs=epochs, **extra, **changes)
        cfg = RunConfig((exp,), seed=seed, preset=preset)
        folder = out / name
        print(f"[{name}] {folder}", file=sys.stderr)
        train_run(cfg, folder, data_dir=data_dir, progress=progress)
        results[name] = (exp, open_run(folder))
    base_exp, base = results["text"]
    base_summary = {r["condition"]: r for r in base.summary()}
    base_lt = {r: np.concatenate([base.experiment(experiment).theta_lt(t, r) for t in range(trials)])
               for r in base_exp.ticket_rounds}
    rows = []
    for name, (exp, run) in results.items():
        summary = {r["condition"]: r for r in run.summary()}
        result = run.experiment(experiment)
        ks = {r: float(stats.ks_2samp(np.concatenate([result.theta_lt(t, r) for t in range(trials)]),
                                      base_lt[r]).statistic) for r in exp.ticket_rounds}
        ks_cols = {f"ks_theta_lt_r{r}": v for r, v in ks.items()}
        accs = {c: s["max_avg_acc"] for c, s in summary.items()}
        holds = [order_holds(accs, str(int(exp.density(r) * 100 + 1e-9))) for r in exp.ticket_rounds]
        changes = variants()[name]
        for condition, s in summary.items():
            b = base_summary.get(condition)
            rows.append({
                "variant": name, "setting": ",".join(changes) or "-",
                "value": ",".join(str(v) for v in changes.values()) or "-", "trials": trials, "epochs": epochs,
                "condition": condition, "max_avg_acc": s["max_avg_acc"],
                "delta_max_avg_acc": s["max_avg_acc"] - b["max_avg_acc"] if b else None,
                "min_avg_train_loss": s["min_avg_train_loss"],
                "ratio_min_avg_train_loss": s["min_avg_train_loss"] / b["min_avg_train_loss"] if b else None,
                **ks_cols,
                "order_holds": all(h for h in holds if h is not None),
            })
    columns = COLUMNS[:-3] + sorted({k for r in rows for k in r if k.startswith("ks_")}) + ["order_holds"]
    write_csv(out / "effects.csv", rows, columns)
    write_markdown(out)
    return rows


def _num(v: str, spec: str) -> str:
    return "-" if v in ("", None) else format(float(v), spec)


def write_markdown(out: Path, conditions: tuple[str, ...] = ("full", "pruned-26", "pruned-10")) -> Path:
    """effects.md from effects.csv: one row per variant (docs/protocols.md quotes it)."""
    import csv

    from results.store import atomic_write_bytes

    with open(out / "effects.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    ks = sorted((k for k in rows[0] if k.startswith("ks_")), key=lambda k: int(k.rsplit("r", 1)[1])) if rows else []
    head = (["variant", "trials x epochs"] + [f"Δ max avg acc {c} (points)" for c in conditions]
            + [f"min avg train loss ratio {c}" for c in conditions[:2]] + [f"KS θ_LT r{k.rsplit('r', 1)[1]}" for k in ks]
            + ["paper's order holds"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for variant in dict.fromkeys(r["variant"] for r in rows):
        by = {r["condition"]: r for r in rows if r["variant"] == variant}
        any_row = next(iter(by.values()))
        name = variant if variant in ("text", "authors") else f"`{any_row['setting']}={any_row['value']}`"
        cells = [name, f"{any_row['trials']} x {any_row['epochs']}"]
        cells += [_num(str(100 * float(by[c]["delta_max_avg_acc"])) if c in by and by[c]["delta_max_avg_acc"] else "",
                       "+.2f") for c in conditions]
        cells += [_num(by[c]["ratio_min_avg_train_loss"] if c in by else "", ".3f") for c in conditions[:2]]
        cells += [_num(any_row[k], ".4f") for k in ks] + [any_row["order_holds"]]
        lines.append("| " + " | ".join(cells) + " |")
    path = out / "effects.md"
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--experiment", default="fc1-mnist")
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--table", action="store_true", help="only rewrite effects.md from OUT/effects.csv")
    args = parser.parse_args(argv)
    if args.table:
        print(write_markdown(args.out))
        return 0
    rows: list[dict] = []
    code = script_main(lambda: rows.extend(run_variants(args.data_dir, args.out, args.trials, args.epochs,
                                                        args.seed, args.experiment, args.preset)))
    if code == 0:
        print(f"{len(rows)} rows in {args.out / 'effects.csv'}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())

