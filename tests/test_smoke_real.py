"""`dn train --all --preset smoke` on the real MNIST and CIFAR-10 files (skipped without them)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

DATA = Path(os.environ.get("DN_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (DATA / "MNIST").exists() or not (DATA / "cifar-10-batches-py").exists(),
                       reason=f"real data not found in {DATA}: set DN_TEST_DATA to a folder holding MNIST and "
                              "cifar-10-batches-py (see README)"),
]

SEVEN = {"full", "pruned-26", "reinit-26", "remask-26", "pruned-10", "reinit-10", "remask-10"}


def test_train_all_smoke_writes_every_condition(tmp_path, monkeypatch, capsys):
    from dn import cli
    from train import open_run

    out = tmp_path / "smoke"
    monkeypatch.setattr(sys, "argv", ["dn", "train", "--all", "--preset", "smoke", "--data-dir", str(DATA),
                                      "--out", str(out), "--no-progress"])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code in (0, None)
    run = open_run(out)
    assert run.is_complete
    for name in ("fc1-mnist", "lenet5-cifar10"):
        rows = [r for r in run.summary() if r["experiment"] == name]
        assert {r["condition"] for r in rows} == SEVEN
        exp = run.experiment(name)
        assert exp.rounds == list(range(11)) and exp.trials == [0, 1]
        assert exp.density(6) == pytest.approx(0.262, abs=1e-3)
        assert exp.density(10) == pytest.approx(0.107, abs=1e-3)
        assert set(exp.theta0(0)) >= {layer["param"] for layer in exp.layers}
    metrics = run.metrics()
    assert {"experiment", "condition", "density", "trial", "epoch", "train_loss", "test_loss", "test_acc"} <= set(metrics[0])
    config = run.config
    assert config["data"]["mnist"]["sha256"]["train-images-idx3-ubyte.gz"].startswith("440fcabf")
    assert "torch" in config["versions"] and config["seed"] == 0
