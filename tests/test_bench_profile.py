"""`dn bench --profile`: every phase reported, FLOP shares that sum to 1, time rows that add up to
the step, and the stacked kernels the layers are timed with compute the layers. No timing asserts."""

from __future__ import annotations

import math

import pytest
import torch
from _cli import run_dn
from torch import nn
from torch.func import functional_call

from studies.bench_profile import (
    PHASES,
    STEP_PHASES,
    profile,
    stacked_kernel,
)
from studies.flops import layer_macs
from train.models import build_model

TINY = dict(device="cpu", models=2, steps=1, warmup=0, repeats=1, batch_size=4)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("model,dataset,generic", [("fc1", "digits", False), ("lenet5", "digits32", True),
                                                   ("conv2", "digits32", False)])
def test_profile_reports_every_phase_and_layer(model, dataset, generic):
    result = profile(model, dataset=dataset, generic=generic, **TINY)
    rows = result["rows"]
    assert set(PHASES) <= {row["phase"] for row in rows}
    net = build_model(model, (3, 32, 32) if dataset == "digits32" else (1, 8, 8), 10)
    layers = len(net.layers)
    for phase, count in (("forward", layers), ("weight gradient", layers), ("input gradient", layers - 1)):
        assert len([r for r in rows if r["phase"] == phase and r["layer"] != "other"]) == count, phase
    assert result["path"] == ("generic" if generic or model == "conv2" else "hand-written")
    # shares: fractions of sums of the same rows, so they add to 1 up to float rounding
    eps = len(rows) * torch.finfo(torch.float64).eps
    assert math.isclose(sum(r["flop_share"] for r in rows), 1.0, rel_tol=eps)
    assert math.isclose(sum(r["time_share"] for r in rows), 1.0, rel_tol=eps)
    # the layer rows and 'other' split the step's forward and backward: the rows add up to the
    # step's phases, which are disjoint parts of the instrumented loop's wall time
    step = result["step_phases"]
    assert set(step) == set(STEP_PHASES)
    assert math.isclose(result["total"], sum(step.values()), rel_tol=eps)
    assert sum(step.values()) <= result["instrumented"] * (1 + eps)
    assert all(r["seconds"] >= 0 for r in rows if r["layer"] != "other")


def test_profile_flops_are_the_counts():
    result = profile("fc1", dataset="digits", **TINY)
    n, batch = result["samples"], TINY["batch_size"]
    macs = layer_macs(build_model("fc1", (1, 8, 8), 10), (1, 8, 8))
    flops = {(r["phase"], r["layer"]): r["flops"] for r in result["rows"]}
    assert flops[("forward", "fc2")] == flops[("input gradient", "fc2")] == 2 * macs[1] * n
    assert ("input gradient", "fc1") not in flops
    weights = 64 * 300 + 300 * 100 + 100 * 10
    assert flops[("gradient masking", "all")] == weights * n / batch
    assert flops[("optimizer step", "all")] == 15 * (weights + 300 + 100 + 10) * n / batch  # Adam: 15 per parameter
    assert flops[("data gather", "all")] == flops[("forward", "other")] == flops[("backward", "other")] == 0


def test_each_network_is_timed_with_its_own_optimizer(monkeypatch):
    """resnet20 trains with SGD (its recipe): its stack and its optimizer FLOPs are SGD's."""
    from studies import bench_timing

    built = []
    original = bench_timing.Recipe.build
    monkeypatch.setattr(bench_timing.Recipe, "build", lambda self, *a: built.append(self) or original(self, *a))
    result = profile("resnet20", dataset="digits32", **TINY)
    assert [r.optimizer for r in built] == ["sgd"] and built[0].momentum == 0.9
    net = build_model("resnet20", (3, 32, 32), 10)
    parameters = sum(math.prod(s) for s in net.param_shapes().values())
    flops = {(r["phase"], r["layer"]): r["flops"] for r in result["rows"]}
    assert flops[("optimizer step", "all")] == 6 * parameters * result["samples"] / TINY["batch_size"]


@pytest.mark.parametrize("shared", [False, True], ids=["own-batches", "shared-batch"])
@pytest.mark.parametrize("layer,shape", [(nn.Linear(7, 5), (7,)), (nn.Conv2d(4, 6, 3, padding=1), (4, 8, 8)),
                                         (nn.Conv2d(4, 6, 3, stride=2, groups=2), (4, 9, 9))],
                         ids=["linear", "conv", "conv-grouped-strided"])
def test_stacked_kernel_computes_the_layer(layer, shape, shared):
    """The kernel the profile times equals the generic path's vmap of the layer, exactly: small
    whole numbers in float64 make every product and sum exact in any order."""
    models, batch = 3, 4
    layer = layer.double()
    gen = torch.Generator().manual_seed(0)

    def ints(*size: int) -> torch.Tensor:
        return torch.randint(-3, 4, size, generator=gen).double()

    params = {k: ints(models, *v.shape) for k, v in layer.named_parameters()}
    h = ints(*((batch,) if shared else (models, batch)), *shape)
    want = torch.vmap(lambda p, a: functional_call(layer, p, (a,)), in_dims=(0, None if shared else 0))(params, h)
    got = stacked_kernel(layer, shared)(params, h)
    if got.dim() == 4:  # (B, M*C, H, W): the models' channels side by side
        got = got.view(batch, models, -1, *got.shape[2:]).transpose(0, 1)
    assert torch.equal(got, want)


def test_profile_command(monkeypatch, capsys):
    code, out, _ = run_dn(["bench", "--profile", "fc1=digits", "--device", "cpu", "--models", "2", "--steps", "1",
                           "--warmup", "0", "--repeats", "1", "--batch-size", "4"], monkeypatch, capsys)
    assert code == 0
    for phase in PHASES:
        assert phase in out
    assert "total" in out and "train_epoch itself" in out
