"""Rewrite a document's architectures block: ``python -m dn_analysis.architectures docs/architectures.md``.

The runs are those named on the block's begin marker unless --runs is given; every number comes
from the same computation as `dn analyze architectures` (whose output folder is not written here).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from dn_analysis.architectures.cli import command_line, model_settings
    from dn_analysis.architectures.report import block_runs, markdown, rewrite_block
    from dn_analysis.architectures.rows import analyze
    from results.errors import DnError

    parser = argparse.ArgumentParser(prog="python -m dn_analysis.architectures", description=__doc__)
    parser.add_argument("doc", type=Path)
    parser.add_argument("--runs", nargs="+", default=None)
    parser.add_argument("--round", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-model", action="store_true")
    args = parser.parse_args(argv)
    try:
        if not args.doc.is_file():
            raise DnError(f"{args.doc} is not a file")
        runs = args.runs or block_runs(args.doc.read_text())
        if not runs:
            raise DnError(f"{args.doc}'s begin marker names no runs; give --runs")
        rows, pairs = analyze(runs, args.round, model_settings(args.quick), not args.no_model)
        text = markdown(rows, pairs, command_line(runs, args.round, args.quick, not args.no_model))
        rewrite_block(args.doc, text, runs)
    except (DnError, ValueError) as err:
        print(f"dn: error: {err}", file=sys.stderr)
        return 1
    print(f"rewrote {args.doc} from {len(rows)} experiment(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
