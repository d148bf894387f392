"""Names a report may print: experiments across several run folders, and paths without the machine's."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path


def display_path(path: str | Path) -> str:
    """`path` as given when relative; relative to the current folder when inside it; else its last part."""
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    try:
        rel = Path(os.path.relpath(p.resolve(), Path.cwd().resolve()))
    except ValueError:  # another drive (Windows)
        return p.name
    return rel.as_posix() if not rel.as_posix().startswith("..") else p.name


def experiment_keys(entries: list[tuple[Path, str, dict]]) -> list[str]:
    """One distinct name per (folder, experiment name, experiment config).

    The experiment's name when only one folder has it; else `<name>-<protocol>`; else
    `<name>-<folder name>` (two folders with the same experiment and protocol).
    """
    names = Counter(name for _, name, _ in entries)
    protocols = Counter((name, cfg.get("protocol", "text")) for _, name, cfg in entries)
    out = []
    for d, name, cfg in entries:
        protocol = cfg.get("protocol", "text")
        out.append(name if names[name] == 1 else f"{name}-{protocol}" if protocols[(name, protocol)] == 1
                   else f"{name}-{Path(d).name}")
    return out
