"""What to do about a damaged file of a results folder: one rule, shared by every reader.

A file is damaged when it does not match its checksum sidecar or does not parse
(:mod:`results.integrity`). The fix depends on the folder, not on the reader: a run still training
rewrites the file when the same `dn train` resumes it (train/recovery.py); a finished run, or a
compact copy made by `dn export`, is an archive that `dn train` must not touch, so the fix is a
backup or a new export. The tables are derivable and are rebuilt instead (results/tables.py).
"""

from __future__ import annotations

from pathlib import Path

from results.schema import CARRY, CONFIG, DONE, FITTED, LAYERS, STATE, STATS_FILE, TICKETS, TRAINED

RESUME = "re-run the same `dn train` with this --out, which writes it again"
RESTORE = "restore it from a backup or version control"
EXPORT = f"{RESTORE}, or export it again from the raw run with `dn export`"
REMEDIES = {"resumable": RESUME, "finished": RESTORE, "compact": EXPORT}
CONFIG_REMEDY = ("it holds the run's settings and nothing else does: restore it from a backup or version "
                 "control (a copy made by `dn export`: export it again from the raw run)")
TABLES = {
    "metrics.csv": "every epoch's losses and test accuracy of every condition model",
    "pruning_metrics.csv": "every epoch's losses and test accuracy of the pruning rounds",
    "summary.csv": "each condition's best trial-averaged accuracy and loss",
    "paired.csv": "each condition's paired differences to its references",
}


def _trial(path: Path) -> str:
    return path.stem[5:] if path.stem.startswith("trial") else "?"


def holds(run: Path, path: Path) -> str:
    """What `path`, a file of the results folder `run`, holds, in a few words for a message."""
    path = Path(path)
    exp = path.parent.parent.name if path.parent.name in (TICKETS, TRAINED, DONE, CARRY, FITTED, STATE) \
        else path.parent.name
    folder = path.parent.name
    if path.name == CONFIG:
        return "the run's settings"
    if path.name in TABLES and path.parent == Path(run):
        return TABLES[path.name]
    if path.name == LAYERS:
        return f"the shapes and init scales of the prunable layers of {exp}"
    if path.name == STATS_FILE:
        return f"the training statistics of {exp} that DnModel is fitted from"
    kinds = {
        TICKETS: f"trial {_trial(path)}'s θ0 and masks of {exp}",
        TRAINED: f"trial {_trial(path)}'s trained weights of the pruning rounds of {exp}",
        CARRY: f"the biases a chained condition run of {exp} ended with",
        FITTED: f"the DnModel that {exp}'s `fitted` condition draws from",
        STATE: f"a resume checkpoint of {exp}",
        DONE: (f"the completion marker of the pruning rounds of {exp}" if path.stem == "pruning"
               else f"the completion marker of a condition stack of {exp}"),
    }
    return kinds.get(folder, "part of this run")


def remedy(run: Path, path: Path, state: str) -> str:
    """The advice for a damaged `path` of the results folder `run`: what it holds, and the fix.

    `state`: "resumable" (the same `dn train` rewrites it), "finished" or "compact" (a copy made by
    `dn export`): archives that `dn train` must not touch, restored from a backup or exported again.
    """
    if Path(path).name == CONFIG and Path(path).parent == Path(run):
        return CONFIG_REMEDY
    return f"it holds {holds(run, path)}: {REMEDIES[state]}"
