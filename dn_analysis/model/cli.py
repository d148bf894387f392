"""`dn analyze model`: fit DnModel, measure it on held-out trials and rounds, draw its figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

COLUMNS = ["experiment", "protocol", "fit", "fit_trials", "fit_rounds", "round", "density", "model_density",
           "layer", "test_trials", "ks_median", "ks_per_trial", "noise_floor", "ratio", "target", "ok",
           "threshold_model_ks"]
QUICK = {"per_stratum": 800, "n_grid": 120, "paths": 200, "max_iter": 15}


def analyze_model(run_dir: Path, out: Path, fit_trials: list[int], extrapolate_from: int,
                  quick: bool = False, experiments: list[str] | None = None) -> list[dict]:
    """Fit, table and figure for every experiment of `run_dir` that stores θ' (or its stats)."""
    from dn_analysis.model.evaluate import fit_models, heldout_table
    from dn_analysis.model.figure import model_figure
    from results import open_run
    from results.store import atomic_write_bytes, write_csv, write_json

    run = open_run(run_dir)
    kwargs: dict[str, Any] = dict(QUICK) if quick else {}
    rows: list[dict] = []
    for name in experiments or run.experiments:
        exp = run.experiment(name)
        n = max(exp.rounds)
        models = fit_models(exp, fit_trials, min(extrapolate_from, n - 1), **kwargs)
        for kind, model in models.items():
            model.save(out / f"{name}-model-{kind}.json")
        shown = tuple(sorted({r for r in (1, 6, n) if 0 < r <= n}))
        table = heldout_table(exp, tuple(fit_trials), rounds=shown[1:] or shown, models=models,
                              n_draws=100_000 if quick else 1_000_000)
        rows += table
        model_figure(exp, models["held-out"], out / f"{name}-model", rounds=shown)
        write_json(out / f"{name}-model-params.json", {k: m.params_ for k, m in models.items()})
    write_csv(out / "model-distances.csv", [{k: r[k] for k in COLUMNS} for r in rows], COLUMNS)
    write_json(out / "model-distances.json", [{k: _finite(v) for k, v in r.items()} for r in rows])
    atomic_write_bytes(out / "model-distances.md", markdown_table(rows).encode())
    return rows


def markdown_table(rows: list[dict]) -> str:
    """The pooled rows as a Markdown table (docs/dn-model.md quotes it)."""
    lines = ["| experiment | protocol | fit | rounds seen | density | KS per held-out trial | median | noise floor "
             "| ratio | target | within | layer-threshold KS |", "|" + "---|" * 12]
    for r in rows:
        if r["layer"] == "all":
            lines.append(f"| {r['experiment']} | {r['protocol']} | {r['fit']} | {r['fit_rounds']} | {100 * r['density']:.1f}% "
                         f"| {r['ks_per_trial']} | {r['ks_median']:.4f} | {r['noise_floor']:.4f} | {r['ratio']:.2f} "
                         f"| {r['target']:.0f}x | {'yes' if r['ok'] else 'no'} | {r['threshold_model_ks']:.3f} |")
    return "\n".join(lines) + "\n"


def _finite(v: Any) -> Any:
    return None if isinstance(v, float) and v != v else v


def register_model(analyze: typer.Typer) -> None:
    @analyze.command("model")
    def model(
        runs: list[Path] = typer.Option(None, "--runs", help="Results folders of `dn train` (trained weights or training_stats.npz)."),
        out: Path = typer.Option(None, "--out", help="Output folder (default: <first run>/analysis/model)."),
        fit_trials: list[int] = typer.Option([0], "--fit-trial", help="Trials the model learns from (repeatable)."),
        extrapolate_from: int = typer.Option(6, "--extrapolate-from", help="The extrapolation fit sees rounds 1..this."),
        experiment: list[str] = typer.Option(None, "--experiment", "-e", help="Only these experiments."),
        quick: bool = typer.Option(False, "--quick", help="Small samples and grids (tests, demo)."),
    ) -> None:
        """DnModel: survival of each θ0 through the rounds; held-out and extrapolation distances, figure."""
        if not runs:
            raise typer.BadParameter("give at least one results folder with --runs DIR.")
        for i, run_dir in enumerate(runs):
            target = out or Path(runs[0]) / "analysis" / "model"
            target = target if len(runs) == 1 else target / f"run{i}"
            rows = analyze_model(Path(run_dir), target, list(fit_trials), extrapolate_from, quick, experiment)
            for r in rows:
                if r["layer"] == "all":
                    typer.echo(f"{r['experiment']} {r['fit']:<12} round {r['round']:>2}: KS {r['ks_median']:.4f} "
                               f"= {r['ratio']:.2f} x noise floor {r['noise_floor']:.4f} "
                               f"(target {r['target']:.0f}x; layer-threshold model {r['threshold_model_ks']:.3f})")
            typer.echo(f"  -> {target}")
