"""The `dn` command: one Typer app that gathers the sub-commands of each package.

User errors (`DnError`, `ValueError`, a missing file) and failed writes (a full disk, no permission, a read-only
folder: `OSError`, named by folder and cause) become one line on stderr and exit code 2, never a
traceback.
"""

from __future__ import annotations

import sys

import typer

from results.errors import script_main

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    help="Study D_n, the distribution of initial weights that survive iterative magnitude pruning.",
)


_registered = False


def _register() -> None:
    """Import each package's commands lazily so one broken part cannot hide the others' help."""
    import importlib

    global _registered
    if _registered:
        return
    _registered = True

    for module in ("train.cli", "importers.cli", "studies.cli", "dn_analysis.cli", "reports.cli", "dn.demo"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name == module:
                continue  # that part is not built yet
            raise
        mod.register(app)


def main() -> None:
    _register()
    code = script_main(app, prefix="dn: error")
    if code:
        sys.exit(code)


if __name__ == "__main__":
    main()
