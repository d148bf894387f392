"""`dn data download`: fetch the official files into torchvision's layout, verified by md5.

Files are written to a temporary name and renamed only after their md5 matches, so an interrupted
or tampered download never leaves a file that looks complete.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tarfile
import urllib.request
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import IO

from dn_data.cifar import CIFAR10_SPEC, MAX_BATCH_BYTES
from dn_data.locate import resolve_data_dir
from dn_data.registry import FASHION_SPEC, FILE_SPECS, MNIST_SPEC, check_name
from results.errors import DnError
from results.store import replacing

TIMEOUT_S = 60
CHUNK = 1 << 20

MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "http://yann.lecun.com/exdb/mnist/")
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
FASHION_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                   "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/")
FASHION_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _Mismatch(Exception):
    pass


def _write_atomically(dest: Path, fill: Callable[[IO[bytes]], str], md5: str | None) -> None:
    """Write via `fill` (which returns the md5 it wrote) to a temp file, check, then rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with replacing(dest, suffix=".part") as f:
        got = fill(f)
        if md5 is not None and got != md5:
            raise _Mismatch(f"md5 {got}, expected {md5}")


def _copy(src: IO[bytes], dst: IO[bytes]) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for chunk in iter(lambda: src.read(CHUNK), b""):
        digest.update(chunk)
        dst.write(chunk)
    return digest.hexdigest()


def fetch(url: str, dest: Path, md5: str) -> None:
    """Download `url` to `dest` atomically, keeping it only if its md5 matches."""
    request = urllib.request.Request(url, headers={"User-Agent": "dn-data/0.1"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        _write_atomically(dest, lambda f: _copy(response, f), md5)


def _fetch_any(urls: list[str], dest: Path, md5: str, dataset: str, log: Log) -> None:
    """Try each mirror in turn; one line naming every failure if none works."""
    if dest.is_file() and md5_of(dest) == md5:
        log(f"{dest} already present (md5 ok)")
        return
    reasons = []
    for url in urls:
        log(f"downloading {url}")
        try:
            fetch(url, dest, md5)
            log(f"wrote {dest} (md5 ok)")
            return
        except (OSError, http.client.HTTPException, ValueError, _Mismatch) as err:
            reasons.append(f"{url}: {err}".replace("\n", " "))
    raise DnError(
        f"could not download {dest.name} for {dataset} ({'; '.join(reasons)}); check the "
        f"network, or copy the file by hand into {dest.parent} (or point --data-dir or "
        f"$DN_DATA_DIR at a folder that has it)"
    )


def extract_safely(tar_path: Path, root: Path, top: str) -> list[Path]:
    """Extract regular files under `top/` only; refuse absolute paths, `..`, links and devices."""
    written = []
    base = root.resolve()
    try:
        with tarfile.open(tar_path, "r:*") as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts
                if (member.name.startswith(("/", "\\")) or ".." in parts or not parts
                        or parts[0] != top):
                    raise DnError(f"{tar_path} holds an unsafe or unexpected path "
                                  f"{member.name!r}; refusing to extract it")
                if member.isdir():
                    continue
                if not member.isfile():
                    raise DnError(f"{tar_path} holds a link or special file {member.name!r}; "
                                  f"refusing to extract it")
                dest = root.joinpath(*parts)
                if base not in dest.resolve().parents:
                    raise DnError(f"{tar_path}: {member.name!r} would land outside {root}")
                src = tar.extractfile(member)
                assert src is not None  # regular files always have contents
                _write_atomically(dest, lambda f, s=src: _copy(s, f), None)
                written.append(dest)
    except (tarfile.TarError, EOFError, OSError) as err:
        raise DnError(f"{tar_path} is damaged ({err}); delete it and run "
                      f"`dn data download cifar10` again") from None
    return written


def _download_idx(dataset: str, folder: Path, mirrors: tuple[str, ...], md5s: dict[str, str],
                  log: Log) -> Path:
    for name, md5 in md5s.items():
        _fetch_any([m + name for m in mirrors], folder / name, md5, dataset, log)
    return folder


def _cifar_present(folder: Path) -> bool:
    found = CIFAR10_SPEC.scan(folder)
    return all(p is not None and 30_000_000 <= p.stat().st_size <= MAX_BATCH_BYTES
               for p in found.values())


def _download_cifar10(root: Path, log: Log) -> Path:
    folder = root / CIFAR10_SPEC.folders[0]
    if _cifar_present(folder):
        log(f"{folder} already holds all CIFAR-10 batches; nothing to download")
        return folder
    tar_path = root / "cifar-10-python.tar.gz"
    _fetch_any([CIFAR10_URL], tar_path, CIFAR10_MD5, "cifar10", log)
    log(f"extracting {tar_path}")
    extract_safely(tar_path, root, CIFAR10_SPEC.folders[0])
    if not _cifar_present(folder):
        raise DnError(f"{tar_path} did not contain every CIFAR-10 batch; delete it and retry")
    tar_path.unlink()
    log(f"wrote {folder}")
    return folder


def download_dataset(name: str, data_dir: str | os.PathLike | None = None,
                     log: Log | None = None) -> Path | None:
    """Fetch `name` into the data folder; returns the folder, or None for bundled datasets.

    Nothing is fetched when a complete copy is already found elsewhere (for example Debian's
    /usr/share/datasets/fashion-mnist); files in the download folder are re-fetched only when
    their md5 (MNIST, Fashion-MNIST) or size (CIFAR-10) is wrong.
    """
    check_name(name)
    log = log or _quiet
    spec = FILE_SPECS[name]
    if spec is None:
        log(f"{name} is bundled with scikit-learn; there is nothing to download")
        return None
    root = resolve_data_dir(data_dir)
    try:
        found, _ = spec.find(root)
    except DnError:
        found = None
    if found is not None and found != root / spec.folders[0]:
        log(f"{name} is already available in {found}; nothing to download")
        return found
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DnError(f"cannot create the data folder {root}: {err.strerror or err}; "
                      f"choose another with --data-dir or $DN_DATA_DIR") from None
    if name == "mnist":
        return _download_idx(name, root / MNIST_SPEC.folders[0], MNIST_MIRRORS, MNIST_MD5, log)
    if name == "fashion-mnist":
        return _download_idx(name, root / FASHION_SPEC.folders[0], FASHION_MIRRORS,
                             FASHION_MD5, log)
    if name == "cifar10":
        return _download_cifar10(root, log)
    raise DnError(f"{name} has no download recipe; put its files under {root} by hand")
