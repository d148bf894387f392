"""`dn analyze`: thin Typer commands over dn_analysis.pipeline.run_analysis."""

from __future__ import annotations

from pathlib import Path

import typer

RUNS_HELP = "A results folder of `dn train` (repeatable: experiments are gathered from all of them)."
OUT_HELP = ("Output folder, written whole or not at all (default: runs/analysis-<first run folder name>, "
            "under the current folder).")
QUICK_HELP = "Small bootstrap/permutation counts and subsamples (tests, demo)."
DATA_HELP = "Datasets folder, for the signs section's input means (default: $DN_DATA_DIR, else the cache)."


def _run(sections: tuple[str, ...], runs: list[Path] | None, out: Path | None, quick: bool,
         data_dir: Path | None = None) -> None:
    from dn_analysis.outputs import default_out
    from dn_analysis.pipeline import run_analysis

    if not runs:
        raise ValueError("give at least one results folder with --runs DIR.")
    out = out or default_out("analysis", runs[0])
    result = run_analysis(list(runs), out, quick=quick, sections=sections, data_dir=data_dir)
    n_tests = len(result["tests"])
    t = result["timing_s"]
    typer.echo(f"analysis of {', '.join(result['experiments'])} ({', '.join(sections)}): "
               f"{n_tests} tests, {len(result['figures'])} figures in {t['total']:.1f} s -> {out}")
    for m in result["missing"]:
        typer.echo(f"  missing: {m['experiment']}: {m['reason']}")
    if "compare" in sections and n_tests:
        s = result["settings"]
        typer.echo(f"  compare: permutation p-values with {s['compare_n_resamples']} resamples, "
                   f"each side subsampled to at most {s['compare_max_n']} values")
    typer.echo(f"  {out / 'analysis.json'}, {out / 'analysis.csv'}, {out / 'summary.md'}")


def register(app: typer.Typer) -> None:
    analyze = typer.Typer(no_args_is_help=True, help="Analyze D_n: histograms, density fits, symmetry, modes, FC-1 vs LeNet5.")

    def make(name: str, sections: tuple[str, ...], doc: str) -> None:
        def command(
            runs: list[Path] = typer.Option(None, "--runs", help=RUNS_HELP),
            out: Path = typer.Option(None, "--out", help=OUT_HELP),
            quick: bool = typer.Option(False, "--quick", help=QUICK_HELP),
            data_dir: Path = typer.Option(None, "--data-dir", help=DATA_HELP),
        ) -> None:
            _run(sections, runs, out, quick, data_dir)

        command.__doc__ = doc
        analyze.command(name)(command)

    make("histograms", ("histograms",), "Figure 5, per-layer overlays and D_n across rounds (PNG + PDF).")
    make("fit", ("fit",), "KDE (scott, silverman, isj, cv) and GMM (free, symmetric) fits; saves samplers.")
    make("symmetry", ("symmetry",), "Symmetry of D_n about 0 (sign, flip-ks, flip-cvm, skewness, midquantile).")
    make("signs", ("signs",), "Survivor signs per layer, and by input mean for a dense first layer.")
    make("modes", ("modes",), "Mode tests (Hall-York k=1..6, excess mass, dip) and the paper's shape verdict.")
    make("trials", ("modes", "trials"), "Trial-level answers (networks as replicates): sign lean, modes, four peaks, hole, symmetry.")
    make("compare", ("compare",), "FC-1 vs LeNet5 at the same round, raw and standardized (permutation tests).")
    make("all", ("fit", "symmetry", "signs", "modes", "trials", "compare", "histograms"), "Every section above.")

    # `dn analyze model`: DnModel fit, held-out distances, figure (dn_analysis/model/cli.py)
    from dn_analysis.model.cli import register_model

    register_model(analyze)

    # `dn analyze architectures`: D_n predicted from shapes and init, against the tickets
    from dn_analysis.architectures.cli import register_architectures

    register_architectures(analyze)
    app.add_typer(analyze, name="analyze")
