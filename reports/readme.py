"""The README's results table, generated from the committed runs so that it cannot drift from them.

    python -m reports.readme            # rewrite the table between the markers in README.md
    python -m reports.readme --check    # exit 1 if README.md's table differs (the suite runs this)

Each cell is a paired contrast from paired.csv's rules (results.paired.paired_rows, recomputed from
metrics.csv so older runs get the verdicts too): the mean per-trial difference in max test
accuracy, in points, its 95% t interval, and the verdict (Holm-adjusted within its family; TOST at
the run's declared margin, else the default).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from results import open_run
from results.errors import script_main
from results.paired import paired_rows

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
RUNS = ("docs/runs/fc1-mnist-text", "docs/runs/fc1-mnist-text-10trials", "docs/runs/lenet5-cifar10-text",
        "docs/runs/lenet5-cifar10-text-signs", "docs/runs/lenet300-mnist-rewind0",
        "docs/runs/lenet300-mnist-rewind500it")
QUESTIONS = (  # (what the row answers, condition, reference[, runs left out]); "pruned" is the ticket
    ("the start's signs (θ0, or θ_k when rewinding), |θ_LT| magnitudes vs the ticket", "keep-sign", "pruned",
     ("lenet5-cifar10-text-signs",)),  # the same tickets as lenet5-cifar10-text
    ("the paper's reinit vs the ticket", "reinit", "pruned"),
    ("signs kept: |θ_LT| vs |D_θ| magnitudes", "keep-sign", "sign-dtheta"),
    ("the paper's reinit vs a fresh D_θ draw", "reinit", "rand-init", ("lenet300-mnist-rewind500it",)),
    ("dense D_n at θ0's scale vs dense θ0", "dense-dn-scaled", "full"),
    ("dense D_n (raw) vs dense θ0", "dense-dn", "full"),
)


def _cell(row: dict) -> str:
    return (f"{100 * row['mean_diff']:+.2f} [{100 * row['ci_low']:+.2f}, {100 * row['ci_high']:+.2f}] "
            f"{row['verdict']}")


def table(root: Path = ROOT) -> str:
    """The markdown table: one row per question and run, one column per ticket density."""
    lines = ["| question | run (trials x epochs) | round 6 (26%) | round 10 (11%) |", "|---|---|---|---|"]
    for what, cond, ref, *skip in QUESTIONS:
        for rel in RUNS:
            path = root / rel
            if not path.exists() or path.name in (skip[0] if skip else ()):
                continue
            run = open_run(path)
            cfg = run.config["experiments"][0]
            rows = paired_rows(run.metrics(), margins=run.config.get("equivalence_margins"))
            cells = {}
            for row in rows:
                if (row["metric"] == "max_acc" and row["condition_name"] == cond and row["reference_name"] == ref
                        and row["round"] in (6, 10)):
                    cells[row["round"]] = _cell(row)
            if cells:
                lines.append(f"| {what} | {path.name} ({cfg['trials']} x {cfg['epochs']}) | "
                             f"{cells.get(6, '-')} | {cells.get(10, '-')} |")
    return "\n".join(lines)


def block(root: Path = ROOT) -> str:
    return f"{BEGIN}\n{table(root)}\n{END}"


def current(readme: Path = README) -> str:
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{readme} has no {BEGIN} ... {END} block")
    return text[text.index(BEGIN): text.index(END) + len(END)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports.readme", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if README.md differs")
    args = parser.parse_args(argv)

    def work() -> None:
        fresh, now = block(), current()
        if args.check:
            if fresh != now:
                raise ValueError("README.md's results table differs from the committed runs: run python -m reports.readme")
            return
        README.write_text(README.read_text().replace(now, fresh))

    return script_main(work)


if __name__ == "__main__":
    sys.exit(main())
