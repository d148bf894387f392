"""Where dataset files live: the data folder, each dataset's expected files, reading with hashes.

The data folder is chosen once (flag, then env, then a per-user cache) so training, `dn data
download` and `dn data info` always agree on where to look.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from results.errors import DnError

ENV_VAR = "DN_DATA_DIR"

# Roots that OS dataset packages install into, searched after the user's data folder; Debian's
# `dataset-fashion-mnist` puts its files in /usr/share/datasets/fashion-mnist/.
SYSTEM_DATA_ROOTS: tuple[Path, ...] = (Path("/usr/share/datasets"),)


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    """The data folder: the flag if given, else $DN_DATA_DIR, else the per-user cache.

    A file in its place is refused here, once for every command, because the search that follows
    would otherwise report the datasets (or the folder) as missing and hide the real mistake.
    """
    env = os.environ.get(ENV_VAR, "")
    if data_dir is not None and str(data_dir) != "":
        root = Path(data_dir).expanduser().absolute()
    elif env:
        root = Path(env).expanduser().absolute()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        cache = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
        root = cache / "dn" / "datasets"
    if root.is_file():
        origin = data_dir_origin(data_dir)
        which = origin if origin.startswith(("--", "$")) else f"--data-dir or ${ENV_VAR}"
        raise DnError(f"{root} is a file, not a folder; point {which} at the folder that holds the datasets")
    return root


def data_dir_origin(data_dir: str | os.PathLike | None) -> str:
    """Why :func:`resolve_data_dir` picked its folder (for `dn data info`)."""
    if data_dir is not None and str(data_dir) != "":
        return "--data-dir"
    if os.environ.get(ENV_VAR, ""):
        return f"${ENV_VAR}"
    return "per-user cache (no --data-dir, no $DN_DATA_DIR)"


def read_hashed(path: Path) -> tuple[bytes, str]:
    """A file's bytes and sha256, read once: the hash is provenance for run reports."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DnError(f"cannot read {path}: {err.strerror or err}; check its permissions") from None
    return data, hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class FileSpec:
    """The files one dataset needs and the folders (relative to a data root) that may hold them."""

    dataset: str
    folders: tuple[str, ...]  # the first is where `dn data download` writes
    files: tuple[tuple[str, ...], ...]  # per needed file: accepted names, preferred first
    note: str = ""  # how alternatives are accepted, for messages

    def candidates(self, root: Path) -> list[Path]:
        """Folders to search, in order: the user's root, then OS package roots."""
        roots = [root] + [r for r in SYSTEM_DATA_ROOTS if r != root]
        return [r / f for r in roots for f in self.folders]

    def scan(self, folder: Path) -> dict[str, Path | None]:
        """Each needed file (by preferred name) -> the accepted variant present, or None."""
        found: dict[str, Path | None] = {}
        for names in self.files:
            found[names[0]] = next((folder / n for n in names if (folder / n).is_file()), None)
        return found

    def find(self, root: Path) -> tuple[Path, dict[str, Path]]:
        """The first candidate folder holding every file, or a DnError that says what is missing."""
        partial: tuple[Path, list[str]] | None = None
        for folder in self.candidates(root):
            found = self.scan(folder)
            missing = [k for k, v in found.items() if v is None]
            if not missing:
                return folder, {k: v for k, v in found.items() if v is not None}
            if partial is None and len(missing) < len(found):
                partial = (folder, missing)
        raise DnError(self.missing_message(root, partial))

    def missing_message(self, root: Path, partial: tuple[Path, list[str]] | None) -> str:
        where = ", ".join(str(p) for p in self.candidates(root))
        expected = ", ".join(names[0] for names in self.files)
        extra = f" {self.note}" if self.note else ""
        detail = ""
        if partial is not None:
            detail = f"; {partial[0]} lacks {', '.join(partial[1])}"
        elif not root.is_dir():
            detail = f"; the data folder {root} does not exist"
        return (
            f"{self.dataset} data not found: looked in {where} for {expected}{extra}{detail}; "
            f"run `dn data download {self.dataset}`, or point --data-dir or ${ENV_VAR} at a folder "
            f"that holds {self.folders[0]}/"
        )
