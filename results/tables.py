"""The run-level tables (metrics, pruning metrics, summary, paired), and their rebuild from done/ markers.

Every row of metrics.csv and pruning_metrics.csv is also kept in the done/ marker of the piece
that trained it, and summary.csv and paired.csv are computed from metrics.csv, so a damaged or
deleted table is derivable: it is rebuilt from the markers with one line saying so, and the same
`dn train` rewrites the file. A compact copy (`dn export`) keeps no rows in its markers, so there
a damaged table is damage like any other file's (results/remedy.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from results.integrity import DamagedFile, notice
from results.labels import experiment_of, with_labels
from results.schema import METRICS, PAIRED, PRUNING_METRICS, SUMMARY
from results.store import read_json

TABLES = (METRICS, PRUNING_METRICS, SUMMARY, PAIRED)


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


def table_from_markers(out: Path, experiments: list[Mapping], damage: DamagedFile,
                       remedy: Callable[[Path], str], quiet: bool = False) -> list[dict]:
    """The damaged (or deleted) table `damage.path`, rebuilt from the done/ markers of `out`.

    `experiments` are config.json's experiment entries; `remedy(path)` is the advice for a damaged
    file of this folder, given when a marker the table is rebuilt from is damaged too. `quiet`
    leaves out the line on stderr (a reader that only counts rows).
    """
    try:
        metrics, pruning = collect_rows(out, [experiment_of(e) for e in experiments])
    except DamagedFile as err:
        raise err.advise(f"{remedy(err.path)}; {damage.path} ({damage.reason}) is rebuilt from it") from err
    with_labels(metrics, list(experiments))
    name = damage.path.name
    if name == PAIRED:
        from results.paired import paired_rows

        rows = paired_rows(metrics)
    elif name == SUMMARY:
        from results.summary import summarize

        rows = summarize(metrics)
    else:
        rows = {METRICS: metrics, PRUNING_METRICS: pruning}[name]
    if not quiet:
        notice(f"{damage.path} is damaged ({damage.reason}); using its rows rebuilt from the done/ markers")
    return rows
