"""`dn bench` core on the bundled digits data with tiny settings: shape and sanity, no timing asserts."""

from __future__ import annotations

import json
import math

import pytest
import torch

from train.bench import macs_per_sample, run_bench
from train.errors import DnError
from train.models import build_model

KEYS = ("bound", "stacked", "stacked_own_order", "single", "dataloader")


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny kernels on a busy machine: torch's thread pool only adds barrier waits (20x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_macs_per_sample():
    assert macs_per_sample(build_model("fc1", (1, 28, 28), 10), (1, 28, 28)) == 784 * 300 + 300 * 100 + 100 * 10
    lenet = 6 * 28 * 28 * 3 * 25 + 16 * 10 * 10 * 6 * 25 + 400 * 120 + 120 * 84 + 84 * 10
    assert macs_per_sample(build_model("lenet5", (3, 32, 32), 10), (3, 32, 32)) == lenet


def test_bench_json_shape(capsys):
    result = run_bench(json_out=True, device="cpu", models=2, repeats=1,
                       datasets={"fc1": "digits", "lenet5": "digits32"}, steps=1, warmup=1,
                       batch_size=64, peak_sizes=(128,))
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(result))
    assert printed["peak_gflops"] > 0 and math.isfinite(printed["peak_gflops"])
    for model in ("fc1", "lenet5"):
        row = printed[model]
        for key in KEYS:
            assert math.isfinite(row[key]) and row[key] > 0, (model, key)
        assert set(row["ratio_to_bound"]) == set(KEYS) - {"bound"}


def test_bench_table(capsys):
    run_bench(json_out=False, device="cpu", models=2, repeats=1, datasets={"fc1": "digits"},
              steps=1, warmup=0, batch_size=32, peak_sizes=(64,))
    out = capsys.readouterr().out
    assert "GFLOP/s" in out and "dataloader" in out and "own order" in out


def test_bench_missing_data(tmp_path):
    with pytest.raises(DnError):
        run_bench(json_out=True, device="cpu", data_dir=tmp_path, datasets={"fc1": "mnist"},
                  steps=1, peak_sizes=(64,))
