"""`dn import`: tickets found by other tools as ordinary results folders (docs/import.md)."""

from __future__ import annotations

from pathlib import Path

import typer

OUT = "new folder for the results (refused if it exists and is not empty)"
INIT = ("the init distribution D_θ, named: xavier_uniform, xavier_normal, kaiming_uniform, kaiming_normal or "
        "torch_default (its scale follows from each layer's shape); default: inferred from θ0 and recorded so")
STRICT = "refuse masks that are not nested across rounds (default: a warning)"
MODEL = "model name recorded for the experiment (no '-')"
DATASET = "dataset name recorded for the experiment"


def _done(out: Path) -> None:
    from results import open_run

    run = open_run(out)
    exp = run.experiment(run.experiments[0])
    typer.echo(f"imported {len(exp.trials)} trial(s) x {len(exp.rounds) - 1} round(s) of {exp.name} into {out}")


def open_lth(path: Path = typer.Argument(..., help="an open_lth lottery folder (lottery_<hash>)"),
             out: Path = typer.Option(..., help=OUT), init_dist: str | None = typer.Option(None, help=INIT),
             strict: bool = typer.Option(False, help=STRICT)) -> None:
    """An open_lth lottery run: replicates become trials, levels rounds."""
    from importers import open_lth as reader
    from importers.ticket import write_run

    trials, found = reader.read(path, init_dist)
    write_run(out, trials, fmt="open_lth", source=str(path), strict=strict, **found)
    _done(out)


def torch_prune(folders: list[Path] = typer.Argument(None, help="trial folders: init.pt, round1.pt, round2.pt, ..."),
                init: list[Path] = typer.Option(None, "--init", help="θ0's state dict, once per trial"),
                pruned: list[Path] = typer.Option(None, "--pruned", help="a pruned round's state dict, in order"),
                out: Path = typer.Option(..., help=OUT), init_dist: str | None = typer.Option(None, help=INIT),
                strict: bool = typer.Option(False, help=STRICT), model: str = typer.Option("torch_prune", help=MODEL),
                dataset: str = typer.Option("unknown", help=DATASET)) -> None:
    """State dicts of modules pruned with torch.nn.utils.prune (<name>_orig, <name>_mask)."""
    from importers import torch_prune as reader
    from importers.ticket import write_run

    trials = reader.read(list(folders or []), list(init or []), list(pruned or []))
    write_run(out, trials, fmt="torch_prune", source=", ".join(map(str, folders or init or [])), init=init_dist,
              strict=strict, model=model, dataset=dataset)
    _done(out)


def arrays(path: Path = typer.Argument(..., help="a folder with initial/, masks/<round>/ and final/ (or trial subfolders)"),
           out: Path = typer.Option(..., help=OUT), init_dist: str | None = typer.Option(None, help=INIT),
           strict: bool = typer.Option(False, help=STRICT), model: str = typer.Option("arrays", help=MODEL),
           dataset: str = typer.Option("unknown", help=DATASET)) -> None:
    """Per-layer .npy/.npz arrays (the TensorFlow reference code's layout)."""
    from importers import arrays as reader
    from importers.ticket import write_run

    write_run(out, reader.read(path), fmt="arrays", source=str(path), init=init_dist, strict=strict,
              model=model, dataset=dataset)
    _done(out)


def register(app: typer.Typer) -> None:
    group = typer.Typer(no_args_is_help=True, help="Import tickets found by other tools (docs/import.md).")
    group.command("open-lth")(open_lth)
    group.command("torch-prune")(torch_prune)
    group.command("arrays")(arrays)
    app.add_typer(group, name="import")
