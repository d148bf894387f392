"""Data layer tests: fast offline checks, plus real-data checks when the shared datasets exist."""

from __future__ import annotations

import functools
import gzip
import io
import os
import pickle
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from dn_data import DATASETS, Dataset, download_dataset, load_dataset, resolve_data_dir
from dn_data import download as dl
from dn_data.cifar import parse_batch
from dn_data.dataset import build
from results.errors import DnError

REAL = Path(os.environ.get("DN_TEST_DATA", Path(__file__).parents[2] / "shared" / "datasets"))
SET_DATA = "set DN_TEST_DATA to a folder holding MNIST and cifar-10-batches-py (see README)"
needs_mnist = pytest.mark.skipif(not (REAL / "MNIST" / "raw").is_dir(),
                                 reason=f"real data not found ({REAL / 'MNIST' / 'raw'}): {SET_DATA}")
needs_cifar = pytest.mark.skipif(not (REAL / "cifar-10-batches-py").is_dir(),
                                 reason=f"real data not found ({REAL / 'cifar-10-batches-py'}): {SET_DATA}")
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
IDX_NAMES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


@pytest.fixture(autouse=True)
def _no_ambient_data_dir(monkeypatch):
    """Tests must not depend on the caller's DN_DATA_DIR or cache."""
    monkeypatch.delenv("DN_DATA_DIR", raising=False)


@functools.lru_cache(maxsize=8)
def _idx_bytes(magic: int, dims: tuple[int, ...]) -> bytes:
    """A valid IDX file whose bytes cycle 0..9 (varied pixels, labels in range)."""
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    n = int(np.prod(dims))
    return header + bytes(range(10)) * (n // 10) + bytes(range(n % 10))


@functools.lru_cache(maxsize=2)
def _gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1)


def _write_mnist(folder: Path, n_train: int = 60000, n_test: int = 10000,
                 train_labels: int | None = None) -> None:
    """A well-formed MNIST-like dataset in torchvision's layout: images .gz, labels uncompressed."""
    folder.mkdir(parents=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        n_lab = n if split != "train" or train_labels is None else train_labels
        (folder / f"{split}-images-idx3-ubyte.gz").write_bytes(_gz(_idx_bytes(2051, (n, 28, 28))))
        (folder / f"{split}-labels-idx1-ubyte").write_bytes(_idx_bytes(2049, (n_lab,)))


# --- digits (offline) -------------------------------------------------------------------------

@pytest.mark.parametrize("name,shape", [("digits", (1, 8, 8)), ("digits32", (3, 32, 32))])
def test_digits_shapes_and_normalization(name, shape):
    ds = load_dataset(name)
    assert isinstance(ds, Dataset) and ds.name == name and ds.num_classes == 10
    assert ds.x_train.shape == (1437, *shape) and ds.x_test.shape == (360, *shape)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert ds.source == "bundled (scikit-learn)"
    mean = ds.x_train.mean(dim=(0, 2, 3))
    std = ds.x_train.std(dim=(0, 2, 3), correction=0)
    assert torch.allclose(mean, torch.zeros_like(mean), atol=1e-5)
    assert torch.allclose(std, torch.ones_like(std), atol=1e-5)
    assert len(ds.mean) == len(ds.std) == shape[0]
    # stratified split: every class is in the test set in proportion (36 of ~180 each)
    assert ds.y_test.bincount(minlength=10).min() >= 35
    assert set(ds.y_train.tolist()) == set(range(10))


def test_digits32_is_upsampled_digits():
    small, big = load_dataset("digits"), load_dataset("digits32")
    assert small.mean[0] == pytest.approx(big.mean[2]) and small.std[0] == pytest.approx(big.std[1])
    assert torch.equal(small.y_train, big.y_train)
    blocks = big.x_train[:, 1, ::4, ::4]
    assert torch.allclose(blocks, small.x_train[:, 0], atol=1e-6)


def test_subset_is_seeded_and_stats_follow_it():
    a = load_dataset("digits", train_subset=200, test_subset=50, seed=7)
    b = load_dataset("digits", train_subset=200, test_subset=50, seed=7)
    c = load_dataset("digits", train_subset=200, test_subset=50, seed=8)
    full = load_dataset("digits")
    assert a.x_train.shape[0] == 200 and a.x_test.shape[0] == 50
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert a.mean == b.mean and a.mean != c.mean and a.mean != full.mean
    mean = a.x_train.mean(dim=(0, 2, 3))
    assert torch.allclose(mean, torch.zeros_like(mean), atol=1e-5)


@pytest.mark.parametrize("kwargs", [{"train_subset": 0}, {"train_subset": 5000},
                                    {"test_subset": -1}, {"train_subset": 1.5}, {"seed": -1}])
def test_bad_subset_or_seed_is_a_dnerror(kwargs):
    with pytest.raises(DnError):
        load_dataset("digits", **kwargs)


def test_unknown_name_lists_known_datasets():
    with pytest.raises(DnError) as err:
        load_dataset("imagenet")
    msg = str(err.value)
    assert "imagenet" in msg and all(name in msg for name in DATASETS) and "\n" not in msg
    assert set(DATASETS) >= {"mnist", "fashion-mnist", "cifar10", "digits", "digits32"}


# --- locating files ---------------------------------------------------------------------------

def test_resolve_data_dir_order(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve_data_dir(None) == tmp_path / "xdg" / "dn" / "datasets"
    monkeypatch.setenv("DN_DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_dir(None) == tmp_path / "env"
    assert resolve_data_dir(tmp_path / "flag") == tmp_path / "flag"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.delenv("DN_DATA_DIR")
    assert resolve_data_dir(None) == Path.home() / ".cache" / "dn" / "datasets"


@pytest.mark.parametrize("name,expected", [
    ("mnist", ["MNIST/raw", *IDX_NAMES]),
    ("cifar10", ["cifar-10-batches-py", "data_batch_1", "data_batch_5", "test_batch"]),
])
def test_missing_data_says_where_and_what(tmp_path, name, expected):
    with pytest.raises(DnError) as err:
        load_dataset(name, data_dir=tmp_path / "empty")
    msg = str(err.value)
    assert "\n" not in msg and str(tmp_path / "empty") in msg
    for part in [*expected, "--data-dir", "DN_DATA_DIR", f"dn data download {name}"]:
        assert part in msg, part


def test_env_var_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("DN_DATA_DIR", str(tmp_path / "from-env"))
    with pytest.raises(DnError, match="from-env"):
        load_dataset("mnist")


# --- IDX parsing ------------------------------------------------------------------------------

def test_idx_accepts_gz_and_uncompressed(tmp_path):
    _write_mnist(tmp_path / "MNIST" / "raw")
    ds = load_dataset("mnist", data_dir=tmp_path, train_subset=10, test_subset=10)
    assert ds.x_train.shape == (10, 1, 28, 28)
    assert set(ds.checksums) == {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte",
                                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte"}


def test_truncated_idx_names_the_file(tmp_path):
    folder = tmp_path / "MNIST" / "raw"
    _write_mnist(folder)
    bad = folder / "t10k-labels-idx1-ubyte"
    bad.write_bytes(bad.read_bytes()[:5000])
    with pytest.raises(DnError) as err:
        load_dataset("mnist", data_dir=tmp_path)
    msg = str(err.value)
    assert str(bad) in msg and "truncated" in msg and "\n" not in msg


def test_truncated_gzip_names_the_file(tmp_path):
    folder = tmp_path / "MNIST" / "raw"
    _write_mnist(folder)
    bad = folder / "train-images-idx3-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:1000])
    with pytest.raises(DnError, match="train-images-idx3-ubyte.gz is a truncated"):
        load_dataset("mnist", data_dir=tmp_path)


def test_wrong_magic_and_count_mismatch(tmp_path):
    folder = tmp_path / "a" / "MNIST" / "raw"
    _write_mnist(folder)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(_idx_bytes(2051, (10000, 1, 1)))
    with pytest.raises(DnError, match="magic number 2051, expected 2049"):
        load_dataset("mnist", data_dir=tmp_path / "a")
    _write_mnist(tmp_path / "b" / "MNIST" / "raw", train_labels=59999)
    with pytest.raises(DnError, match="60000 images but .* 59999 labels"):
        load_dataset("mnist", data_dir=tmp_path / "b")


# --- CIFAR pickles ----------------------------------------------------------------------------

class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"echo pwned > {self.marker}",))


def test_restricted_unpickler_refuses_code(tmp_path):
    marker = tmp_path / "pwned"
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    evil = pickle.dumps({"data": _Evil(marker), "labels": []}, protocol=2)
    evil += bytes(31_000_000 - len(evil))  # pass the size check so the unpickler is reached
    (folder / "data_batch_1").write_bytes(evil)
    for name in ["data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]:
        (folder / name).write_bytes(b"")
    with pytest.raises(DnError) as err:
        load_dataset("cifar10", data_dir=tmp_path)
    msg = str(err.value)
    assert "data_batch_1" in msg and "system" in msg and "\n" not in msg
    assert not marker.exists()


def _batch(labels: list[int], rows: int = 10000) -> dict:
    return {"batch_label": "b", "labels": labels,
            "data": np.zeros((rows, 3072), dtype=np.uint8), "filenames": []}


def test_cifar_batch_structure_is_checked():
    # protocol 3: Python 3's protocol 2 would route bytes through _codecs.encode, which the
    # allow-list (rightly) refuses; the real Python 2 files store them as plain strings.
    ok = pickle.dumps(_batch([3] * 10000), protocol=3)
    x, y = parse_batch(ok, Path("ok"))
    assert x.shape == (10000, 3, 32, 32) and y.dtype == np.int64 and int(y[0]) == 3
    for bad in (_batch([10] * 10000), _batch([1] * 9999), {"labels": [0] * 10000}):
        blob = pickle.dumps(bad, protocol=3)
        with pytest.raises(DnError, match="bad-batch"):
            parse_batch(blob + bytes(max(0, 30_720_000 - len(blob))), Path("bad-batch"))
    with pytest.raises(DnError, match="truncated"):
        parse_batch(ok[: len(ok) // 2], Path("half"))
    with pytest.raises(DnError, match="truncated or not a CIFAR-10 batch"):
        parse_batch(ok[:-100], Path("cut"))


# --- download (no network: everything local) -------------------------------------------------

def test_download_without_network_is_one_line(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(dl.urllib.request, "urlopen", offline)
    with pytest.raises(DnError) as err:
        download_dataset("mnist", tmp_path)
    msg = str(err.value)
    assert "\n" not in msg and "ossci-datasets" in msg and "yann.lecun.com" in msg
    folder = tmp_path / "MNIST" / "raw"
    assert not folder.exists() or not list(folder.iterdir())  # no partial files left behind


def test_download_bundled_needs_nothing(tmp_path):
    said = []
    assert download_dataset("digits", tmp_path, log=said.append) is None
    assert "nothing to download" in said[0]
    with pytest.raises(DnError, match="known datasets"):
        download_dataset("nope", tmp_path)


def test_fetch_checks_md5_and_writes_atomically(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"hello")
    dest = tmp_path / "out" / "file.gz"
    with pytest.raises(dl._Mismatch):
        dl.fetch(src.as_uri(), dest, "0" * 32)
    assert not dest.exists() and not list(dest.parent.iterdir())
    dl.fetch(src.as_uri(), dest, "5d41402abc4b2a76b9719d911017c592")
    assert dest.read_bytes() == b"hello"


def _tar(path: Path, members: dict[str, bytes], symlink: str | None = None) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if symlink:
            info = tarfile.TarInfo(symlink)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tar.addfile(info)


def test_extract_refuses_traversal_and_links(tmp_path):
    good = tmp_path / "good.tar.gz"
    _tar(good, {"cifar-10-batches-py/data_batch_1": b"x", "cifar-10-batches-py/readme": b"y"})
    out = dl.extract_safely(good, tmp_path / "root", "cifar-10-batches-py")
    assert sorted(p.name for p in out) == ["data_batch_1", "readme"]
    for i, (members, link) in enumerate([
        ({"cifar-10-batches-py/../../evil": b"x"}, None),
        ({"/tmp/evil": b"x"}, None),
        ({"other/evil": b"x"}, None),
        ({}, "cifar-10-batches-py/link"),
    ]):
        bad = tmp_path / f"bad{i}.tar.gz"
        _tar(bad, members, link)
        with pytest.raises(DnError, match="refusing"):
            dl.extract_safely(bad, tmp_path / "root2", "cifar-10-batches-py")
    assert not (tmp_path / "evil").exists()


def test_fashion_mnist_layouts(tmp_path):
    """torchvision's FashionMNIST/raw and Debian's flat fashion-mnist/ folder both work."""
    _write_mnist(tmp_path / "tv" / "FashionMNIST" / "raw")
    _write_mnist(tmp_path / "deb" / "fashion-mnist")
    for root, sub in ((tmp_path / "tv", "FashionMNIST/raw"), (tmp_path / "deb", "fashion-mnist")):
        ds = load_dataset("fashion-mnist", data_dir=root, train_subset=100, test_subset=100)
        assert ds.source == str(root / sub) and ds.x_train.shape == (100, 1, 28, 28)


def test_download_skips_a_complete_copy_elsewhere(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("must not download")

    monkeypatch.setattr(dl.urllib.request, "urlopen", no_network)
    _write_mnist(tmp_path / "fashion-mnist")
    said = []
    assert download_dataset("fashion-mnist", tmp_path, log=said.append) == (
        tmp_path / "fashion-mnist")
    assert "already available" in said[0]


def test_download_cifar_offline_is_one_line(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(dl.urllib.request, "urlopen", offline)
    with pytest.raises(DnError) as err:
        download_dataset("cifar10", tmp_path)
    msg = str(err.value)
    assert "\n" not in msg and "cs.toronto.edu" in msg and "cifar-10-python.tar.gz" in msg
    assert [p.name for p in tmp_path.iterdir()] == []


# --- the `dn data` commands -------------------------------------------------------------------

def _dn_data(*args: str):
    import typer
    from typer.testing import CliRunner

    from dn_data.cli import register

    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """dn (test app)"""

    register(app)
    return CliRunner().invoke(app, ["data", *args])


def test_cli_info_and_download(tmp_path):
    _write_mnist(tmp_path / "MNIST" / "raw")
    res = _dn_data("info", "--data-dir", str(tmp_path))
    assert res.exit_code == 0, res.output
    assert f"data folder: {tmp_path}" in res.output and "[from --data-dir]" in res.output
    assert "mnist: " + str(tmp_path / "MNIST" / "raw") in res.output
    assert "cifar10: MISSING" in res.output and "digits: bundled" in res.output
    res = _dn_data("info", "mnist", "--data-dir", str(tmp_path))
    assert res.exit_code == 0, res.output
    assert "train: 60000 x (1, 28, 28)" in res.output and "sha256" in res.output
    res = _dn_data("info", "cifar10", "--data-dir", str(tmp_path))
    assert res.exit_code == 1 and "dn data download cifar10" in res.output
    res = _dn_data("download", "digits", "--data-dir", str(tmp_path))
    assert res.exit_code == 0 and "nothing to download" in res.output


# --- real data (skipped when the shared datasets are absent) ---------------------------------

@pytest.mark.slow
@needs_mnist
def test_real_mnist():
    ds = load_dataset("mnist", data_dir=REAL, test_subset=1000)
    assert ds.x_train.shape == (60000, 1, 28, 28) and ds.x_test.shape == (1000, 1, 28, 28)
    assert ds.mean[0] == pytest.approx(0.1307, abs=5e-5)
    assert ds.std[0] == pytest.approx(0.3081, abs=5e-5)
    assert ds.y_train.bincount().tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265,
                                              5851, 5949]
    assert ds.checksums["train-images-idx3-ubyte.gz"] == (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609")
    assert ds.source == str(REAL.absolute() / "MNIST" / "raw")


@pytest.mark.slow
@needs_cifar
def test_real_cifar10():
    raw = DATASETS["cifar10"](REAL)
    ds = build("cifar10", raw, train_subset=2000, test_subset=500)
    assert ds.x_train.shape == (2000, 3, 32, 32) and ds.x_test.shape == (500, 3, 32, 32)
    assert len(ds.checksums) == 6 and ds.checksums["data_batch_1"] == (
        "9fde6dddeb0ac574fd850bd6a5a656035fb25069b9329a826c462028e032cddf")
    assert int(raw.y_train[0]) == 6  # frog
    assert np.bincount(raw.y_train).tolist() == [5000] * 10
    assert np.bincount(raw.y_train[:10000]).tolist() == [1005, 974, 1032, 1016, 999, 937, 1030,
                                                         1001, 1025, 981]
    assert np.bincount(raw.y_test).tolist() == [1000] * 10
    means = raw.x_train.mean(axis=(0, 2, 3)) / 255
    assert means == pytest.approx([0.4914, 0.4822, 0.4465], abs=1e-4)


@pytest.mark.slow
@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed (apt install dataset-fashion-mnist)")
def test_debian_fashion_mnist_is_found(tmp_path):
    """With the Debian package installed, fashion-mnist loads even from an empty data folder."""
    ds = load_dataset("fashion-mnist", data_dir=tmp_path, test_subset=100)
    assert ds.source == str(DEBIAN_FASHION) and ds.x_train.shape == (60000, 1, 28, 28)
    assert ds.mean[0] == pytest.approx(0.2860, abs=5e-5)
    assert ds.std[0] == pytest.approx(0.3530, abs=5e-5)
    assert ds.y_train.bincount().tolist() == [6000] * 10
