"""What each committed run cost, and what it would cost at the FLOP bound.

    python -m studies.paper_time [--peak GFLOPS] [--runs DIR ...] [--markdown]

`dn bench` times one model-epoch against the bound; this table puts the same bound beside the
wall time of whole runs (config.json `wall_time_s`), so a run that ran far above it is seen
as such, and says how long the paper's full protocol would take at the bound. A run's
model-epochs are read from its tables: pruning_metrics.csv has one row per trial, round and
training segment (a segment of an iteration-based length counts as its fraction of an epoch),
metrics.csv one model per distinct (condition, round, trial), each trained `epochs` epochs; a
rewinding run adds each trial's training to θ_k, which no table records. The projection is
model-epochs x training samples per epoch x training FLOPs per sample (studies/flops.py) / peak.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from dn_data.registry import SHAPES
from results import open_run
from results.errors import DnError, script_main
from results.labels import experiment_of
from studies.bench_data import TRAIN_SIZES
from studies.flops import flops_per_sample
from train.config import PAPER_EXPERIMENTS, ExperimentConfig, RunConfig, preset_experiment
from train.starts import condition_plan
from train.steps import Steps

RUNS = Path(__file__).resolve().parent.parent / "docs" / "runs"
PAPER = "paper settings"


@dataclass(frozen=True)
class Cost:
    """One experiment's training: what it trained, what it took, what the bound says it needs."""

    run: str
    experiment: str
    model_epochs: float
    samples: int | None  # training samples per epoch
    flops: int | None  # training FLOPs per sample
    wall_s: float | None

    def bound_s(self, peak_gflops: float) -> float | None:
        """Seconds at the bound: model-epochs x samples x FLOPs per sample / peak."""
        if self.samples is None or self.flops is None:
            return None
        return self.model_epochs * self.samples * self.flops / (peak_gflops * 1e9)


def epoch_fraction(length: Steps, samples: int | None, batch_size: int) -> list[float]:
    """Each training segment of `length` as a fraction of an epoch (train/steps.py's segments);
    a length in iterations needs the epoch's size, `samples`."""
    if length.unit == "ep":
        return [1.0] * length.count
    if samples is None:
        raise DnError(f"a training length of {length} needs the training set's size, which is not known here")
    per_epoch = math.ceil(samples / batch_size)
    return [batches / per_epoch for batches in length.segments(samples, batch_size)]


def train_samples(exp: dict, run_config: dict) -> int | None:
    """Training samples per epoch: `train_subset`, else the dataset's train split (known size, else
    the count config.json recorded for its data), else None."""
    dataset = str(exp["dataset"])
    recorded = run_config.get("data", {}).get(dataset, {}).get("train")
    size = TRAIN_SIZES.get(dataset, recorded)
    subset = exp.get("train_subset")
    if subset is not None:
        return int(subset) if size is None else min(int(subset), int(size))
    return None if size is None else int(size)


def model_flops(model: str, dataset: str) -> int | None:
    """Training FLOPs per sample of a registered network on a known dataset; None otherwise
    (a user model, `package.module:function`, is not built: it would import the user's code)."""
    from train.models import MODELS, build_model

    if model not in MODELS or dataset not in SHAPES:
        return None
    shape, classes = SHAPES[dataset]
    return flops_per_sample(build_model(model, shape, classes), shape)


def pruning_epochs(rows: list[dict], cfg: ExperimentConfig, samples: int | None) -> float:
    """Model-epochs of the pruning rounds: one per row of pruning_metrics.csv, the row's segment
    (its `epoch` column) as a fraction of an epoch; plus each trial's training to θ_k when rewinding."""
    fractions = epoch_fraction(cfg.prune_length, samples, cfg.batch_size)
    total = sum(fractions[int(row["epoch"]) - 1] for row in rows)
    if cfg.rewind is not None:
        total += cfg.trials * sum(epoch_fraction(cfg.rewind, samples, cfg.batch_size))
    return total


def run_costs(path: Path) -> list[Cost]:
    """One Cost per experiment of the results folder `path` (a compact or tables-only copy too)."""
    if not path.is_dir():
        raise DnError(f"{path}: no such run folder (give a results folder such as docs/runs/fc1-mnist-text)")
    run = open_run(path)
    configs = RunConfig.from_json(run.config).experiments
    metrics, pruning = run.metrics(), run.pruning_metrics()
    name = path.name + (" (tables only)" if run.tables_only else "")
    out = []
    for raw, cfg in zip(run.config["experiments"], configs, strict=True):
        exp = experiment_of(raw)
        samples = train_samples(raw, run.config)
        models = {(r["condition"], r["round"], r["trial"]) for r in metrics if r["experiment"] == exp}
        pruned = pruning_epochs([r for r in pruning if r["experiment"] == exp], cfg, samples)
        wall = run.config.get("wall_time_s", {}).get(exp)
        out.append(Cost(name, exp, pruned + len(models) * cfg.epochs, samples,
                        model_flops(cfg.model, cfg.dataset), None if wall is None else float(wall)))
    return out


def paper_costs() -> list[Cost]:
    """The paper's protocol at its settings: per network both protocols (text, authors), 5 trials,
    every registered condition, the paper preset's epochs, 10 rounds of 5 epochs, ticket rounds 6
    and 10. Model-epochs from the plan `dn train` follows (train/starts.py), one Cost per network."""
    out = []
    for name in PAPER_EXPERIMENTS:
        cfgs = [preset_experiment("paper", name, protocol=p, conditions=("all",)) for p in ("text", "authors")]
        model, dataset = cfgs[0].model, cfgs[0].dataset
        samples = TRAIN_SIZES[dataset]
        epochs = sum(cfg.trials * cfg.prune_rounds * sum(epoch_fraction(cfg.prune_length, samples, cfg.batch_size))
                     + len(condition_plan(cfg)) * cfg.epochs for cfg in cfgs)
        out.append(Cost(f"{PAPER} (text + authors)", name, epochs, samples, model_flops(model, dataset), None))
    return out


def _hms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = round(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _epochs(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


HEADER = ("run", "experiment", "model-epochs", "samples/epoch", "MFLOP/sample", "wall time",
          "s/model-epoch", "at the bound", "bound s/model-epoch", "wall / bound")


def table_rows(costs: list[Cost], peak: float) -> list[tuple[str, ...]]:
    """The table's cells; the last row totals the paper's projection."""
    rows = []
    for c in costs:
        bound, per = c.bound_s(peak), c.model_epochs or math.nan  # a run with no rows yet: nan, not a crash
        rows.append((c.run, c.experiment, _epochs(c.model_epochs), "-" if c.samples is None else f"{c.samples:,}",
                     "-" if c.flops is None else f"{c.flops / 1e6:.2f}", _hms(c.wall_s),
                     "-" if c.wall_s is None else f"{c.wall_s / per:.3f}", _hms(bound),
                     "-" if bound is None else f"{bound / per:.3f}",
                     "-" if bound is None or c.wall_s is None else f"{c.wall_s / bound:.1f}x" if bound else "-"))
    paper = [c for c in costs if c.run.startswith(PAPER)]
    if paper:
        bounds = [c.bound_s(peak) for c in paper]
        total = None if None in bounds else sum(b for b in bounds if b is not None)
        epochs = sum(c.model_epochs for c in paper)
        rows.append((f"{PAPER}, in all", "both", _epochs(epochs), "-", "-", "-", "-", _hms(total), "-", "-"))
    return rows


def format_table(rows: list[tuple[str, ...]], markdown: bool = False) -> str:
    right = [False, False] + [True] * (len(HEADER) - 2)
    if markdown:
        lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---:" if r else "---" for r in right) + "|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
    widths = [max(len(row[i]) for row in [HEADER, *rows]) for i in range(len(HEADER))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)).rstrip()

    return "\n".join([line(HEADER), *(line(row) for row in rows)])


def measured_peak() -> float:
    """The CPU's fp32 matmul peak in GFLOP/s (studies/bench_timing.py), at torch's thread count."""
    import torch

    from studies.bench_timing import matmul_peak

    return matmul_peak(torch.device("cpu"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studies.paper_time", description=__doc__.split("\n")[0])
    parser.add_argument("--peak", type=float, default=None,
                        help="the bound's peak in GFLOP/s (default: measured once, fp32 matmuls on this CPU)")
    parser.add_argument("--runs", nargs="+", type=Path, default=None,
                        help="results folders (default: every committed run under docs/runs)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)

    def work() -> None:
        if args.peak is not None and not args.peak > 0:
            raise ValueError(f"--peak must be > 0 GFLOP/s, got {args.peak}")
        runs = args.runs or sorted(p for p in RUNS.iterdir() if (p / "config.json").exists())
        costs = [cost for path in runs for cost in run_costs(path)] + paper_costs()
        if args.peak is not None:
            peak, how = args.peak, "given with --peak"
        else:
            import torch

            peak = measured_peak()
            how = f"measured: best fp32 matmul on this CPU at {torch.get_num_threads()} torch threads"
        print(f"peak: {peak:.1f} GFLOP/s ({how})\n")
        print(format_table(table_rows(costs, peak), args.markdown))

    return script_main(work)


if __name__ == "__main__":
    sys.exit(main())
