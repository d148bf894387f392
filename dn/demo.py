"""`dn demo`: train, analyze and report end to end on the bundled digits data, offline.

It runs the same code as the paper's experiments (`dn train --all`, `dn analyze all`,
`dn report`) on scikit-learn's 8x8 digits (FC-1) and the same digits upsampled to 3x32x32
(LeNet5), so a new user sees every output in a few minutes on a laptop CPU.
"""

from __future__ import annotations

from pathlib import Path

import typer

from train.config import DEMO_EXPERIMENTS, RunConfig, preset_experiment


def demo(
    out: Path = typer.Option(Path("runs/demo"), help="folder for the run, its analysis and report"),
    device: str = typer.Option("auto", help="auto, cpu or cuda"),
    seed: int = typer.Option(0, help="run seed"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show progress bars"),
) -> None:
    """Offline end-to-end demo: dn train (digits), dn analyze all, dn report."""
    from dn_analysis.pipeline import run_analysis
    from reports.build import build_report
    from train.runner import train_run

    cfg = RunConfig(tuple(preset_experiment("demo", name) for name in DEMO_EXPERIMENTS), seed=seed, preset="demo")
    typer.echo(f"[1/3] training {', '.join(DEMO_EXPERIMENTS)} (preset demo) into {out}")
    train_run(cfg, out, device=device, progress=progress)
    typer.echo(f"[2/3] analyzing D_n into {out / 'analysis'}")
    run_analysis([out], out / "analysis", quick=True)
    typer.echo(f"[3/3] writing the report into {out / 'report'}")
    build_report([out], out / "report", analysis=out / "analysis", quick=True)
    typer.echo(f"done: open {out / 'report' / 'report.md'} or {out / 'report' / 'report.pdf'}")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
