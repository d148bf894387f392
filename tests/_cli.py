"""Run the `dn` command in-process, as a user would from a shell: exit code, stdout, stderr."""

from __future__ import annotations

import sys

from dn import cli


def run_dn(args: list[str], monkeypatch, capsys) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["dn", *args])
    code = 0
    try:
        cli.main()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def dn_lines(err: str) -> list[str]:
    """The non-empty lines of stderr."""
    return [line for line in err.splitlines() if line.strip()]
