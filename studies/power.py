"""How many trials a comparison needs: a power table from the committed runs' trial-to-trial spread.

    python -m studies.power docs/runs/fc1-mnist-text [--gap 0.1] [--metric max_acc] > docs/power.md

For every contrast of paired.csv (recomputed from metrics.csv, so old runs get the contrasts too),
the spread of the per-trial differences (their standard deviation over the run's trials) gives the
trials a paired t test needs to find a gap of `--gap` points at 80% power. The test is planned at
the family's Bonferroni level 0.05/m (the first step of Holm's procedure, which the verdicts use),
so the figure is what the family's smallest p-value must beat. statsmodels' TTestPower solves it.
The spread is itself estimated from few trials: the table gives the count for that estimate, not
a guarantee.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from pathlib import Path

from scipy import stats

from results import open_run
from results.errors import script_main
from results.paired import paired_rows

POWER, ALPHA = 0.8, 0.05


def trials_needed(sd: float, gap: float, alpha: float, power: float = POWER) -> float:
    """Trials (pairs) for a two-sided paired t test at `alpha` to find mean difference `gap` with `power`."""
    if not sd > 0:
        return 2.0
    from statsmodels.stats.power import TTestPower

    return float(TTestPower().solve_power(effect_size=gap / sd, alpha=alpha, power=power, alternative="two-sided"))


def table(run_dir: Path, gap_points: float, metric: str) -> list[dict]:
    run = open_run(run_dir)
    rows = [r for r in paired_rows(run.metrics(), margins=run.config.get("equivalence_margins"))
            if r["metric"] == metric]
    sizes = Counter(r["family"] for r in rows)
    out = []
    for r in rows:
        n = int(r["n_trials"])
        if n < 2 or not math.isfinite(r["ci_high"]):
            continue
        half = r["ci_high"] - r["mean_diff"]
        sd = half * math.sqrt(n) / stats.t.ppf(0.975, n - 1)
        alpha = ALPHA / sizes[r["family"]]
        out.append({"family": r["family"], "contrast": f"{r['condition']} - {r['reference']}", "trials": n,
                    "mean": 100 * r["mean_diff"], "sd": 100 * sd, "verdict": r["verdict"], "m": sizes[r["family"]],
                    "needed": math.ceil(trials_needed(sd, gap_points / 100, alpha))})
    return out


def markdown(run_dir: Path, rows: list[dict], gap: float, metric: str) -> str:
    lines = [f"### {run_dir.name}: trials for a {gap:g}-point gap in {metric} at 80% power",
             "", "Family (m contrasts) | contrast | trials now | mean diff (points) | sd of diffs (points) | "
             "verdict now | trials needed", "---|---|---:|---:|---:|---|---:"]
    lines += [f"{r['family']} ({r['m']}) | {r['contrast']} | {r['trials']} | {r['mean']:+.2f} | {r['sd']:.2f} | "
              f"{r['verdict']} | {r['needed']}" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studies.power", description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="results folders (their metrics.csv)")
    parser.add_argument("--gap", type=float, default=0.1, help="the gap to resolve, in points (default 0.1)")
    parser.add_argument("--metric", default="max_acc", help="max_acc or final_acc (default max_acc)")
    args = parser.parse_args(argv)

    def work() -> None:
        if not args.gap > 0:
            raise ValueError(f"--gap must be > 0 points, got {args.gap}")
        for run_dir in args.runs:
            print(markdown(run_dir, table(run_dir, args.gap, args.metric), args.gap, args.metric))

    return script_main(work)


if __name__ == "__main__":
    sys.exit(main())
