"""`dn analyze architectures`: the no-drift prediction of D_n against the runs' tickets, whole-folder output."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

import typer

from results.errors import DnError

OWNS = ("architectures.csv",)


def command_line(runs: Sequence[str | Path], round: int | None, quick: bool, fit_model: bool) -> str:
    """The command that regenerates the output (quoted in architectures.md)."""
    parts = ["dn analyze architectures", *(f"--runs {shlex.quote(str(r))}" for r in runs)]
    parts += [f"--round {round}"] if round is not None else []
    parts += ["--quick"] if quick else []
    parts += ["--no-model"] if not fit_model else []
    return " ".join(parts)


def model_settings(quick: bool) -> dict:
    """DnModel's hyperparameters: its defaults, or `dn analyze model --quick`'s small ones."""
    from dn_analysis.architectures.measure import QUICK_MODEL

    return dict(QUICK_MODEL) if quick else {}


def write_outputs(out: Path, rows: list[dict], pairs: list[dict], text: str) -> None:
    """architectures.csv/.json, architecture-pairs.csv and architectures.md into `out`."""
    from dn_analysis.architectures.rows import COLUMNS, PAIR_COLUMNS
    from dn_analysis.outputs import clean
    from results.store import atomic_write_bytes, write_csv, write_json

    write_csv(out / "architectures.csv", rows, COLUMNS)
    write_csv(out / "architecture-pairs.csv", pairs, PAIR_COLUMNS)
    write_json(out / "architectures.json", clean({"experiments": rows, "pairs": pairs}))
    atomic_write_bytes(out / "architectures.md", text.encode())


def run_architectures(runs: Sequence[Path], round: int | None, out: Path | None, docs: Path | None,
                      quick: bool, fit_model: bool) -> tuple[Path, list[dict]]:
    """Everything the command does; returns (output folder, rows)."""
    from dn_analysis.architectures.report import markdown, rewrite_block
    from dn_analysis.architectures.rows import analyze
    from dn_analysis.outputs import check_out, default_out
    from results.store import whole_folder

    if not runs:
        raise DnError("give at least one results folder with --runs DIR")
    if round is not None and round < 1:
        raise DnError(f"--round must be a pruning round (1 or more), got {round}")
    if docs is not None and not Path(docs).is_file():
        raise DnError(f"--docs {docs} is not a file; give the document whose architectures block to rewrite")
    root = Path(out) if out else default_out("architectures", runs[0])
    check_out(root, [Path(r) for r in runs])
    rows, pairs = analyze(runs, round, model_settings(quick), fit_model)
    text = markdown(rows, pairs, command_line(runs, round, quick, fit_model))
    with whole_folder(root, owns=OWNS) as work:
        write_outputs(work, rows, pairs, text)
    if docs is not None:
        rewrite_block(Path(docs), text, [str(r) for r in runs])
    return root, rows


def register_architectures(analyze: typer.Typer) -> None:
    @analyze.command("architectures")
    def architectures(
        runs: list[Path] = typer.Option(None, "--runs", help="Results folders of `dn train` (repeatable)."),
        round: int = typer.Option(None, "--round", help="Pruning round (default: each experiment's last)."),
        out: Path = typer.Option(None, "--out", help="Output folder, written whole or not at all (default: "
                                 "runs/architectures-<first run folder name>)."),
        docs: Path = typer.Option(None, "--docs", help="Also rewrite the block between the "
                                  "<!-- architectures:begin/end --> markers of this document."),
        quick: bool = typer.Option(False, "--quick", help="DnModel with small samples and grids (tests, demo)."),
        no_model: bool = typer.Option(False, "--no-model", help="Skip DnModel (its cells say so)."),
    ) -> None:
        """Is D_n the same across architectures? Predicted shelves from shapes and init, measured on tickets."""
        root, rows = run_architectures(list(runs or []), round, out, docs, quick, not no_model)
        for r in rows:
            dn = f"DnModel {r['ratio_dn_std']:.2f}x" if r["dn_note"] == "" else "DnModel n/a"
            typer.echo(f"{r['experiment']} ({r['run']}) round {r['round']}: shelves {r['shelves_raw']} raw, "
                       f"{r['shelves_std']} std; modes predicted {r['modes_predicted_std']}, measured "
                       f"{r['modes_measured_std']}; KS no-drift {r['ks_pred_std']:.3f} = {r['ratio_pred_std']:.1f}x "
                       f"noise floor, {dn}")
        typer.echo(f"  -> {root / 'architectures.csv'}, {root / 'architectures.md'}"
                   + (f"; rewrote {docs}" if docs else ""))
