"""studies/paper_time.py on committed runs: the model-epoch count, the projection, the errors."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from studies.paper_time import main, paper_costs, run_costs
from train.conditions import CONDITIONS

RUNS = Path(__file__).resolve().parent.parent / "docs" / "runs"
SMALL = ("conv2-cifar10-small", "lenet300-mnist-rewind500it")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _model_epochs(run: Path) -> float:
    """Counted from the tables' rows alone: every pruning row and every condition row past epoch 0 is
    one epoch of one model (both runs prune in whole epochs); a rewinding run adds each trial's
    training to θ_k: its iterations over the iterations of an epoch."""
    config = json.loads((run / "config.json").read_text())
    (exp,) = config["experiments"]
    pruning = len(_rows(run / "pruning_metrics.csv"))
    conditions = sum(int(row["epoch"]) >= 1 for row in _rows(run / "metrics.csv"))
    rewind = 0.0
    if exp.get("rewind_step"):
        samples = exp["train_subset"] or config["data"][exp["dataset"]]["train"]
        rewind = exp["trials"] * int(exp["rewind_step"].removesuffix("it")) / math.ceil(samples / exp["batch_size"])
    return pruning + conditions + rewind


@pytest.mark.parametrize("name", SMALL)
def test_model_epochs_match_the_rows(name):
    (cost,) = run_costs(RUNS / name)
    assert cost.model_epochs == pytest.approx(_model_epochs(RUNS / name))
    assert cost.wall_s == json.loads((RUNS / name / "config.json").read_text())["wall_time_s"][cost.experiment]


def test_projection_is_epochs_samples_flops_over_peak(capsys):
    run = RUNS / "conv2-cifar10-small"
    (cost,) = run_costs(run)
    assert (cost.samples, cost.model_epochs) == (2000, 60)  # the 2,000-image subset; 12 pruning + 48 condition
    conv = [(32 * 32, 3 * 9, 64), (32 * 32, 64 * 9, 64), (1, 16 * 16 * 64, 256), (1, 256, 256), (1, 256, 10)]
    macs = [rows * inner * cols for rows, inner, cols in conv]  # Conv-2: two padded 3x3 convs, a pool, 3 FC
    assert cost.flops == 4 * macs[0] + 6 * sum(macs[1:])
    peak = 50.0
    assert cost.bound_s(peak) == pytest.approx(60 * 2000 * cost.flops / (peak * 1e9))
    assert main(["--peak", str(peak), "--runs", str(run)]) == 0
    out = capsys.readouterr().out
    assert "peak: 50.0 GFLOP/s (given with --peak)" in out
    seconds = round(60 * 2000 * cost.flops / (peak * 1e9))
    assert f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" in out


def test_paper_protocol_counts_every_condition():
    dense = sum(not c.uses_ticket for c in CONDITIONS.values())
    per_trial = {"fc1-mnist": 100, "lenet5-cifar10": 300}
    for cost in paper_costs():
        # 2 protocols x 5 trials x (10 rounds of 5 epochs + models x epochs), ticket rounds 6 and 10
        models = dense + 2 * (len(CONDITIONS) - dense)
        assert cost.model_epochs == 2 * 5 * (10 * 5 + models * per_trial[cost.experiment])


def test_missing_run_folder_is_one_line(tmp_path, capsys):
    assert main(["--peak", "100", "--runs", str(tmp_path / "no-such-run")]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no-such-run" in err and "no such run folder" in err
