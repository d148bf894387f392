"""`dn analyze model`: fit DnModel, measure it on held-out trials and rounds, draw its figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from results.errors import DnError

COLUMNS = ["experiment", "protocol", "model", "fit", "fit_trials", "fit_rounds", "round", "density",
           "model_density", "layer", "test_trials", "ks_median", "ks_per_trial", "noise_floor", "ratio", "target",
           "ok", "refit_trials", "refit_ratios", "ratio_min", "ratio_max", "ok_refits", "threshold_model_ks", "note"]
QUICK = {"per_stratum": 800, "n_grid": 120, "paths": 200, "max_iter": 15}


def analyze_model(run_dir: Path, out: Path, fit_trials: list[int], extrapolate_from: int,
                  quick: bool = False, experiments: list[str] | None = None) -> list[dict]:
    """Fit, table and figure for every experiment of `run_dir`.

    DnModel (and its ablation) where the experiment stores θ' (or its stats); where it does not,
    their rows say why, and the baseline and SoftThresholdDn (θ0 and masks only) are still scored.
    """
    from dn_analysis.model.evaluate import DN, fit_predictors, heldout_table
    from dn_analysis.model.figure import model_figure
    from results import open_run
    from results.store import atomic_write_bytes, write_csv, write_json

    if extrapolate_from < 1:
        raise DnError(f"--extrapolate-from must be at least 1 (the extrapolation fit sees rounds 1..it), "
                      f"got {extrapolate_from}")
    run = open_run(run_dir)
    kwargs: dict[str, Any] = dict(QUICK) if quick else {}
    rows: list[dict] = []
    for name in experiments or run.experiments:
        exp = run.experiment(name)
        bad = [t for t in fit_trials if t not in exp.trials]
        if bad:
            raise DnError(f"--fit-trial {bad[0]} is not a trial of {name} in {run_dir} (trials: "
                          f"{', '.join(map(str, exp.trials))})")
        _check_stats(exp)
        n = max(exp.rounds)
        extrapolate = min(extrapolate_from, n - 1)
        models = fit_predictors(exp, fit_trials, extrapolate, **kwargs)
        fitted = {k: m for k, m in models.items() if not isinstance(m, str)}
        for (model_name, kind), model in fitted.items():
            if model_name == DN:
                model.save(out / f"{name}-model-{kind}.json")
        shown = tuple(sorted({r for r in (1, 6, n) if 0 < r <= n}))
        table = heldout_table(exp, tuple(fit_trials), rounds=shown[1:] or shown, extrapolate_from=extrapolate,
                              models=models, n_draws=100_000 if quick else 1_000_000)
        rows += table
        if (DN, "held-out") in fitted:
            model_figure(exp, fitted[(DN, "held-out")], out / f"{name}-model", rounds=shown)
        write_json(out / f"{name}-model-params.json",
                   {(kind if model_name == DN else f"{model_name} {kind}"): m.params_
                    for (model_name, kind), m in fitted.items()})
    write_csv(out / "model-distances.csv", [{k: r[k] for k in COLUMNS} for r in rows], COLUMNS)
    write_json(out / "model-distances.json", [{k: _finite(v) for k, v in r.items()} for r in rows])
    atomic_write_bytes(out / "model-distances.md", markdown_table(rows).encode())
    return rows


def _check_stats(exp: Any) -> None:
    """Verify training_stats.npz against its checksum where DnModel will read it (a compact run, or
    one without trained/; dn_analysis.model.stats.stats_for), so damage is named with its fix."""
    from results.schema import STATS_FILE
    from results.store import read_npz

    path = exp.dir / STATS_FILE
    if path.exists() and (exp.run.config.get("compact") or not (exp.dir / "trained").is_dir()):
        exp.run.read(read_npz, path)


def markdown_table(rows: list[dict]) -> str:
    """The pooled rows as a Markdown table (docs/dn-model.md quotes it)."""
    lines = ["| experiment | protocol | model | fit | rounds seen | density | KS per held-out trial | median "
             "| noise floor | ratio | refit ratios | target | within | layer-threshold KS |", "|" + "---|" * 14]
    for r in rows:
        if r["layer"] != "all":
            continue
        head = (f"| {r['experiment']} | {r['protocol']} | {r.get('model', 'DnModel')} | {r['fit']} | {r['fit_rounds']} "
                f"| {100 * r['density']:.1f}% |")
        if r.get("note"):
            lines.append(f"{head} {r['note']} |" + " |" * 7)
            continue
        refit = (f"{r['ratio_min']:.2f}-{r['ratio_max']:.2f} (trial {r['refit_trials']}: {r['refit_ratios']})"
                 if r.get("refit_trials") else "")
        within = "yes" if r["ok"] else "no"
        if r.get("refit_trials") and r["ok"] and not r.get("ok_refits", True):
            within = "no (refit)"
        lines.append(f"{head} {r['ks_per_trial']} | {r['ks_median']:.4f} | {r['noise_floor']:.4f} | {r['ratio']:.2f} "
                     f"| {refit} | {r['target']:.0f}x | {within} | {r['threshold_model_ks']:.3f} |")
    return "\n".join(lines) + "\n"


def _finite(v: Any) -> Any:
    return None if isinstance(v, float) and v != v else v


def register_model(analyze: typer.Typer) -> None:
    @analyze.command("model")
    def model(
        runs: list[Path] = typer.Option(None, "--runs", help="Results folders of `dn train` (trained weights or training_stats.npz)."),
        out: Path = typer.Option(None, "--out", help="Output folder, written whole or not at all (default: "
                                 "<first run>/analysis/model, where `dn report` reads it)."),
        fit_trials: list[int] = typer.Option([0], "--fit-trial", help="Trials the model learns from (repeatable; "
                                             "trials of the run, leaving one out)."),
        extrapolate_from: int = typer.Option(6, "--extrapolate-from", help="The extrapolation fit sees rounds "
                                             "1..this (at least 1; at most the run's rounds - 1)."),
        experiment: list[str] = typer.Option(None, "--experiment", "-e", help="Only these experiments."),
        quick: bool = typer.Option(False, "--quick", help="Small samples and grids (tests, demo)."),
    ) -> None:
        """DnModel: survival of each θ0 through the rounds; held-out and extrapolation distances, figure."""
        from dn_analysis.outputs import check_out
        from results.store import whole_folder

        if not runs:
            raise typer.BadParameter("give at least one results folder with --runs DIR.")
        if any(t < 0 for t in fit_trials):
            raise DnError(f"--fit-trial must be a trial number (0 or more), got {min(fit_trials)}")
        if extrapolate_from < 1:
            raise DnError(f"--extrapolate-from must be at least 1, got {extrapolate_from}")
        for run_dir in runs:
            if Path(run_dir).is_file():
                raise DnError(f"--runs {run_dir} is a file, not a folder; give a results folder of `dn train`")
        root = out or Path(runs[0]) / "analysis" / "model"
        check_out(root, [Path(r) for r in runs])
        with whole_folder(root, keep=True, owns=("model-distances.json", "run0")) as work:
            for i, run_dir in enumerate(runs):
                target = work if len(runs) == 1 else work / f"run{i}"
                rows = analyze_model(Path(run_dir), target, list(fit_trials), extrapolate_from, quick, experiment)
                for r in rows:
                    if r["layer"] != "all":
                        continue
                    head = f"{r['experiment']} {r['model']:<28} {r['fit']:<12} round {r['round']:>2}:"
                    if r["note"]:
                        typer.echo(f"{head} {r['note']}")
                        continue
                    refit = (f"; refit on trial {r['refit_trials']}: {r['refit_ratios']}x" if r["refit_trials"] else "")
                    typer.echo(f"{head} KS {r['ks_median']:.4f} = {r['ratio']:.2f} x noise floor {r['noise_floor']:.4f} "
                               f"(target {r['target']:.0f}x{refit}; layer-threshold model {r['threshold_model_ks']:.3f})")
        typer.echo(f"  -> {root}")
