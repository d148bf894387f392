"""`dn train --executor ray` on a local Ray cluster started here: the same bytes as a local run.

The cluster has 2 CPUs and each task takes 1, so two pieces run at once. Tests that need Ray are
skipped (with the reason) when it is not installed: `pip install -e ".[ray]"`.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from results.errors import DnError
from tests._cli import dn_lines, run_dn
from train.config import RunConfig, preset_experiment
from train.runner import train_run

EXP = "fc1-digits"
ROOT = Path(__file__).resolve().parent.parent


def _cfg(protocol: str = "text") -> RunConfig:
    exp = preset_experiment("smoke", EXP, prune_rounds=2, ticket_rounds=(1, 2), protocol=protocol)
    return RunConfig((exp,), seed=0, preset="smoke")


def _digest(folder: Path) -> dict[str, str]:
    """The run's results: tables, tickets, trained rounds, carried biases and done/ markers."""
    files = [*folder.glob("*.csv"), *folder.glob("*/tickets/*.npz"), *folder.glob("*/trained/*.npz"),
             *folder.glob("*/carry/*.npz"), *folder.glob("*/done/*.json")]
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _run(out: Path, executor: str, protocol: str = "text", **kwargs) -> Path:
    return train_run(_cfg(protocol), out, device="cpu", progress=False, stack_size=4,
                     executor=executor, **kwargs)


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster of 2 CPUs, its workers importing this checkout's `train`."""
    ray = pytest.importorskip("ray", reason='Ray is not installed: pip install -e ".[ray]"')
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning")
    yield ray
    ray.shutdown()
    if old is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = old


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, dict[str, str]]:
    """The local runs (text and authors protocols) that every Ray run must equal byte for byte."""
    base = tmp_path_factory.mktemp("ray-ref")
    return {p: _digest(_run(base / p, "local", p)) for p in ("text", "authors")}


def test_no_ray_one_line(tmp_path, monkeypatch, capsys):
    """Without Ray, --executor ray says how to install it, on one line, and exits non-zero."""
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    code, _, err = run_dn(["train", "-e", EXP, "--preset", "smoke", "--executor", "ray",
                           "--out", str(tmp_path / "run"), "--no-progress"], monkeypatch, capsys)
    assert code == 2 and dn_lines(err) == [
        'dn: error: --executor ray needs Ray, which is not installed: pip install -e ".[ray]"']


def test_unreachable_address_one_line(tmp_path, monkeypatch, capsys):
    """A RAY_ADDRESS nothing listens on fails within the short timeout, one line, non-zero."""
    ray = pytest.importorskip("ray", reason='Ray is not installed: pip install -e ".[ray]"')
    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # as in a fresh `dn train`
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:9")
    started = time.monotonic()
    code, _, err = run_dn(["train", "-e", EXP, "--preset", "smoke", "--executor", "ray",
                           "--out", str(tmp_path / "run"), "--no-progress"], monkeypatch, capsys)
    lines = dn_lines(err)
    assert code == 2 and len(lines) == 1 and "cannot reach the Ray cluster at 127.0.0.1:9" in lines[0]
    assert time.monotonic() - started < 30


def test_unknown_executor(tmp_path):
    with pytest.raises(DnError, match="unknown executor"):
        _run(tmp_path / "run", "dask")


@pytest.mark.parametrize("protocol", ["text", "authors"])
def test_same_bytes_as_local(cluster, reference, tmp_path, protocol):
    """Tables, tickets, trained rounds, carried biases and markers equal the local run's bytes
    (`authors`: chained pieces, each waiting for the one before)."""
    assert _digest(_run(tmp_path / "ray", "ray", protocol)) == reference[protocol]


def _descendants_titled(prefix: str) -> list[int]:
    """Processes of this test's own Ray cluster (descendants of this process) running `prefix`."""
    me, found = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if not (entry / "cmdline").read_bytes().startswith(prefix.encode()):
                continue
            pid = int(entry.name)
            while pid > 1 and pid != me:
                pid = int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if pid == me:
            found.append(int(entry.name))
    return found


def test_worker_killed_mid_task_is_retried(cluster, reference, tmp_path):
    """SIGKILL the worker running the pruning task: Ray reruns it, the numbers do not change."""
    killed: list[int] = []
    stop = threading.Event()

    def killer() -> None:
        while not stop.is_set() and not killed:
            for pid in _descendants_titled("ray::prune_task"):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                break
            time.sleep(0.02)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        out = _run(tmp_path / "ray", "ray")
    finally:
        stop.set()
        thread.join()
    assert killed, "no worker was seen running the pruning task"
    assert _digest(out) == reference["text"]


def test_interrupted_ray_run_resumes_locally(cluster, reference, tmp_path):
    """A driver stopped after the pruning and one piece resumes under --executor local, same bytes."""
    calls = {"n": 0}

    def hook() -> None:  # under Ray: once per finished task, in the driver
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    out = tmp_path / "ray"
    with pytest.raises(KeyboardInterrupt):
        _run(out, "ray", on_epoch=hook)
    done = sorted(p.name for p in (out / EXP / "done").glob("*.json"))
    assert "pruning.json" in done and 2 <= len(done) < 5 and not (out / "lock").exists()
    assert _digest(_run(out, "local")) == reference["text"]



def test_task_error_is_one_line_naming_the_piece(cluster):
    """A task's error reaches the user as one line naming the experiment and the piece."""
    from types import SimpleNamespace

    from train.experiment import PieceJob
    from train.ray_executor import RayExecutor, RaySettings, piece_task

    cfg = _cfg().experiments[0]  # no dataset given: the task fails inside the worker
    ref = cluster.remote(piece_task).options(max_retries=0).remote(
        cfg, 0, 4, "cpu", 1, None, PieceJob("train-t001-00", [], [], []))
    exp = SimpleNamespace(cfg=SimpleNamespace(name=EXP))
    with pytest.raises(DnError) as err:
        RayExecutor(cluster, RaySettings())._get(ref, exp, "train-t001-00")
    message = str(err.value)
    assert message.startswith(f"{EXP} train-t001-00 failed on a Ray worker: AttributeError: ")
    assert "\n" not in message
