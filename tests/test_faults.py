"""Faults injected into `dn` runs: each gets one line, no traceback, and nothing is lost.

Damaged files (checksums, results/integrity.py and train/recovery.py), a full disk and a
read-only folder, a second `dn train` on a folder in use, divergence, SIGINT / SIGTERM.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _cli import dn_lines, run_dn

from results.store import read_npz
from train.config import RunConfig, preset_experiment
from train.runner import train_run

EXP = "fc1-digits"
ARGS = ["train", "-e", EXP, "--preset", "smoke", "--prune-rounds", "2", "--ticket-rounds", "1",
        "--ticket-rounds", "2", "--stack-size", "4", "--no-progress"]


def _cfg() -> RunConfig:
    exp = preset_experiment("smoke", EXP, prune_rounds=2, ticket_rounds=(1, 2))
    return RunConfig((exp,), seed=0, preset="smoke")


def _digest(folder: Path) -> dict[str, str]:
    """The run's results: its tables and tickets."""
    files = [*folder.glob("*.csv"), *folder.glob("*/tickets/*.npz")]
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file()}


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _crash_at(tick: int):
    calls = {"n": 0}

    def hook() -> None:
        calls["n"] += 1
        if calls["n"] == tick:
            raise KeyboardInterrupt

    return hook


def _interrupted(out: Path, tick: int) -> Path:
    """A run stopped hard (no clean stop) at the `tick`-th stack-epoch, checkpointing each epoch.

    Ticks: 1-2 the two pruning rounds, 3-10 the four condition stacks' two epochs each.
    """
    with pytest.raises(KeyboardInterrupt):
        train_run(_cfg(), out, device="cpu", progress=False, stack_size=4, checkpoint_seconds=0.0,
                  on_epoch=_crash_at(tick))
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("faults") / "reference"
    train_run(_cfg(), out, device="cpu", progress=False, stack_size=4)
    return out


@pytest.fixture
def copy(reference, tmp_path) -> Path:
    return Path(shutil.copytree(reference, tmp_path / "copy"))


def _resume(out: Path, monkeypatch, capsys, *extra: str) -> tuple[int, list[str]]:
    code, _, err = run_dn([*ARGS, "--out", str(out), *extra], monkeypatch, capsys)
    assert "Traceback" not in err, err
    return code, dn_lines(err)


# ------------------------------------------------------------------------------ damaged files

def test_truncated_checkpoint_is_recomputed(reference, tmp_path, monkeypatch, capsys):
    out = _interrupted(tmp_path / "run", 4)  # stack 0 checkpointed after its first epoch
    (state,) = (out / EXP / "state").glob("train-*.npz")
    _truncate(state)
    code, lines = _resume(out, monkeypatch, capsys, "--checkpoint-seconds", "0")
    assert code == 0 and len(lines) == 1, lines
    assert str(state) in lines[0] and "damaged" in lines[0] and "recomputed from the start" in lines[0]
    assert _digest(out) == _digest(reference)


def test_truncated_ticket_during_pruning_restarts_it(reference, tmp_path, monkeypatch, capsys):
    out = _interrupted(tmp_path / "run", 2)  # round 0 done, round 1 under way
    assert json.loads((out / EXP / "state" / "pruning.json").read_text())["rounds_done"] == 1
    _truncate(out / EXP / "tickets" / "trial0.npz")
    code, lines = _resume(out, monkeypatch, capsys)
    assert code == 0 and len(lines) == 1 and "restarts from round 0" in lines[0], lines
    assert _digest(out) == _digest(reference)


def test_truncated_ticket_after_pruning_is_restored_bit_for_bit(reference, copy, monkeypatch, capsys):
    ticket = copy / EXP / "tickets" / "trial1.npz"
    _truncate(ticket)
    code, lines = _resume(copy, monkeypatch, capsys)
    assert code == 0 and len(lines) == 1, lines
    assert str(ticket) in lines[0] and "recorded checksum" in lines[0]
    assert _digest(copy) == _digest(reference)
    assert not (copy / ".recompute").exists()


def test_ticket_that_does_not_reproduce_is_left_alone(copy, monkeypatch, capsys):
    """As if the run had been made on other kernels: the recomputed ticket is not the lost one."""
    ticket = copy / EXP / "tickets" / "trial1.npz"
    _truncate(ticket)
    record = json.loads((copy / EXP / "tickets" / "trial1.npz.sha256").read_text())
    record["sha256"] = "0" * 64
    (copy / EXP / "tickets" / "trial1.npz.sha256").write_text(json.dumps(record))
    before = _snapshot(copy)
    code, lines = _resume(copy, monkeypatch, capsys)
    assert code == 2 and lines[-1].startswith("dn: error:") and "bit for bit" in lines[-1], lines
    assert "restore" in lines[-1] and str(ticket) in lines[-1]
    after = {k: v for k, v in _snapshot(copy).items() if not k.startswith("config.json")}
    assert after == {k: v for k, v in before.items() if not k.startswith("config.json")}


def test_damaged_done_marker_trains_that_stack_again(reference, copy, monkeypatch, capsys):
    marker = copy / EXP / "done" / "train-t001-00.json"
    marker.write_text(marker.read_text().replace('"rows"', '"rowz"', 1))  # same size, other bytes
    code, lines = _resume(copy, monkeypatch, capsys)
    assert code == 0 and len(lines) == 1 and str(marker) in lines[0] and "trained again" in lines[0]
    assert _digest(copy) == _digest(reference)


def test_damaged_config_is_refused_and_kept(copy, monkeypatch, capsys):
    _truncate(copy / "config.json")
    before = _snapshot(copy)
    code, lines = _resume(copy, monkeypatch, capsys)
    assert code == 2 and len(lines) == 1 and "config.json is damaged" in lines[0]
    assert "restore it from a backup" in lines[0]
    assert _snapshot(copy) == before


def test_damaged_ticket_under_report_names_it(copy, tmp_path, monkeypatch, capsys):
    ticket = copy / EXP / "tickets" / "trial0.npz"
    _truncate(ticket)
    code, _, err = run_dn(["report", "--runs", str(copy), "--out", str(tmp_path / "report"), "--quick"],
                          monkeypatch, capsys)
    lines = dn_lines(err)
    assert code == 2 and "Traceback" not in err
    assert lines[-1].startswith("dn: error:") and str(ticket) in lines[-1]
    assert "restore it from a backup" in lines[-1] and "dn train" not in lines[-1]  # a finished run


def test_damaged_tables_are_rebuilt_from_the_markers(reference, copy, capsys):
    from train import open_run

    _truncate(copy / "metrics.csv")
    (copy / "summary.csv").write_text("experiment,condition\nfc1-digits\n")  # and no sidecar match
    run = open_run(copy)
    assert run.metrics() == open_run(reference).metrics()
    assert run.summary() == open_run(reference).summary()
    lines = dn_lines(capsys.readouterr().err)
    assert len(lines) == 2 and "metrics.csv is damaged" in lines[0] and "summary.csv is damaged" in lines[1]


def test_folder_without_checksums_still_opens_and_resumes(reference, copy, monkeypatch, capsys):
    from train import open_run

    for sidecar in copy.rglob("*.sha256"):
        sidecar.unlink()
    assert open_run(copy).experiment(EXP).theta_lt(0, 2).size > 0
    code, lines = _resume(copy, monkeypatch, capsys)
    assert code == 0 and lines == []
    assert _digest(copy) == _digest(reference)
    _truncate(copy / EXP / "tickets" / "trial0.npz")  # unverified, but a parse error is damage
    with pytest.raises(Exception, match="trial0.npz is damaged"):
        open_run(copy).experiment(EXP).theta0(0)


# --------------------------------------------------------------------- full disk, no permission

def _intact(folder: Path) -> None:
    """No temporary file left behind, and every file verifies against its sidecar."""
    from results.integrity import is_sidecar, verify

    assert not list(folder.rglob("*.tmp")), "a half-written file was left behind"
    for path in folder.rglob("*"):
        if path.is_file() and not is_sidecar(path):
            verify(path, path.read_bytes())


def _fail_writes(monkeypatch, target: str, err: OSError) -> None:
    """The first write of a file whose path contains `target` writes half, then fails."""
    from results import store

    real = store._write_file
    failed = []

    def write(handle, data, path):
        if target in str(path) and not failed:
            failed.append(path)
            handle.write(data[: len(data) // 2])
            raise err
        real(handle, data, path)

    monkeypatch.setattr(store, "_write_file", write)


@pytest.mark.parametrize("target,errno_,cause", [
    ("state/train-", 28, "no space left on device"),
    ("done/train-t001-00", 28, "no space left on device"),
    ("tickets/trial1", 13, "permission denied"),
    ("metrics.csv", 30, "read-only file system"),
])
def test_failed_write_is_one_line_and_loses_nothing(target, errno_, cause, reference, tmp_path,
                                                    monkeypatch, capsys):
    import os

    out = tmp_path / "run"
    _fail_writes(monkeypatch, target, OSError(errno_, os.strerror(errno_)))
    code, lines = _resume(out, monkeypatch, capsys, "--checkpoint-seconds", "0")
    assert code == 2 and len(lines) == 1, lines
    folder = str(out / EXP / target.split("/")[0]) if "/" in target else str(out)
    assert lines[0].startswith(f"dn: error: cannot write to {folder}: {cause};"), lines
    assert "nothing already written was lost" in lines[0]
    _intact(out)
    monkeypatch.undo()
    code, lines = _resume(out, monkeypatch, capsys)
    assert code == 0 and lines == []
    assert _digest(out) == _digest(reference)


def test_file_size_limit_in_a_real_process(reference, tmp_path):
    """The kernel refuses the write (RLIMIT_FSIZE, EFBIG), as a full disk would: one line."""
    import subprocess
    import sys

    out = tmp_path / "run"
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000)); "
            "from dn.cli import main; sys.argv = ['dn', *sys.argv[1:]]; main()")
    proc = subprocess.run([sys.executable, "-c", code, *ARGS, "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    lines = dn_lines(proc.stderr)
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(f"dn: error: cannot write to {out / EXP / 'tickets'}: file too large")
    _intact(out)
    train_run(_cfg(), out, device="cpu", progress=False, stack_size=4)
    assert _digest(out) == _digest(reference)


# ---------------------------------------------------------------------------------- divergence

def test_huge_learning_rate_is_flagged_three_ways(tmp_path, monkeypatch, capsys):
    """--lr 1000: a spike warning per model while training, diverged=true, and a line in the report."""
    from reports.build import Numberer, _tables
    from reports.doc import Para
    from reports.runs import load_runs
    from train import open_run

    out = tmp_path / "run"
    code, lines = _resume(out, monkeypatch, capsys, "--lr", "1000")
    assert code == 0
    warnings = [line for line in lines if line.startswith("dn: warning:")]
    assert warnings == lines, lines
    conditions = ["full", "pruned-80", "reinit-80", "remask-80", "pruned-64", "reinit-64", "remask-64"]
    models = [f"{c} trial {t} " for c in conditions for t in (0, 1)]
    models += [f"pruning round {r} trial {t} " for r in (0, 1) for t in (0, 1)]
    for model in models:  # once per model, naming experiment, condition, trial and epoch
        hits = [line for line in warnings if f"{EXP} {model}spiked at epoch " in line]
        assert len(hits) == 1, (model, warnings)
        assert "whether it diverged is decided at the end" in hits[0]
    assert len(warnings) == len(models)
    summary = open_run(out).summary()
    assert {r["condition"] for r in summary} == set(conditions)
    assert all(r["diverged"] == "true" and r["spiked"] == "false" for r in summary)
    (exp,) = load_runs([out])[0].experiments
    paras = [b.text for b in _tables([exp], {}, Numberer(), []) if isinstance(b, Para) and "diverged" in b.text]
    assert len(paras) == 2 and paras[0].startswith(f"{EXP}: diverged (") and "full trial 0 (from epoch 1)" in paras[0]
    # the reading: full starts at θ0 itself, so its scale is exactly 1 (the learning rate, not the start)
    assert paras[1].startswith(f"{EXP}: Start scale: ") and "full: each weight layer's start rms" in paras[1]
    assert "their product, how the layers' scales compound through the depth, is 1x" in paras[1]


def test_normal_run_is_not_diverged(reference):
    from reports.divergence import describe
    from train import open_run

    summary = open_run(reference).summary()
    assert summary and all(r["diverged"] == "false" and r["spiked"] == "false" for r in summary)
    assert describe(open_run(reference).metrics()) is None


def test_divergence_rule_from_rows():
    """A spike: non-finite, or above 10x the first epoch's loss (counted at most ln 10); diverged
    when the model ends above chance (ln 10) after it, spiked when it ends below."""
    from results.divergence import diverged_models, spiked_models

    def rows(*losses, test=0.5):
        return [{"experiment": "e", "condition": "c", "trial": 0, "epoch": e + 1, "train_loss": x,
                 "test_loss": test} for e, x in enumerate(losses)]

    assert not diverged_models(rows(0.5, 0.3, 4.9))
    assert diverged_models(rows(0.5, 0.3, 5.1))[("e", "c", 0)]["epoch"] == 3
    assert not diverged_models(rows(0.5, float("nan"), 0.1))  # recovered: a spike
    assert spiked_models(rows(0.5, float("nan"), 0.1))[("e", "c", 0)]["epoch"] == 2
    assert diverged_models(rows(0.5, 0.4, test=float("inf")))[("e", "c", 0)]["epoch"] == 1
    assert diverged_models(rows(1e13, 1e12))[("e", "c", 0)]["epoch"] == 1  # blown up in epoch 1
    assert not diverged_models(rows(20.0, 2.0))


# ------------------------------------------------------------------- a results folder in use

def _python(code: str) -> subprocess.Popen:
    """A child Python that prints one line once ready (run from the repository, like the tests)."""
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])


def _write_lock(folder: Path, pid: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lock").write_text(json.dumps({"pid": pid, "host": socket.gethostname(),
                                             "started": "2024-01-01T00:00:00+0000"}))


def test_lock_of_a_live_process_is_refused(copy, monkeypatch, capsys):
    """The lock file names a process that runs (it holds no flock): refused, naming its pid."""
    child = _python("import time; print('ready', flush=True); time.sleep(60)")
    try:
        assert child.stdout.readline().strip() == "ready"
        _write_lock(copy, child.pid)
        before = _snapshot(copy)
        code, lines = _resume(copy, monkeypatch, capsys)
        assert code == 2 and len(lines) == 1, lines
        assert lines[0].startswith(f"dn: error: {copy} is in use by another `dn train` (process {child.pid} ")
        assert _snapshot(copy) == before  # nothing written, the lock left to its holder
    finally:
        child.kill()
        child.wait()


def test_lock_held_by_a_real_process_then_taken_over_once_it_dies(reference, tmp_path, monkeypatch, capsys):
    """A second process holds the lock (O_EXCL file and flock): refused; killed hard: taken over."""
    out = tmp_path / "run"
    child = _python(f"from train.lock import hold; import time\nwith hold({str(out)!r}):\n"
                    "    print('ready', flush=True); time.sleep(60)")
    try:
        assert child.stdout.readline().strip() == "ready"
        assert json.loads((out / "lock").read_text())["pid"] == child.pid
        code, lines = _resume(out, monkeypatch, capsys)
        assert code == 2 and len(lines) == 1 and f"(process {child.pid} " in lines[0], lines
    finally:
        child.kill()  # SIGKILL: the lock file stays behind, naming a dead process
        child.wait()
    assert (out / "lock").exists()
    code, lines = _resume(out, monkeypatch, capsys)
    assert code == 0 and len(lines) == 1, lines
    assert f"left by process {child.pid}" in lines[0] and "no longer exists; took the lock over" in lines[0]
    assert _digest(out) == _digest(reference)
    assert not (out / "lock").exists()


def test_stale_lock_is_taken_over(reference, copy, monkeypatch, capsys):
    child = _python("print('ready', flush=True)")
    child.communicate()
    _write_lock(copy, child.pid)  # a process that has exited
    code, lines = _resume(copy, monkeypatch, capsys)
    assert code == 0 and len(lines) == 1 and f"left by process {child.pid} on " in lines[0], lines
    assert not (copy / "lock").exists()


def test_lock_is_released_after_a_run_and_after_an_error(reference, copy, tmp_path, monkeypatch, capsys):
    assert not (reference / "lock").exists()
    code, _ = _resume(copy, monkeypatch, capsys, "--epochs", "3")  # another config: refused
    assert code == 2 and not (copy / "lock").exists()
    code, _ = _resume(tmp_path / "new", monkeypatch, capsys, "--data-dir", str(tmp_path / "none"),
                      "-e", "fc1-mnist")  # missing data, in a folder the run created
    assert code == 2 and not (tmp_path / "new" / "lock").exists()
    _interrupted(tmp_path / "hard", 3)  # an exception leaving train_run
    assert not (tmp_path / "hard" / "lock").exists()


def test_same_process_cannot_take_its_own_lock_twice(tmp_path):
    from results.errors import DnError
    from train.lock import hold

    with hold(tmp_path / "run"):
        with pytest.raises(DnError, match=f"process {os.getpid()} "):
            with hold(tmp_path / "run"):
                pass
    assert not (tmp_path / "run").exists()  # created for the lock, left empty: removed


# -------------------------------------------------------------------------- SIGINT / SIGTERM

SIGNAL_EPOCHS = 30  # long enough that the signal lands in the middle of the condition stacks


@pytest.fixture(scope="module")
def long_reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("faults") / "long"
    exp = preset_experiment("smoke", EXP, prune_rounds=2, ticket_rounds=(1, 2), epochs=SIGNAL_EPOCHS)
    train_run(RunConfig((exp,), seed=0, preset="smoke"), out, device="cpu", progress=False, stack_size=4)
    return out


@pytest.mark.parametrize("signum,exit_code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["SIGINT", "SIGTERM"])
def test_signal_stops_cleanly_and_the_run_resumes_bit_for_bit(signum, exit_code, long_reference, tmp_path,
                                                             monkeypatch, capsys):
    """A signal in mid-training: the epoch ends, its checkpoint is saved, one line, 128 + signal."""
    out = tmp_path / "run"
    args = [*ARGS, "--epochs", str(SIGNAL_EPOCHS), "--checkpoint-seconds", "0.05", "--out", str(out)]
    main = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "  # as a shell gives it
            "from dn.cli import main; sys.argv = ['dn', *sys.argv[1:]]; main()")
    proc = subprocess.Popen([sys.executable, "-c", main, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=Path(__file__).resolve().parents[1])
    state, deadline = out / EXP / "state", time.monotonic() + 300
    while not any(state.glob("train-*.npz")):  # the condition stacks are training
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.01)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=300)
    lines = dn_lines(err)
    assert proc.returncode == exit_code and "Traceback" not in err and len(lines) == 1, err
    name = signal.Signals(signum).name
    assert lines[0].startswith(f"dn: stopped by {name} with its state saved in {out}; to resume, run the "
                               f"same command with the same --out: dn train "), lines
    assert not (out / "lock").exists()
    assert not (out / EXP / "done" / "train-t001-01.json").exists(), "the run ended before the signal"
    checkpoints = list(state.glob("train-*.npz"))
    assert len(checkpoints) == 1 and read_npz(checkpoints[0])["epochs_done"] >= 1
    command = shlex.split(lines[0].split("same --out: ", 1)[1])  # the command, to run again
    assert command == ["dn", *args]
    code, _, err = run_dn(command[1:], monkeypatch, capsys)
    assert code == 0 and dn_lines(err) == []
    assert _digest(out) == _digest(long_reference)


def test_a_signal_during_the_pruning_abandons_only_its_round(tmp_path):
    """In-process SIGTERM in round 1's first epoch: round 0 stays saved, round 1 is not begun on disk."""
    from train import signals

    out = tmp_path / "run"
    exp = preset_experiment("smoke", EXP, prune_rounds=2, ticket_rounds=(1, 2), prune_epochs=2)
    ticks = {"n": 0}

    def tick() -> None:
        ticks["n"] += 1
        if ticks["n"] == 3:  # round 0 had epochs 1-2
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(SystemExit) as stop, signals.graceful_stop(out):
        train_run(RunConfig((exp,), seed=0, preset="smoke"), out, device="cpu", progress=False,
                  stack_size=4, on_epoch=tick)
    assert stop.value.code == 143 and ticks["n"] == 3
    assert json.loads((out / EXP / "state" / "pruning.json").read_text())["rounds_done"] == 1
    assert not (out / "lock").exists()
