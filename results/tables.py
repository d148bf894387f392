"""The run-level tables (metrics, pruning metrics, summary), and their rebuild from done/ markers.

Every row of metrics.csv and pruning_metrics.csv is also kept in the done/ marker of the piece
that trained it, so a damaged table is derivable: it is rebuilt from the markers with one line
saying so, and the same `dn train` rewrites the file.
"""

from __future__ import annotations

from pathlib import Path

from results.integrity import DamagedFile, notice
from results.store import read_json
from results.summary import summarize


def collect_rows(out: Path, experiments: list[str]) -> tuple[list[dict], list[dict]]:
    """Metric rows of every finished piece (the done/ markers), in experiment order."""
    metrics, pruning = [], []
    for name in experiments:
        done = out / name / "done"
        if (done / "pruning.json").exists():
            pruning += read_json(done / "pruning.json")["rows"]
        for marker in sorted(done.glob("train-*.json")):
            metrics += read_json(marker)["rows"]
    return metrics, pruning


def table_from_markers(out: Path, experiments: list[str], damage: DamagedFile) -> list[dict]:
    """A damaged metrics.csv, pruning_metrics.csv or summary.csv, rebuilt from the done/ markers."""
    try:
        metrics, pruning = collect_rows(out, experiments)
    except DamagedFile as err:
        raise damage.advise(f"and so is {err.path} ({err.reason}), which it is rebuilt from: re-run "
                            "the same `dn train` with this --out to recompute both") from err
    name = damage.path.name
    rows = {"metrics.csv": metrics, "pruning_metrics.csv": pruning}.get(name)
    rows = summarize(metrics) if rows is None else rows
    notice(f"{damage.path} is damaged ({damage.reason}); using its rows rebuilt from the done/ markers "
           "(the same `dn train` with this --out rewrites the file)")
    return rows
