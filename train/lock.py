"""An exclusive lock on a results folder, so that two `dn train` never write the same --out.

Two processes resuming one folder would train the same pieces and replace each other's files;
each file stays whole (atomic writes), but checkpoints and markers could come from different
processes. So `dn train` holds ``DIR/lock`` while it runs: a file created with O_EXCL that holds
one JSON object ``{"pid", "host", "started"}``, on which the holder also keeps an
``fcntl.flock``. The kernel drops the flock when the holder dies, however it dies, so:

* flock held by another process: the folder is in use; refused, naming the holder's pid;
* flock free, holder's pid alive on this host (or on another host, where it cannot be checked):
  refused as well, with the lock file's path, to delete if that process is not a `dn train`;
* flock free, holder's pid gone on this host (``os.kill(pid, 0)`` raises ProcessLookupError),
  or the file unreadable (its writer died before finishing it): stale, taken over, one line.

The lock is removed when the run ends, normally or not (a context manager).
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from results.errors import DnError, storage_error
from results.integrity import notice

try:
    import fcntl
except ImportError:  # not on Windows: O_EXCL and the pid check alone
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = "lock"
F = TypeVar("F", bound=Callable[..., Any])


class FolderInUse(DnError):
    """Another `dn train` holds the results folder."""

    def __init__(self, path: Path, holder: dict | None):
        self.holder = holder or {}
        pid, host = self.holder.get("pid", "?"), self.holder.get("host", "?")
        since = self.holder.get("started", "an unknown time")
        super().__init__(
            f"{path.parent} is in use by another `dn train` (process {pid} on {host}, since {since}); "
            f"wait for it to finish or stop it, or choose another --out (if process {pid} is not a "
            f"`dn train` on this folder, delete {path})")


def _flock(fd: int) -> bool:
    """Take the flock without waiting; False if another open file holds it."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(fd: int) -> dict | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = json.loads(os.read(fd, 4096).decode())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("pid"), int) else None


def _alive(holder: dict) -> bool:
    """Whether the holder may still run: only a pid gone on this very host is known dead."""
    if holder.get("host") != socket.gethostname() or os.name == "nt":  # os.kill(pid, 0) kills there
        return True
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _write_holder(fd: int) -> None:
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    data = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": started})
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, (data + "\n").encode())
    os.fsync(fd)


def _same_file(fd: int, path: Path) -> bool:
    """The open file is still the one at `path` (its holder did not remove it meanwhile)."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def _acquire(path: Path) -> int:
    """Create or take over the lock file; return its descriptor, flocked. Raises FolderInUse."""
    for _ in range(10):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue  # released meanwhile: try to create it again
        else:
            if not _flock(fd):  # taken over between our create and flock: it is theirs now
                holder = _holder(fd)
                os.close(fd)
                raise FolderInUse(path, holder)
            _write_holder(fd)
            return fd
        holder = _holder(fd)
        if not _flock(fd) or (holder is not None and _alive(holder)):
            os.close(fd)
            raise FolderInUse(path, holder)
        if not _same_file(fd, path):
            os.close(fd)
            continue
        _write_holder(fd)
        if holder is None:
            notice(f"{path} was unreadable (its writer died while creating it); took the lock over")
        else:
            notice(f"{path} was left by process {holder['pid']} on {holder['host']}, which no longer "
                   "exists; took the lock over")
        return fd
    raise DnError(f"could not take the lock {path}: other processes keep creating and removing it")


@contextmanager
def hold(folder: Path) -> Iterator[Path]:
    """Hold the lock of `folder` (created if missing; removed again if left empty)."""
    folder = Path(folder)
    created = not folder.exists()
    path = folder / LOCK_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = _acquire(path)
    except BaseException as err:
        _remove_empty(folder, created)
        if isinstance(err, OSError):
            raise storage_error(err, path) from err
        raise
    try:
        yield path
    finally:
        if _same_file(fd, path):
            path.unlink(missing_ok=True)
        os.close(fd)  # drops the flock
        _remove_empty(folder, created)


def _remove_empty(folder: Path, created: bool) -> None:
    if created and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def holding_out(fn: F) -> F:
    """Run `fn` holding the lock of its `out` argument (keeps the lock out of `fn`'s body)."""
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with hold(Path(signature.bind(*args, **kwargs).arguments["out"])):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
