"""`dn train`, `dn export` and `dn data`: the training side of the command line."""

from __future__ import annotations

from pathlib import Path

import typer

from results.errors import DnError
from train.config import DEMO_EXPERIMENTS, PAPER_EXPERIMENTS, RunConfig, preset_experiment
from train.export import STATS_PER_STRATUM
from train.options import with_dataclass_options


def train(
    all_: bool = typer.Option(False, "--all", help="both paper experiments: fc1-mnist and lenet5-cifar10"),
    experiment: list[str] | None = typer.Option(
        None, "--experiment", "-e", help="MODEL-DATASET, e.g. fc1-mnist, lenet5-cifar10, fc1-fashion-mnist (repeatable)"),
    preset: str = typer.Option("paper", help="paper (the paper's settings), quick (~tens of minutes on a CPU), "
                               "smoke (< 2 minutes), demo (bundled digits)"),
    seed: int = typer.Option(0, help="run seed: θ0, data order and condition draws derive from it"),
    device: str = typer.Option("auto", help="auto, cpu or cuda"),
    out: Path | None = typer.Option(None, help="results folder (default: runs/<preset>-<config hash>)"),
    data_dir: Path | None = typer.Option(None, help="datasets folder (default: $DN_DATA_DIR, else ~/.cache/dn/datasets)"),
    stack_size: int | None = typer.Option(None, help="models trained together (default 8 on CPU, 64 on CUDA)"),
    checkpoint_seconds: float = typer.Option(120.0, help="save resumable state at most this often "
                                             "(0: after every epoch)"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show progress bars"),
    threads: int | None = typer.Option(None, help="CPU threads for torch (default: torch's; 1 helps on a busy machine)"),
    executor: str = typer.Option("local", help="local (this process) or ray (each piece a Ray task; "
                                 "same numbers, docs/scale-out.md)"),
    ray_address: str | None = typer.Option(None, help="Ray cluster HOST:PORT (default: $RAY_ADDRESS, else "
                                           "start a local cluster)"),
    task_cpus: int = typer.Option(1, help="CPUs per Ray task (its torch threads)"),
    task_gpus: float = typer.Option(0.0, help="GPUs per Ray task (with --device cuda)"),
    ray_cpus: int | None = typer.Option(None, help="CPUs of a local Ray cluster started here (default: all)"),
    tickets: Path | None = typer.Option(
        None, help="a folder of `dn import` (or of another run): train the conditions from its tickets instead of "
        "pruning; --model must build the network they were found on (docs/import.md)"),
    equivalence_margin: float | None = typer.Option(
        None, help="points of test accuracy within which paired.csv calls two conditions equivalent (TOST); "
        "recorded when the run starts and fixed after (default 0.5)"),
    overrides: dict | None = None,
) -> None:
    """Find lottery tickets (Algorithm 1) and train every condition; resumes an interrupted run."""
    from train.ray_executor import RaySettings
    from train.runner import check_settings, train_run
    from train.signals import graceful_stop

    if threads is not None:
        if threads < 1:
            raise DnError(f"--threads must be >= 1, got {threads}")
        import torch

        torch.set_num_threads(threads)
    experiment = experiment or []
    names = list(PAPER_EXPERIMENTS) if all_ else list(experiment)
    overrides = overrides or {}
    if not names and (overrides.get("model") or overrides.get("dataset")):
        names = [f"{overrides.get('model') or 'fc1'}-{overrides.get('dataset') or 'mnist'}"]
    if preset == "demo" and not names:
        names = list(DEMO_EXPERIMENTS)
    if not names:
        raise DnError("say what to train: --all (the paper's two experiments) or --experiment fc1-mnist")
    for extra in experiment if all_ else []:
        if extra not in names:
            names.append(extra)
    found = None
    if tickets is not None:
        from train import tickets as imported

        if len(names) != 1:
            raise DnError("--tickets trains one experiment: give --model and --dataset (or one --experiment)")
        overrides = {**overrides, **imported.overrides(tickets, overrides)}
        found = imported.record(tickets)
    cfg = RunConfig(tuple(preset_experiment(preset, n, **overrides) for n in names),
                    seed=seed, preset=preset, tickets=found)
    if tickets is not None:
        imported.check(cfg.experiments[0])
    ray = RaySettings(ray_address, task_cpus, task_gpus, ray_cpus)
    check_settings(cfg, data_dir, stack_size, checkpoint_seconds, ray, equivalence_margin)  # before the folder is made
    folder = out or Path("runs") / cfg.name
    with graceful_stop(folder):  # SIGINT/SIGTERM: state saved, one line, exit 130/143
        train_run(cfg, folder, device=device, data_dir=data_dir, stack_size=stack_size,
                  progress=progress, checkpoint_seconds=checkpoint_seconds, executor=executor, ray=ray,
                  equivalence_margin=equivalence_margin)
    typer.echo(summary_text(folder))
    typer.echo(f"results in {folder}")


def summary_text(folder: Path) -> str:
    """summary.csv as an aligned table (max avg test acc, min avg train loss; `diverged` when present)."""
    from results.store import read_csv

    path = folder / "summary.csv"
    rows = read_csv(path) if path.exists() else []
    if not rows:
        return "no summary yet (no condition has metrics)"
    header = ["experiment", "condition", "density", "trials", "max avg acc (epoch)", "min avg train loss (epoch)"]
    has_div = "diverged" in rows[0]
    if has_div:
        header.append("diverged")
    table = [header]
    for r in rows:
        line = [r["experiment"], r["condition"], f"{float(r['density']):.3f}", str(r["trials"]),
                f"{float(r['max_avg_acc']):.4f} ({r['max_avg_acc_epoch']})",
                f"{float(r['min_avg_train_loss']):.4g} ({r['min_avg_train_loss_epoch']})"]
        if has_div:
            line.append(str(r.get("diverged", "")))
        table.append(line)
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
                     for row in table)


def export(
    run: Path = typer.Argument(..., help="a finished results folder"),
    out: Path = typer.Option(..., help="new folder for the compact copy (e.g. docs/runs/NAME)"),
    stats_per_stratum: int = typer.Option(STATS_PER_STRATUM, help="weight trajectories per stratum kept for DnModel "
                                                    "(training_stats.npz); 0 leaves them out"),
    tables_only: bool = typer.Option(False, "--tables-only", help="keep the tables and per-layer θ_LT summaries, "
                                     "not the tickets (a network whose tickets are too large to commit)"),
) -> None:
    """Write a compact, committable copy of a finished run (packed masks, no checkpoints)."""
    from train.export import export_run
    from train.export_tables import export_tables_only

    if tables_only:
        export_tables_only(run, out)
    else:
        export_run(run, out, stats_per_stratum=stats_per_stratum)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    typer.echo(f"compact run in {out} ({size / 2**20:.1f} MB)")


def register(app: typer.Typer) -> None:
    from dn_data.cli import register as register_data
    from train.config import ExperimentConfig

    app.command("train")(with_dataclass_options(ExperimentConfig, train))
    app.command("export")(export)
    register_data(app)
