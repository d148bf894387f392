"""The training engine: pruning, masking, conditions, stacking, reproducibility, resume."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _numerics import abs_forward_reference, abs_gradients, gamma, step_terms, unit_roundoff

from dn_data import load_dataset
from train.conditions import CONDITIONS, Ticket
from train.config import RunConfig, preset_experiment
from train.engine import build_stack, epoch_order, evaluate, train_epoch
from train.init import initial_weights
from train.models import build_model
from train.pruning import density, prune_masks
from train.runner import train_run
from train.seeding import generator


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def net(digits):
    return build_model("fc1", tuple(digits.x_train.shape[1:]), digits.num_classes)


def _theta(net, trial: int) -> dict[str, torch.Tensor]:
    return initial_weights("xavier_uniform", net.layers, generator(0, "test", trial))


def _ones(net) -> dict[str, torch.Tensor]:
    return {layer.param: torch.ones(layer.shape) for layer in net.layers}


@pytest.mark.parametrize("scope", ["global", "layerwise"])
def test_density_after_n_rounds_is_point8_to_the_n(net, scope):
    theta, mask = _theta(net, 0), _ones(net)
    total = sum(m.numel() for m in mask.values())
    expected = total
    for r in range(1, 11):
        weights = {k: v + 0.01 * torch.randn(v.shape, generator=generator(1, r)) for k, v in theta.items()}
        mask = prune_masks(net.layers, weights, mask, 0.2, scope)
        if scope == "global":
            expected -= round(0.2 * expected)
            assert sum(int(m.sum()) for m in mask.values()) == expected
        assert density(mask) == pytest.approx(0.8**r, abs=2e-3)
    assert density(mask) == pytest.approx(0.107, abs=1e-3)


def test_pruning_ranks_by_magnitude_so_negative_weights_survive(net):
    theta = _theta(net, 0)
    weights = {k: v.clone() for k, v in theta.items()}
    w = weights["fc1.weight"]
    w[0, :10] = -5.0  # the largest magnitudes, all negative
    w[1, :10] = 1e-6  # tiny positive ones
    mask = prune_masks(net.layers, weights, _ones(net), 0.5, "global")
    assert mask["fc1.weight"][0, :10].eq(1).all()
    assert mask["fc1.weight"][1, :10].eq(0).all()


def test_masked_weights_stay_exactly_zero_under_adam_with_weight_decay(net, digits):
    theta = _theta(net, 0)
    mask = prune_masks(net.layers, theta, _ones(net), 0.7, "global")
    stack = build_stack(net, [theta], [mask], lr=1e-2, weight_decay=1e-1, device=torch.device("cpu"))
    order = epoch_order([(0, "mask")], 1, digits.x_train.shape[0], torch.device("cpu"))
    before = {k: v.detach().clone() for k, v in stack.params.items()}
    for _ in range(3):
        train_epoch(net, stack, digits.x_train, digits.y_train, order, 128)
    for layer in net.layers:
        p, m = stack.params[layer.param].detach()[0], mask[layer.param].bool()
        assert torch.all(p[~m] == 0.0), "a pruned weight moved"
        state = stack.optimizer.state[stack.params[layer.param]]
        assert torch.all(state["exp_avg"][0][~m] == 0.0) and torch.all(state["exp_avg_sq"][0][~m] == 0.0)
        kept = before[layer.param][0][m]
        moved = p[m] != kept
        # negative and positive surviving weights both train
        assert moved[kept < 0].float().mean() > 0.9 and moved[kept > 0].float().mean() > 0.9


def test_remask_keeps_per_layer_counts_and_reinit_draws_from_theta_lt(net):
    theta = _theta(net, 0)
    mask = _ones(net)
    for _ in range(6):
        mask = prune_masks(net.layers, theta, mask, 0.2, "global")
    ticket = Ticket(net.layers, theta, mask)
    pool = set(ticket.theta_lt().tolist())
    for name in ("reinit", "remask"):
        weights, new_mask = CONDITIONS[name].build(ticket, generator(0, name))
        for layer in net.layers:
            m, w = new_mask[layer.param].bool(), weights[layer.param]
            assert int(m.sum()) == int(mask[layer.param].sum())
            assert set(w[m].tolist()) <= pool, f"{name} drew a value outside θ_LT"
            assert torch.all(w[~m] == 0)
        if name == "remask":
            assert any(not torch.equal(new_mask[k], mask[k]) for k in mask)
        else:
            assert all(torch.equal(new_mask[k], mask[k]) for k in mask)
            assert not torch.equal(weights["fc1.weight"], theta["fc1.weight"] * mask["fc1.weight"])
    layer_ticket = dataclasses.replace(ticket, reinit_pool="layer")
    weights, _ = CONDITIONS["reinit"].build(layer_ticket, generator(0, "layer"))
    fc3_pool = set(ticket.theta_lt("fc3.weight").tolist())
    assert set(weights["fc3.weight"][mask["fc3.weight"].bool()].tolist()) <= fc3_pool


STACKS = [pytest.param(m, d, s, id=f"{m}-{d}-{'shared' if s else 'own'}-order")
          for m, d in (("fc1", "digits"), ("lenet5", "digits32")) for s in (False, True)]


def _stack_trainer(model: str, dataset: str, shared_order: bool, train_subset: int | None = None,
                   batch: int = 256):
    """A function that trains a stack of the test's models for two epochs and evaluates it.

    Models 0..3: three dense θ0 and one pruned to 50%; model i reads the data order of key i
    (`shared_order`: all read key 0, as a trial's conditions do).
    """
    data = load_dataset(dataset, train_subset=train_subset)
    net = build_model(model, tuple(data.x_train.shape[1:]), data.num_classes)
    thetas = [initial_weights("xavier_uniform", net.layers, generator(0, model, t)) for t in range(4)]
    masks = [_ones(net), prune_masks(net.layers, thetas[1], _ones(net), 0.5), _ones(net),
             prune_masks(net.layers, thetas[3], _ones(net), 0.5)]
    keys = [(0, "order", 0 if shared_order else t) for t in range(4)]
    cpu = torch.device("cpu")
    xs = {torch.float32: net.prepare_data(data.x_train)}
    xs[torch.float64] = xs[torch.float32].double()
    tests = {torch.float32: data.x_test, torch.float64: data.x_test.double()}

    def train(indices, dtype=torch.float32, noise: dict[str, torch.Tensor] | None = None):
        """`noise`: per parameter, an amplitude added as amplitude * U[-1, 1] to every gradient
        element of every step (a lone model only)."""
        stack = build_stack(net, [thetas[i] for i in indices], [masks[i] for i in indices],
                            1e-3, 1e-4, cpu, dtype=dtype)
        if noise:
            gen = torch.Generator().manual_seed(1)
            for name, p in stack.params.items():
                amplitude = noise[name].to(dtype).unsqueeze(0)
                p.register_hook(lambda g, a=amplitude: g + a * (2 * torch.rand(
                    g.shape, generator=gen, dtype=g.dtype) - 1))
        losses = []
        for epoch in (1, 2):
            order = epoch_order([keys[i] for i in indices], epoch, data.x_train.shape[0], cpu)
            assert order.shape[0] == (1 if shared_order else len(indices))
            losses.append(train_epoch(net, stack, xs[dtype], data.y_train, order, batch))
        return stack, torch.stack(losses), *evaluate(net, stack, tests[dtype], data.y_test)

    def first_step_magnitudes(i: int) -> dict[str, torch.Tensor]:
        """Per parameter element of model i, the sum of |terms| of its first-step gradient."""
        theta = {k: (v * masks[i][k] if k in masks[i] else v).unsqueeze(0) for k, v in thetas[i].items()}
        index = epoch_order([keys[i]], 1, data.x_train.shape[0], cpu)[0, :batch]
        x = xs[torch.float64].index_select(0, index)
        logits = abs_forward_reference(model, theta, x)
        grad = torch.softmax(logits, -1) - F.one_hot(data.y_train[index], data.num_classes)
        return abs_gradients(model, theta, 0, x, grad / batch)

    train.net, train.data, train.batch = net, data, batch
    train.magnitudes = first_step_magnitudes
    return train


@pytest.mark.parametrize("model,dataset,shared_order", STACKS)
def test_stack_members_do_not_depend_on_each_other(model, dataset, shared_order):
    """Exact, in float32 with the engine's own kernels: a model's weights, Adam moments, losses
    and accuracy are bit for bit the same whichever models share its stack. The stack's shapes
    (hence every kernel and its summation order) stay the same; only another model's values
    change, and no model may read them."""
    train = _stack_trainer(model, dataset, shared_order)
    first, loss, test_loss, acc = train([0, 1, 2])
    other, loss2, test_loss2, acc2 = train([3, 1, 2])
    assert not torch.equal(first.params["fc1.weight"][0], other.params["fc1.weight"][0])
    for i in (1, 2):
        for name, p in first.params.items():
            q = other.params[name]
            assert torch.equal(p[i], q[i]), name
            for moment in ("exp_avg", "exp_avg_sq"):
                assert torch.equal(first.optimizer.state[p][moment][i], other.optimizer.state[q][moment][i])
        assert torch.equal(loss[:, i], loss2[:, i])
        assert torch.equal(test_loss[i], test_loss2[i]) and torch.equal(acc[i], acc2[i])


@pytest.mark.parametrize("model,dataset,shared_order", STACKS)
def test_stacked_equals_alone(model, dataset, shared_order):
    """A stack gives every model what it gets alone: with an order per model (the pruning
    rounds) and with one order read by the whole stack (a trial's conditions).

    Stacked and alone run other kernels (other batch shapes), so they sum in other orders. The
    tolerance follows from that (tests/_numerics.py), in float64 (the same code paths): each
    gradient element is a chain of at most K sums, so any summation order puts it within
    gamma(K) * (sum of its terms' magnitudes) of exact arithmetic. The lone model is trained
    again with exactly that much error added to every gradient element of every step (uniform
    in +-bound, the magnitudes from the first step); D, the largest change this makes to a
    weight or a loss, is what rounding of that size can do to the trained model. Stacked and
    alone each lie within it of exact, so they may differ by 2 D (plus the last rounding of the
    stored values).

    In float32 no such tolerance exists: a gradient within rounding of zero flips the sign of
    Adam's update, a discrete event as large as a bug. float32 is held to the exact test above.
    """
    # float64 convolutions are slow on CPU: LeNet5 trains on 256 of the 1,437 images (8 steps)
    lenet = model == "lenet5"
    train = _stack_trainer(model, dataset, shared_order, 256 if lenet else None, 64 if lenet else 256)
    net, data = train.net, train.data
    f64 = torch.float64
    bound = gamma(step_terms(net.layers, tuple(data.x_train.shape[2:]), train.batch, data.num_classes), f64)
    last = 4 * unit_roundoff(f64)
    stacked, loss, test_loss, acc = train([0, 1, 2], f64)
    for i in range(3):
        alone, loss1, test_loss1, acc1 = train([i], f64)
        noise = {k: bound * v for k, v in train.magnitudes(i).items()}
        noisy, loss_n, test_loss_n, acc_n = train([i], f64, noise=noise)
        for name, p in alone.params.items():
            reach = (noisy.params[name][0] - p[0]).abs().max()
            tol = 2 * reach + last * p[0].abs().max()
            diff = (stacked.params[name][i] - p[0]).abs().max()
            assert diff <= tol, f"model {i} {name}: {diff:.3g} > {tol:.3g}"
        for got, want, moved in ((loss[:, i], loss1[:, 0], loss_n[:, 0]),
                                 (test_loss[i], test_loss1[0], test_loss_n[0])):
            tol = 2 * (moved - want).abs().max() + last * want.abs().max()
            assert (got - want).abs().max() <= tol
        assert acc[i] == acc1[0]  # a count of correct answers: exact unless a margin is < tol


def _smoke_cfg(**changes) -> RunConfig:
    exp = preset_experiment("smoke", "fc1-digits", epochs=3, prune_rounds=7, ticket_rounds=(3, 7), **changes)
    return RunConfig((exp,), seed=3, preset="smoke")


def _digest(folder: Path) -> dict[str, str]:
    files = [*folder.glob("*.csv"), *folder.glob("*/tickets/*.npz")]
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    train_run(_smoke_cfg(), out, device="cpu", progress=False, stack_size=4)
    return out


def test_run_files_and_rerun_is_bit_identical(reference_run, tmp_path):
    from train import open_run

    run = open_run(reference_run)
    assert run.is_complete
    conditions = {r["condition"] for r in run.summary()}
    assert conditions == {"full", "pruned-51", "reinit-51", "remask-51", "pruned-20", "reinit-20", "remask-20"}
    exp = run.experiment("fc1-digits")
    assert exp.rounds == list(range(8)) and exp.trials == [0, 1]
    assert exp.density(7) == pytest.approx(0.8**7, abs=1e-3)
    lt = exp.theta_lt(0, 7)
    assert lt.size == sum(int(m.sum()) for m in exp.mask(0, 7).values()) and np.all(lt != 0)
    per_layer = exp.theta_lt(0, 7, per_layer=True, standardize=True)
    assert set(per_layer) == {"fc1", "fc2", "fc3"}
    again = tmp_path / "again"
    train_run(_smoke_cfg(), again, device="cpu", progress=False, stack_size=4)
    assert _digest(again) == _digest(reference_run)


def test_tables_carry_the_condition_name_and_round_as_data(reference_run):
    """Labels are data: every table has condition_name and round columns, written by training."""
    from results.store import read_csv

    for table in ("metrics.csv", "summary.csv", "paired.csv"):
        rows = read_csv(reference_run / table)
        assert rows and {"condition_name", "round"} <= set(rows[0]), table
        for row in rows:
            expected = "full" if row["condition"] == "full" else row["condition"][: -len("-51")]
            assert row["condition_name"] == expected and (row["round"] == 0) == (expected == "full"), row
    paired = read_csv(reference_run / "paired.csv")
    assert {r["reference_name"] for r in paired} == {"full", "pruned"}


def test_lenet5_rerun_is_bit_identical(tmp_path):
    """LeNet5's CPU layouts (model by model in pruning, the shared pieces in the conditions)."""
    exp = preset_experiment("smoke", "lenet5-digits32", epochs=2, prune_rounds=2, prune_epochs=1,
                            ticket_rounds=(1, 2), trials=2)
    cfg = RunConfig((exp,), seed=5, preset="smoke")
    first, again = tmp_path / "first", tmp_path / "again"
    for out in (first, again):
        train_run(cfg, out, device="cpu", progress=False)
    assert _digest(again) == _digest(first)
    assert len(_digest(first)) == 6  # metrics, pruning_metrics, summary, paired, two tickets


def test_resumed_equals_uninterrupted(reference_run, tmp_path):
    out = tmp_path / "resumed"
    calls = {"n": 0}

    def crash_at(limit):
        def hook():
            calls["n"] += 1
            if calls["n"] == limit:
                raise KeyboardInterrupt

        return hook

    # crash once in the pruning phase, once in the middle of a condition stack
    for limit in (5, 11):
        calls["n"] = 0
        with pytest.raises(KeyboardInterrupt):
            train_run(_smoke_cfg(), out, device="cpu", progress=False, stack_size=4,
                      checkpoint_seconds=0.0, on_epoch=crash_at(limit))
    assert any((out / "fc1-digits" / "state").glob("train-*.npz")), "no checkpoint was written"
    train_run(_smoke_cfg(), out, device="cpu", progress=False, stack_size=4, checkpoint_seconds=0.0)
    assert _digest(out) == _digest(reference_run)
    assert not any((out / "fc1-digits" / "state").iterdir())
