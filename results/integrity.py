"""Checksums written alongside every file, so a damaged file is named, never half-read.

Every file :mod:`results.store` writes gets a sidecar ``<name>.sha256`` (one JSON line: the
file's sha256 and size). The sidecar is written *before* the file and remembers the hash of the
version it replaces, so a crash (or a full disk) between the two writes leaves an old, complete
file that still verifies. On read, a file that matches neither hash is damaged; a file without
a sidecar (a folder made before checksums) is read unverified, and only a parse error makes it
damaged.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from results.errors import DnError

SUFFIX = ".sha256"


class DamagedFile(DnError):
    """A file whose bytes do not match its recorded checksum, or that does not parse."""

    def __init__(self, path: Path, reason: str, advice: str | None = None):
        self.path, self.reason = Path(path), reason
        advice = advice or "delete it and run the command that wrote it again"
        super().__init__(f"{path} is damaged ({reason}); {advice}")

    def advise(self, advice: str) -> DamagedFile:
        """The same damage with what to do about this particular file."""
        return DamagedFile(self.path, self.reason, advice)


def sidecar(path: Path) -> Path:
    return Path(path).with_name(Path(path).name + SUFFIX)


def is_sidecar(path: Path) -> bool:
    return Path(path).name.endswith(SUFFIX)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _record(path: Path) -> dict | None:
    """The sidecar's content, or None when it is missing or unreadable (then: unverified)."""
    try:
        record = json.loads(sidecar(path).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("sha256"), str) else None


def sidecar_bytes(path: Path, data: bytes) -> bytes:
    """The sidecar for `data` about to replace `path`; it keeps the hash of what it replaces."""
    old = _record(path)
    previous = {"sha256": old["sha256"], "bytes": old.get("bytes")} if old else None
    record = {"file": Path(path).name, "sha256": digest(data), "bytes": len(data), "previous": previous}
    return (json.dumps(record) + "\n").encode()


def recorded_hash(path: Path) -> str | None:
    """The sha256 the sidecar records for the current version of `path` (None: none recorded)."""
    record = _record(path)
    return record["sha256"] if record else None


def verify(path: Path, data: bytes) -> bool:
    """True if `data` matches the recorded checksum, False if none is recorded; else raise."""
    record = _record(path)
    if record is None:
        return False
    found = digest(data)
    previous = record.get("previous") or {}
    if found in (record["sha256"], previous.get("sha256")):
        return True
    expected = record.get("bytes")
    size = f"{len(data)} bytes, {expected} recorded" if expected is not None else f"{len(data)} bytes"
    raise DamagedFile(path, f"sha256 mismatch: {size}")


def remove(path: Path) -> None:
    """Delete a file and its sidecar."""
    Path(path).unlink(missing_ok=True)
    sidecar(path).unlink(missing_ok=True)


def notice(message: str) -> None:
    """One line on stderr, above any progress bar."""
    from tqdm.auto import tqdm

    tqdm.write(f"dn: {message}", file=sys.stderr)
