"""`dn report`: a Markdown + PDF report of one or more results folders."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        runs: list[Path] = typer.Option(..., "--runs", help="results folder of `dn train` (repeatable)"),
        out: Path | None = typer.Option(None, "--out", help="output folder, written whole or not at all "
                                        "(default runs/report-<first run folder name>, under the current folder)"),
        analysis: Path | None = typer.Option(None, "--analysis", help="folder with analysis.json from `dn analyze` (default: compute it)"),
        quick: bool = typer.Option(False, "--quick", help="fewer resamples in the D_n analysis"),
        data_dir: Path | None = typer.Option(None, "--data-dir", help="datasets folder, for the D_n analysis's input "
                                             "means (default: $DN_DATA_DIR, else the cache)"),
        architectures: list[Path] = typer.Option(None, "--architectures", help="output folder of `dn analyze "
                                                 "architectures` (repeatable): a section on D_n across architectures"),
    ) -> None:
        """Write report.md, figures/ and report.pdf: tables, curves, D_n, the paper's claims checked."""
        from reports.build import build_report

        path = build_report(runs, out, analysis, quick, data_dir, architectures)
        typer.echo(f"wrote {path / 'report.md'} and {path / 'report.pdf'}")
