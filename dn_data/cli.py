"""`dn data ...`: see where datasets are looked for, what is there, and download missing ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from dn_data.dataset import channel_stats
from dn_data.download import download_dataset
from dn_data.locate import data_dir_origin, resolve_data_dir
from dn_data.registry import DATASETS, FILE_SPECS, check_name
from results.errors import DnError

DATA_DIR_HELP = "data folder (default: $DN_DATA_DIR, else ~/.cache/dn/datasets)"


def _describe_files(name: str, root: Path) -> bool:
    """Print where `name`'s files are (or which are missing); True when all were found."""
    spec = FILE_SPECS[name]
    if spec is None:
        typer.echo(f"{name}: bundled with scikit-learn (no files, no download)")
        return True
    try:
        folder, files = spec.find(root)
    except DnError as err:
        typer.echo(f"{name}: MISSING - {err}")
        return False
    typer.echo(f"{name}: {folder}")
    for path in files.values():
        typer.echo(f"  {path.name:<28} {path.stat().st_size:>12,} bytes")
    return True


def _describe_contents(name: str, root: Path) -> None:
    """Parse the files and print counts, shapes, class counts, pixel statistics and hashes."""
    raw = DATASETS[name](root)
    for split, x, y in (("train", raw.x_train, raw.y_train), ("test", raw.x_test, raw.y_test)):
        mean, std = channel_stats(x, raw.scale)
        counts = np.bincount(y, minlength=raw.num_classes).tolist()
        typer.echo(f"  {split}: {x.shape[0]} x {tuple(x.shape[1:])}, mean "
                   f"{tuple(round(m, 4) for m in mean)}, std {tuple(round(s, 4) for s in std)}")
        typer.echo(f"    per class: {counts}")
    for file, digest in raw.checksums.items():
        typer.echo(f"  sha256 {digest}  {file}")


def register(app: typer.Typer) -> None:
    """Add the `data` group (download, info) to the `dn` app."""
    data_app = typer.Typer(no_args_is_help=True, help="Find, inspect and download datasets.")

    @data_app.command("download")
    def download(
        name: str = typer.Argument(..., help=f"one of: {', '.join(DATASETS)}"),
        data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    ) -> None:
        """Download NAME's official files (md5-checked) into the data folder."""
        download_dataset(name, data_dir, log=typer.echo)

    @data_app.command("info")
    def info(
        name: str | None = typer.Argument(None, help="a dataset to read and summarize"),
        data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    ) -> None:
        """Show where datasets are looked for and what is there (with NAME: counts and stats)."""
        root = resolve_data_dir(data_dir)
        exists = "" if root.is_dir() else " (does not exist yet)"
        typer.echo(f"data folder: {root}{exists}  [from {data_dir_origin(data_dir)}]")
        if name is None:
            for known in DATASETS:
                _describe_files(known, root)
            return
        check_name(name)
        if not _describe_files(name, root):
            raise typer.Exit(1)
        _describe_contents(name, root)

    app.add_typer(data_app, name="data")
