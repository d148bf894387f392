"""The report's "D_n across architectures" section, read from `dn analyze architectures --out DIR`.

The analysis fits DnModel on every run (minutes), so the report reads its output folder
(architectures.json) instead of fitting again; every number and verdict in the section comes
from that file, and the sentences are the analysis's own (dn_analysis/architectures/report.py).
"""

from __future__ import annotations

from pathlib import Path

from dn_analysis.architectures.report import answer, pair_table
from results.errors import DnError
from results.store import read_json

FILE = "architectures.json"


def _compact_table(rows: list[dict]) -> list[str]:
    """One line per experiment: what the report needs (the full tables are in the analysis folder)."""
    def f(v, digits: int) -> str:
        return "n/a" if not isinstance(v, (int, float)) else f"{v:.{digits}f}"

    out = ["| experiment | pruning | shelves (raw, init stds) | modes predicted / measured (init stds) "
           "| no-drift KS / noise floor | DnModel KS / noise floor |", "|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['label']} | {r['init']}, {r['scope']} {r['rates']}, round {r['round']} "
                   f"| {r['shelves_raw']}, {r['shelves_std']} | {r['modes_predicted_std']} / "
                   f"{r['modes_measured_std'] if r['modes_measured_std'] not in (None, '') else 'n/a'} "
                   f"| {f(r['ratio_pred_std'], 1)} | {f(r['ratio_dn_std'], 2)} |")
    return out


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


def section(folders: list[str | Path]) -> list[str]:
    """Markdown lines of the section; DnError naming the file when an analysis is missing."""
    rows, pairs = read(folders)
    lines = ["## D_n across architectures", "",
             "Is D_n the same across architectures, and does it have a formula given D_θ? The no-drift model "
             "predicts each network's D_n from its layer shapes, init and pruning rates alone, before training "
             "(docs/architectures.md); it is then measured against θ_LT, DnModel (fitted on trial 0, scored on "
             "the others) and the noise floor between two trials of the same run.", "",
             answer(rows, pairs)[0], "", *_compact_table(rows)]
    if pairs:
        lines += ["", "Networks pruned the same way, in init-std units:", "", *pair_table(pairs)]
    return lines
