"""Atomic, pickle-free, checksummed files.

Every write goes to a temporary name and is renamed into place, after its checksum sidecar
(`results.integrity`): a crash or a full disk can leave a stray temporary file, never a
half-written result, and a damaged file is reported by name instead of being half-read.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np

from results.errors import DnError, storage_error
from results.integrity import DamagedFile, digest, recorded_hash, sidecar, sidecar_bytes, verify


def _write_file(handle, data: bytes, path: Path) -> None:
    """Write `data` (to become `path`) and flush it to disk; a seam for fault-injection tests."""
    handle.write(data)
    handle.flush()
    os.fsync(handle.fileno())


@contextmanager
def replacing(path: Path, suffix: str = ".tmp") -> Iterator[BinaryIO]:
    """A handle to a temporary sibling of `path`, flushed and renamed onto it if the block ends
    cleanly, removed if it raises: the one way `dn` replaces a file (results, samplers, datasets)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def whole_folder(target: Path, keep: bool = False, owns: tuple[str, ...] = ()) -> Iterator[Path]:
    """A temporary sibling folder of `target` (``.<name>.tmp-<pid>``) to write an output into, put in
    place of `target` if the block ends cleanly and removed if it raises: an output folder is there
    whole or not at all, and an earlier one stays exactly as it was until the new one is complete.

    `keep` starts the new folder as a copy of the old one (a command that rewrites only its own part
    of a shared folder, as each `dn analyze` section does). `owns`: names of which at least one marks
    an earlier output of the command; an existing non-empty folder without any is refused, so an
    --out pointing at some other folder never replaces it.
    """
    target = Path(os.path.abspath(target))  # `.` and `..` have a name too
    if target.exists() and not target.is_dir():
        raise DnError(f"{target} is a file, not a folder; give --out a folder")
    if owns and target.is_dir() and any(target.iterdir()) and not any((target / n).exists() for n in owns):
        raise DnError(f"{target} holds other files than an earlier output of this command (none of "
                      f"{', '.join(owns)}); give --out a new folder")
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    made = not target.parent.exists()  # removed again on failure when it is left empty
    try:
        for stale in (tmp, old):  # left by an earlier process of the same id
            shutil.rmtree(stale, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        if keep and target.is_dir():
            shutil.copytree(target, tmp, symlinks=True)
        else:
            tmp.mkdir()
    except OSError as err:
        raise storage_error(err, target.parent) from err
    try:
        yield tmp
        if target.exists():
            os.replace(target, old)
        try:
            os.replace(tmp, target)
        except BaseException:
            if old.exists():
                os.replace(old, target)
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if made and not any(target.parent.iterdir()):
            target.parent.rmdir()
        raise
    shutil.rmtree(old, ignore_errors=True)


def _replace(path: Path, data: bytes) -> None:
    with replacing(path) as handle:
        _write_file(handle, data, path)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` by `data` whole, its checksum sidecar first.

    A failure (disk full, permission denied, read-only folder) raises a one-line
    :class:`~results.errors.StorageError` naming the folder; the old file stays complete and
    still verifies (the sidecar remembers the hash it replaced).
    """
    path = Path(path)
    if _unchanged(path, data):
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _replace(sidecar(path), sidecar_bytes(path, data))
        _replace(path, data)
    except OSError as err:
        raise storage_error(err, path.parent) from err


def _unchanged(path: Path, data: bytes) -> bool:
    """`path` already holds exactly `data`, as its sidecar records (a rewrite would change nothing)."""
    if recorded_hash(path) != digest(data):
        return False
    try:
        return path.read_bytes() == data
    except OSError:
        return False


def read_verified(path: Path) -> bytes:
    """The file's bytes, checked against its sidecar (FileNotFoundError passes through)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise
    except OSError as err:
        raise DamagedFile(path, f"unreadable: {err.strerror or err}") from err
    verify(path, data)
    return data


def write_json(path: Path, data: object, indent: int | None = 2) -> None:
    """Indented for files people read; `indent=None` for large tables (a DnModel's survival curves)."""
    atomic_write_bytes(path, (json.dumps(data, indent=indent, sort_keys=False) + "\n").encode())


def read_json(path: Path) -> object:
    data = read_verified(path)
    try:
        return json.loads(data.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DamagedFile(path, f"not valid JSON: {err}") from err


def write_npz(path: Path, arrays: Mapping[str, np.ndarray], compress: bool = False) -> None:
    buffer = io.BytesIO()
    save = np.savez_compressed if compress else np.savez
    save(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
    atomic_write_bytes(path, buffer.getvalue())


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Load every array of an .npz file; object arrays (pickles) are refused."""
    data = read_verified(path)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            return {k: arrays[k] for k in arrays.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as err:
        raise DamagedFile(path, f"not a valid .npz file: {err}") from err


def write_csv(path: Path, rows: Iterable[Mapping[str, object]], columns: list[str]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _fmt(row.get(c)) for c in columns})
    atomic_write_bytes(path, out.getvalue().encode())


def _fmt(value: object) -> object:
    if isinstance(value, float):
        return repr(value)
    return "" if value is None else value


def read_csv(path: Path) -> list[dict[str, object]]:
    """Rows with numbers parsed (int where integral text, else float), other cells as text.

    A row with missing or extra cells (a truncated file) makes the file damaged.
    """
    data = read_verified(path)
    try:
        rows = list(csv.DictReader(io.StringIO(data.decode(), newline="")))
    except (UnicodeDecodeError, csv.Error) as err:
        raise DamagedFile(path, f"not valid CSV: {err}") from err
    if data and not data.endswith(b"\n"):
        raise DamagedFile(path, "truncated: the last line is incomplete")
    for number, row in enumerate(rows, start=2):
        if None in row or None in row.values():
            raise DamagedFile(path, f"line {number} has {'more' if None in row else 'fewer'} cells than the header")
    return [{k: _parse(v) for k, v in row.items()} for row in rows]


def _parse(text: str) -> object:
    for cast in (int, float):
        try:
            return cast(text)
        except (TypeError, ValueError):
            pass
    return text
