"""SIGINT and SIGTERM stop `dn train` cleanly: state saved, one line, exit code 128 + signal.

A signal arriving in the middle of a minibatch cannot save a consistent state, so the handlers
installed by :func:`graceful_stop` only record it. The training loop asks :func:`requested`
between epochs: a condition stack then writes its checkpoint (atomically, as every file) and
calls :func:`check`, which raises :class:`Stopped`; a pruning round in progress is abandoned
(the rounds before it are on disk). :func:`graceful_stop` turns that into one line saying how
to resume and exits with 130 (SIGINT) or 143 (SIGTERM), as a shell reports a killed process.

The first signal also puts the previous handler back, so a second Ctrl-C stops at once (the
run still resumes from its last checkpoint). A signal the process inherited as ignored (a
background job of a script) stays ignored.
"""

from __future__ import annotations

import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received: list[int] = []


class Stopped(Exception):
    """Training stopped on a signal after saving its state; not an error of the user's."""

    def __init__(self, signum: int):
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")


def requested() -> int | None:
    """The signal asking to stop, if one has arrived."""
    return _received[0] if _received else None


def check() -> None:
    """Raise :class:`Stopped` if a signal has arrived (call it where the state on disk is whole)."""
    if _received:
        raise Stopped(_received[0])


def resume_line(stop: Stopped, folder: Path, argv: list[str] | None = None) -> str:
    command = shlex.join(["dn", *(sys.argv[1:] if argv is None else argv)])
    return (f"dn: {stop} with its state saved in {folder}; to resume, run the same command with the "
            f"same --out: {command}")


@contextmanager
def graceful_stop(folder: Path) -> Iterator[None]:
    """Within: SIGINT/SIGTERM set a flag; a :class:`Stopped` leaving it prints one line and exits."""
    if threading.current_thread() is not threading.main_thread():  # only it may set handlers
        yield
        return
    previous: dict[int, object] = {}

    def handler(signum: int, frame: object) -> None:
        if not _received:
            _received.append(signum)
        for sig, old in previous.items():
            signal.signal(sig, old)  # type: ignore[arg-type]

    _received.clear()
    for sig in SIGNALS:
        old = signal.getsignal(sig)
        if old is not signal.SIG_IGN:
            previous[sig] = signal.SIG_DFL if old is None else old  # None: set outside Python
            signal.signal(sig, handler)
    try:
        yield
    except Stopped as stop:
        print(resume_line(stop, folder), file=sys.stderr, flush=True)
        raise SystemExit(stop.exit_code) from None
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)  # type: ignore[arg-type]
        _received.clear()
