"""`dn bench`: the studies' side of the command line."""

from __future__ import annotations

from pathlib import Path

import typer


def bench(
    json_: bool = typer.Option(False, "--json", help="print one JSON object"),
    data_dir: Path | None = typer.Option(None, help="datasets folder (MNIST and CIFAR-10)"),
    device: str = typer.Option("auto", help="auto, cpu or cuda"),
    models: int = typer.Option(8, help="models in the stack"),
    repeats: int = typer.Option(3, help="timed repeats (best is kept)"),
) -> None:
    """Time the stacked engine against one-model-at-a-time and a DataLoader loop."""
    from studies.bench import run_bench

    run_bench(json_out=json_, data_dir=data_dir, device=device, models=models, repeats=repeats)


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
