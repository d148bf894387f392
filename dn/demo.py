"""`dn demo`: train, analyze and report end to end on the bundled digits data, offline.

It runs the same code as the paper's experiments (`dn train --all`, `dn analyze all`,
`dn report`) on scikit-learn's 8x8 digits (FC-1) and the same digits upsampled to 3x32x32
(LeNet5), so a new user sees every output in a few minutes on a laptop CPU (about 1.5 minutes on 2 cores).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from train.config import DEMO_EXPERIMENTS, RunConfig, preset_experiment

HEARTBEAT_S = 10.0  # a line on stdout at least this often, so a quiet stage never looks stuck


@contextmanager
def heartbeat(stage: str, detail: Callable[[], str] = lambda: "") -> Iterator[None]:
    """Print `stage`, its elapsed time and `detail()` every HEARTBEAT_S seconds until the block ends."""
    stop = threading.Event()
    start = time.monotonic()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            more = detail()
            typer.echo(f"      {stage}: {time.monotonic() - start:.0f} s{'; ' + more if more else ''}")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


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
    epochs = [0]  # epochs trained so far, one per stack of models trained together
    typer.echo(f"[1/3] training {', '.join(DEMO_EXPERIMENTS)} (preset demo) into {out}")
    with heartbeat("training", lambda: f"{epochs[0]} stack-epochs done"):
        train_run(cfg, out, device=device, progress=progress,
                  on_epoch=lambda: epochs.__setitem__(0, epochs[0] + 1))
    typer.echo(f"[2/3] analyzing D_n into {out / 'analysis'}")
    with heartbeat("analyzing"):
        run_analysis([out], out / "analysis", quick=True)
    typer.echo(f"[3/3] writing the report into {out / 'report'}")
    with heartbeat("writing the report"):
        build_report([out], out / "report", analysis=out / "analysis", quick=True)
    typer.echo(f"done: open {out / 'report' / 'report.md'} or {out / 'report' / 'report.pdf'}")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
