"""The one exception type the command line turns into a one-line message.

Anything a user can cause (bad settings, missing data, a folder made with another config, a
full disk) raises :class:`DnError` with a sentence that says what is wrong and how to fix it.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable
from pathlib import Path


class DnError(Exception):
    """A user-facing error: the message is printed on one line, without a traceback."""


_CAUSES = {
    errno.ENOSPC: ("no space left on device", "free some space there"),
    errno.EDQUOT: ("disk quota exceeded", "free some space there"),
    errno.EFBIG: ("file too large (a file-size limit, see `ulimit -f`)", "lift the limit"),
    errno.EACCES: ("permission denied", "make it writable"),
    errno.EPERM: ("operation not permitted", "make it writable"),
    errno.EROFS: ("read-only file system", "remount it writable"),
}


class StorageError(DnError):
    """Writing to a folder failed (disk full, no permission, read-only): the folder and the cause."""

    def __init__(self, folder: Path, err: OSError):
        self.folder, self.errno = Path(folder), err.errno
        cause, fix = _CAUSES.get(err.errno, (err.strerror or str(err), "fix that"))
        super().__init__(
            f"cannot write to {folder}: {cause}; {fix} or choose another folder, then run the same "
            "command again (nothing already written was lost: files are replaced only when complete)"
        )


def storage_error(err: OSError, path: Path | str | None = None) -> StorageError:
    """A :class:`StorageError` for `err`, naming the folder of `path` (or of the error's file)."""
    target = Path(path or err.filename or ".")
    folder = target if target.is_dir() else target.parent
    return StorageError(folder, err)


def user_message(err: BaseException) -> str | None:
    """The one line a user sees for `err`; None for anything else (a bug keeps its traceback).

    User errors (`DnError`, `ValueError`, a missing file) say themselves; a failed write
    (`OSError`) is named by its folder and cause. `dn` and the `python -m` scripts share this.
    """
    if isinstance(err, DnError | ValueError | FileNotFoundError):
        return str(err)
    if isinstance(err, OSError):
        return str(storage_error(err))
    return None


def script_main(work: Callable[[], object], prefix: str = "error") -> int:
    """The exit code of `work`: 0, or 2 with a user error as one line `<prefix>: <message>`.

    The guard of `dn` itself and of the `python -m` scripts. What `user_message` names (a
    `ValueError` too, which settings raise) becomes that line; anything else keeps its traceback.
    """
    try:
        work()
    except Exception as err:
        message = user_message(err)
        if message is None:
            raise
        print(f"{prefix}: {message}", file=sys.stderr)
        return 2
    return 0
