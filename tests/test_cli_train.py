"""Bad input to `dn train`: one line on stderr, exit code 2, no traceback, nothing overwritten."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from _cli import dn_lines, run_dn


@pytest.fixture(scope="module")
def existing(tmp_path_factory) -> Path:
    from train.config import RunConfig, preset_experiment
    from train.runner import train_run

    out = tmp_path_factory.mktemp("cli") / "run"
    cfg = RunConfig((preset_experiment("smoke", "fc1-digits", epochs=1, prune_rounds=2, ticket_rounds=(1, 2)),),
                    seed=0, preset="smoke")
    train_run(cfg, out, device="cpu", progress=False)
    return out


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


CASES = [
    (["--preset", "smoke"], "say what to train"),
    (["-e", "fc1-digits", "--prune-rate", "1.5"], "prune_rate"),
    (["-e", "fc1-digits", "--prune-rounds", "-1"], "prune_rounds"),
    (["-e", "fc1-digits", "--batch-size", "0"], "batch_size"),
    (["-e", "fc1-digits", "--epochs", "0"], "epochs must be >= 1"),
    (["-e", "resnet-digits"], "unknown model 'resnet'"),
    (["-e", "fc1-imagenet"], "imagenet"),
    (["-e", "fc1-digits", "--conditions", "shuffled"], "unknown condition 'shuffled'"),
    (["-e", "fc1-digits", "--device", "tpu"], "device"),
    (["-e", "fc1-digits", "--preset", "huge"], "unknown preset"),
    (["-e", "lenet5-digits"], "16x16"),
]


@pytest.mark.parametrize("args,message", CASES)
def test_bad_settings_get_one_line(args, message, tmp_path, monkeypatch, capsys):
    out = tmp_path / "new"
    code, _, err = run_dn(["train", *args, "--out", str(out), "--no-progress"], monkeypatch, capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("dn: error:") and message in lines[0], err
    assert "Traceback" not in err
    assert not out.exists() or not any(out.rglob("*.csv"))


A_FILE = "<a file>"  # replaced by the path of a file that exists
NUMBERS = [
    (["--stack-size", "0"], "--stack-size must be >= 1"),
    (["--checkpoint-seconds", "-5"], "--checkpoint-seconds must be >= 0 (0 saves after every epoch)"),
    (["--checkpoint-seconds", "nan"], "--checkpoint-seconds must be >= 0"),
    (["--threads", "0"], "--threads must be >= 1"),
    (["--task-cpus", "0"], "--task-cpus must be >= 1"),
    (["--task-gpus", "-1"], "--task-gpus must be >= 0"),
    (["--ray-cpus", "0"], "--ray-cpus must be >= 1"),
    (["--seed", "-1"], "--seed must be >= 0"),
    (["--data-dir", A_FILE], "is a file, not a folder"),
]


@pytest.mark.parametrize("args,message", NUMBERS, ids=[" ".join(args) for args, _ in NUMBERS])
def test_bad_numbers_are_refused_before_the_folder_is_made(args, message, tmp_path, monkeypatch, capsys):
    a_file = tmp_path / "datasets.tar"
    a_file.write_text("not a folder")
    if A_FILE in args:
        args, message = [str(a_file) if a == A_FILE else a for a in args], f"{a_file} {message}"
    out = tmp_path / "new"
    code, _, err = run_dn(["train", "-e", "fc1-digits", "--preset", "smoke", *args, "--out", str(out),
                           "--no-progress"], monkeypatch, capsys)
    lines = dn_lines(err)
    assert code == 2 and len(lines) == 1 and lines[0].startswith("dn: error:") and message in lines[0], err
    assert not out.exists()


def test_zero_checkpoint_seconds_means_every_epoch():
    from train.config import RunConfig, preset_experiment
    from train.runner import check_settings

    cfg = RunConfig((preset_experiment("smoke", "fc1-digits"),), seed=0, preset="smoke")
    check_settings(cfg, checkpoint_seconds=0.0)  # accepted: a checkpoint after every epoch


def test_data_info_refuses_a_file_as_data_folder(tmp_path, monkeypatch, capsys):
    a_file = tmp_path / "datasets.tar"
    a_file.write_text("not a folder")
    code, _, err = run_dn(["data", "info", "--data-dir", str(a_file)], monkeypatch, capsys)
    assert code == 2 and dn_lines(err) == [f"dn: error: {a_file} is a file, not a folder; point --data-dir "
                                           "at the folder that holds the datasets"]


def test_missing_cuda_is_a_clear_error(tmp_path, monkeypatch, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, _, err = run_dn(["train", "-e", "fc1-digits", "--device", "cuda", "--out", str(tmp_path / "x")],
                          monkeypatch, capsys)
    assert code == 2 and "no CUDA GPU" in err and len(err.strip().splitlines()) == 1


def test_missing_data_names_the_folder(tmp_path, monkeypatch, capsys):
    code, _, err = run_dn(["train", "-e", "fc1-mnist", "--data-dir", str(tmp_path / "nodata"),
                           "--out", str(tmp_path / "x"), "--no-progress"], monkeypatch, capsys)
    assert code == 2 and str(tmp_path / "nodata") in err and len(err.strip().splitlines()) == 1


def test_existing_folder_with_other_config_is_not_touched(existing, monkeypatch, capsys):
    before = _snapshot(existing)
    code, _, err = run_dn(["train", "-e", "fc1-digits", "--preset", "smoke", "--epochs", "3",
                           "--out", str(existing), "--no-progress"], monkeypatch, capsys)
    assert code == 2 and "another config" in err and "epochs 1 vs 3" in err
    assert _snapshot(existing) == before


def test_same_config_resumes_as_a_no_op(existing, monkeypatch, capsys):
    before = {k: v for k, v in _snapshot(existing).items() if k.endswith((".csv", ".npz"))}
    code, out, _ = run_dn(["train", "-e", "fc1-digits", "--preset", "smoke", "--epochs", "1",
                           "--prune-rounds", "2", "--ticket-rounds", "1", "--ticket-rounds", "2",
                           "--out", str(existing), "--no-progress"], monkeypatch, capsys)
    assert code == 0 and "results in" in out
    after = {k: v for k, v in _snapshot(existing).items() if k.endswith((".csv", ".npz"))}
    assert after == before


def test_non_run_folder_is_refused(tmp_path, monkeypatch, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    code, _, err = run_dn(["train", "-e", "fc1-digits", "--out", str(tmp_path)], monkeypatch, capsys)
    assert code == 2 and "not a dn results folder" in err
    assert (tmp_path / "notes.txt").read_text() == "mine"
