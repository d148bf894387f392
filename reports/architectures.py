"""The report's "D_n across architectures" section, read from `dn analyze architectures --out DIR`.

The analysis fits DnModel on every run (minutes), so the report reads its output folder
(architectures.json) instead of fitting again; every number and verdict in the section comes
from that file, and the sentences are the analysis's own (dn_analysis/architectures/report.py).
"""

from __future__ import annotations

from pathlib import Path

from dn_analysis.architectures.report import answer, pair_sentence
from reports.doc import Block, Bullets, Heading, Para, Table
from results.errors import DnError
from results.store import read_json

FILE = "architectures.json"


HEADERS = ["experiment", "pruning", "shelves (raw, init stds)", "modes predicted / measured (init stds)",
           "no-drift KS / noise floor", "DnModel KS / noise floor"]


def _num(v, digits: int) -> str:
    return "n/a" if not isinstance(v, (int, float)) else f"{v:.{digits}f}"


def _row(r: dict) -> list[str]:
    measured = r["modes_measured_std"] if r["modes_measured_std"] not in (None, "") else "n/a"
    return [r["label"], f"{r['init']}, {r['scope']} {r['rates']}, round {r['round']}",
            f"{r['shelves_raw']}, {r['shelves_std']}", f"{r['modes_predicted_std']} / {measured}",
            _num(r["ratio_pred_std"], 1), _num(r["ratio_dn_std"], 2)]


def read(folders: list[str | Path]) -> tuple[list[dict], list[dict]]:
    """The experiments and pairs of one or more `dn analyze architectures` output folders."""
    rows: list[dict] = []
    pairs: list[dict] = []
    for folder in folders:
        path = Path(folder) / FILE
        if not path.exists():
            raise DnError(f"{path} is missing: run `dn analyze architectures --runs RUN ... --out {folder}` first")
        data = read_json(path)
        rows += data["experiments"]
        pairs += data["pairs"]
    return rows, pairs


def section(folders: list[str | Path]) -> list[Block]:
    """The section's blocks; DnError naming the file when an analysis is missing."""
    rows, pairs = read(folders)
    blocks: list[Block] = [
        Heading("D_n across architectures", 2),
        Para("Is D_n the same across architectures, and does it have a formula given D_θ? The no-drift model "
             "predicts each network's D_n from its layer shapes, init and pruning rates alone, before training "
             "(docs/architectures.md); it is then measured against θ_LT, DnModel (fitted on trial 0, scored on "
             "the others) and the noise floor between two trials of the same run. " + answer(rows, pairs)[0]),
        Table(HEADERS, [_row(r) for r in rows], caption="D_n predicted from shapes and init, against the tickets "
              "(round of each run's last ticket; ratios in units of the run's noise floor).",
              widths=[2.4, 2.6, 1.0, 1.2, 1.0, 1.0]),
    ]
    if pairs:
        blocks.append(Bullets([pair_sentence(p).removeprefix("- ") for p in pairs]))
    return blocks
