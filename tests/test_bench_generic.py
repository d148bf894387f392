"""`dn bench`'s generic-path rows and FLOP counts: rows produced at tiny sizes, counts derived by hand.

No timing asserts: only that the rows exist and are finite, and that the FLOP bound counts what
a hand count of each layer gives.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from _cli import dn_lines, run_dn

from results.errors import DnError
from studies.bench import run_bench
from studies.bench_data import DEFAULT_DATASETS, bench_raw, parse_networks
from studies.bench_generic import GENERIC_WAYS, generic_net
from studies.bench_plain import plain_model
from studies.flops import (
    flops_per_sample,
    gemm_shapes,
    layer_gemms,
    layer_macs,
    phase_flops,
    trace_layers,
)
from train.models import GenericNet, build_model

CIFAR = (3, 32, 32)
CONV_WIDTHS = {"conv2": (64,), "conv4": (64, 128), "conv6": (64, 128, 256)}


pytestmark = pytest.mark.usefixtures("one_thread")


def hand_macs(widths: tuple[int, ...], shape=CIFAR, classes: int = 10) -> list[int]:
    """Frankle & Carbin's Conv-2/4/6 counted by hand: per width two 3x3 same-padded convolutions
    (output pixels = input pixels), then a 2x2 max-pool; then FC 256, 256, classes."""
    c, h, w = shape
    macs = []
    for width in widths:
        for _ in range(2):
            macs.append(width * c * 3 * 3 * h * w)  # out_ch x in_ch x k x k x output pixels
            c = width
        h, w = h // 2, w // 2
    sizes = [c * h * w, 256, 256, classes]
    return macs + [a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)]


@pytest.mark.parametrize("model", list(CONV_WIDTHS))
def test_conv_flops_equal_a_hand_count(model):
    net = build_model(model, CIFAR, 10)
    macs = hand_macs(CONV_WIDTHS[model])
    assert layer_macs(net, CIFAR) == macs
    assert flops_per_sample(net, CIFAR) == 4 * macs[0] + 6 * sum(macs[1:])
    # the second convolution, 64 -> 64 channels, 3x3, same padding at 32x32: 2 FLOPs per multiply-add
    second = phase_flops(net, CIFAR)[1]
    assert second["forward"] == second["input gradient"] == second["weight gradient"] == 2 * 64 * 64 * 9 * 32 * 32
    assert phase_flops(net, CIFAR)[0]["input gradient"] == 0  # the data needs no gradient


@pytest.mark.parametrize("model,shape", [("fc1", (1, 28, 28)), ("lenet5", CIFAR)])
def test_traced_count_equals_the_hand_written_formula(model, shape):
    """The generic path's count (traced from the textbook module) equals the hand-written
    network's (by formula): two independent computations of the same layers."""
    generic = GenericNet(plain_model(model, shape, 10), shape)
    hand = build_model(model, shape, 10)
    assert layer_gemms(generic, shape) == layer_gemms(hand, shape)
    assert flops_per_sample(generic_net(model, shape, 10), shape) == flops_per_sample(hand, shape)


def test_trace_reads_strides_and_groups():
    module = torch.nn.Sequential(torch.nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=2), torch.nn.Flatten(),
                                 torch.nn.Linear(8 * 5 * 5, 3))
    conv, fc = trace_layers(module, (4, 10, 10))
    assert conv.output_shape == (8, 5, 5) and conv.gemm == (25, 2 * 9, 8)
    assert fc.input_shape == (200,) and fc.gemm == (1, 200, 3)
    assert module.training  # the trace leaves the module's mode as it was


def test_gemm_shapes_stay_small():
    """Deep convolutions' products are capped, so the peak never times a product of seconds."""
    net = build_model("conv6", CIFAR, 10)
    for m, k, n in gemm_shapes(net, CIFAR, batch=60, models=8, max_flops=2e10):
        assert 2 * m * k * n <= 2e10 or m == 1


SMALL = dict(device="cpu", models=2, repeats=1, steps=1, warmup=0, batch_size=4, peak_sizes=(32,),
             peak_seconds=0.005)


def test_generic_rows_for_the_conv_nets(capsys):
    datasets = {"conv2": "digits32", "conv4": "digits32", "conv6": "digits32"}
    result = run_bench(json_out=False, datasets=datasets, **SMALL)
    out = capsys.readouterr().out
    for model in datasets:
        row = result[model]
        assert set(row["ratio_to_bound"]) == set(GENERIC_WAYS)
        for way in ("bound", *GENERIC_WAYS):
            assert math.isfinite(row[way]) and row[way] > 0, (model, way)
        assert row["flops_per_sample"] == flops_per_sample(build_model(model, CIFAR, 10), CIFAR)
        assert row["epoch_scale"] == row["samples"] / (SMALL["steps"] * SMALL["batch_size"])
        assert [t["what"] for t in row["targets"]] == ["generic / one model at a time (generic)"]
        assert f"{model}    digits32  gen. single" in out
    assert "scaled x" in out and "generic path targets" in out


def test_generic_rows_beside_the_hand_written_ones():
    result = run_bench(json_out=True, datasets={"fc1": "digits"}, **SMALL)
    row = result["fc1"]
    assert {"stacked", "single", *GENERIC_WAYS} <= set(row["ratio_to_bound"])
    assert row["generic_over_stacked"] == row["generic"] / row["stacked"]
    targets = {t["what"]: t for t in row["targets"]}
    assert targets["generic / hand-written stacked"]["target"] == 1.3
    assert targets["generic / one model at a time (hand-written)"]["ratio"] == row["generic"] / row["single"]


def test_synthetic_data_has_the_datasets_shape_and_size():
    raw = bench_raw("cifar10", synthetic=True)
    assert raw.x_train.shape == (50_000, 3, 32, 32) and raw.x_train.dtype.name == "uint8"
    assert raw.y_train.max() < raw.num_classes == 10


def test_parse_networks():
    assert parse_networks("fc1, conv2=digits32") == {"fc1": DEFAULT_DATASETS["fc1"], "conv2": "digits32"}
    for bad in ("nope", "", "fc1=nope"):
        with pytest.raises(DnError):
            parse_networks(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_is_one_line(monkeypatch, capsys):
    code, out, err = run_dn(["bench", "--device", "cuda"], monkeypatch, capsys)
    assert code == 2 and out == ""
    assert len(dn_lines(err)) == 1 and "not available" in err and "cuda" in err


def test_bench_command_json(monkeypatch, capsys):
    """The options reach the bench (the peak stubbed: at its real 0.2 s per shape it is the slow part)."""
    from studies import bench

    monkeypatch.setattr(bench, "matmul_rates", lambda *args, **kwargs: {(1, 1, 1): 1.0})
    code, out, _ = run_dn(["bench", "--json", "--device", "cpu", "--networks", "conv2=digits32", "--models", "2",
                           "--repeats", "1", "--steps", "1", "--warmup", "0", "--batch-size", "2"],
                          monkeypatch, capsys)
    assert code == 0
    row = json.loads(out)["conv2"]
    assert set(row["ratio_to_bound"]) == set(GENERIC_WAYS) and row["dataset"] == "digits32"
    assert row["batch_size"] == 2 and row["timed_samples_per_model"] == 2
