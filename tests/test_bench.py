"""`dn bench` core on the bundled digits data with tiny settings: shape and sanity, no timing asserts."""

from __future__ import annotations

import json
import math

import pytest
from _cli import dn_lines

from results.errors import DnError
from studies.bench import flops_per_sample, gemm_shapes, macs_per_sample, run_bench
from train.models import build_model

KEYS = ("bound", "stacked", "stacked_own_order", "single", "dataloader", "generic", "generic_single")


pytestmark = pytest.mark.usefixtures("one_thread")


def test_macs_per_sample():
    assert macs_per_sample(build_model("fc1", (1, 28, 28), 10), (1, 28, 28)) == 784 * 300 + 300 * 100 + 100 * 10
    lenet = 6 * 28 * 28 * 3 * 25 + 16 * 10 * 10 * 6 * 25 + 400 * 120 + 120 * 84 + 84 * 10
    assert macs_per_sample(build_model("lenet5", (3, 32, 32), 10), (3, 32, 32)) == lenet


def test_flops_count_no_input_gradient_for_the_first_layer():
    fc1 = build_model("fc1", (1, 28, 28), 10)
    assert flops_per_sample(fc1, (1, 28, 28)) == 4 * 784 * 300 + 6 * (300 * 100 + 100 * 10)
    lenet = build_model("lenet5", (3, 32, 32), 10)
    assert flops_per_sample(lenet, (3, 32, 32)) == 6 * macs_per_sample(lenet, (3, 32, 32)) - 2 * 6 * 28 * 28 * 3 * 25


def test_bench_json_shape(capsys):
    result = run_bench(json_out=True, device="cpu", models=2, repeats=1,
                       datasets={"fc1": "digits", "lenet5": "digits32"}, steps=1, warmup=1,
                       batch_size=64, peak_sizes=(128,), peak_seconds=0.02)
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
              steps=1, warmup=0, batch_size=32, peak_sizes=(64,), peak_seconds=0.02)
    out = capsys.readouterr().out
    assert "GFLOP/s" in out and "dataloader" in out and "own order" in out


def test_bench_missing_data(tmp_path):
    with pytest.raises(DnError):
        run_bench(json_out=True, device="cpu", data_dir=tmp_path, datasets={"fc1": "mnist"},
                  steps=1, peak_sizes=(64,))


SMALL = dict(device="cpu", models=2, repeats=1, datasets={"fc1": "digits", "lenet5": "digits32"}, steps=1,
             warmup=1, batch_size=64, peak_sizes=(128,), peak_seconds=0.02)


def test_gemm_shapes_are_the_models_own():
    net = build_model("fc1", (1, 28, 28), 10)
    shapes = gemm_shapes(net, (1, 28, 28), batch=1024, models=8)
    assert {(1024, 784, 300), (1024, 300, 784), (300, 1024, 784), (1024, 784, 2400)} <= set(shapes)
    lenet = gemm_shapes(build_model("lenet5", (3, 32, 32), 10), (3, 32, 32), batch=1024, models=8)
    assert (65536, 75, 6) in lenet and (65536, 75, 48) in lenet and (1024, 400, 120) in lenet
    assert (65536, 150, 16) in lenet  # conv2: 6 x 5 x 5 inputs per output pixel of 16 channels


def test_peak_is_not_beaten_or_a_warning_says_so(capsys):
    """Smallest settings: the peak includes every model's shapes; each way is >= the bound, else warned."""
    result = run_bench(json_out=True, **SMALL)
    err = capsys.readouterr().err
    for model in ("fc1", "lenet5"):
        net_shape = (1, 8, 8) if model == "fc1" else (3, 32, 32)
        for shape in gemm_shapes(build_model(model, net_shape, 10), net_shape, 64, 2):
            assert " x ".join(map(str, shape)) in result["matmul_gflops"]
        for way in KEYS[1:]:
            if result[model][way] < result[model]["bound"]:
                assert f"dn: warning: {model} {way} ran " in err, (model, way, err)
            else:
                assert f"{model} {way} ran" not in err
    assert result["peak_gflops"] == max(result["matmul_gflops"].values())
    for model in ("fc1", "lenet5"):  # each bound is set by the peak timed beside that network's ways
        row = result[model]
        assert row["bound"] == row["flops_per_sample"] * row["samples"] / (row["peak_gflops"] * 1e9)
        assert 0 < row["peak_gflops"] < math.inf
    assert len(result["warnings"]) == len(dn_lines(err))


def test_a_beaten_bound_is_warned(monkeypatch, capsys):
    """A peak measured far too low (as on a machine busy during the peak): every way beats it."""
    from studies import bench

    monkeypatch.setattr(bench, "matmul_rates", lambda *args, **kwargs: {(1, 1, 1): 1e-6})
    # the peak matmul, timed beside the ways, does next to nothing in its turn
    monkeypatch.setattr(bench, "gemm_runner", lambda *args: ((lambda: None), 1e-12))
    result = run_bench(json_out=False, **{**SMALL, "datasets": {"fc1": "digits"}})
    lines = dn_lines(capsys.readouterr().err)
    assert len(lines) == len(KEYS) - 1 == len(result["warnings"])
    assert all(line.startswith("dn: warning: fc1 ") and "faster than the FLOP bound" in line for line in lines)
