"""Every registered condition's start obeys its definition, read back through initial_weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from results.errors import DnError
from train import open_run
from train.conditions import CONDITIONS, PAPER_CONDITIONS, expand_conditions
from train.config import RunConfig, preset_experiment
from train.runner import train_run

ROUND = 2


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    exp = preset_experiment("smoke", "fc1-digits", epochs=1, prune_rounds=ROUND, ticket_rounds=(1, ROUND),
                            conditions=("all",))
    out = tmp_path_factory.mktemp("conditions") / "run"
    train_run(RunConfig((exp,), seed=3, preset="smoke"), out, device="cpu", progress=False)
    return open_run(out)


@pytest.fixture(scope="module")
def exp(run):
    return run.experiment("fc1-digits")


def _start(exp, condition, trial=1):
    return exp.initial_weights(condition, trial=trial, round=ROUND)


def _ticket(exp, trial=1):
    return exp.theta0(trial), exp.mask(trial, ROUND)


def _params(exp):
    return [layer["param"] for layer in exp.layers]


def _subset(values: np.ndarray, pool: np.ndarray) -> bool:
    return bool(np.isin(values, pool).all())


def test_all_expands_to_every_registered_condition_and_all_were_trained(run):
    assert expand_conditions(("all",)) == tuple(CONDITIONS)
    assert expand_conditions(("paper",)) == PAPER_CONDITIONS
    assert len(CONDITIONS) == 15
    trained = {row["condition_name"] for row in run.metrics()}
    assert trained == set(CONDITIONS)


def test_unknown_condition_is_one_clear_error():
    with pytest.raises(DnError, match="unknown condition 'nope'"):
        expand_conditions(("nope",))


def test_full_and_pruned_start_from_theta0(exp):
    theta0, mask = _ticket(exp)
    weights, ones = exp.initial_weights("full", trial=1)
    for p in _params(exp):
        assert ones[p].all()
        np.testing.assert_array_equal(weights[p], theta0[p])
    weights, m = _start(exp, "pruned")
    for p in _params(exp):
        np.testing.assert_array_equal(m[p], mask[p])
        np.testing.assert_array_equal(weights[p], theta0[p] * mask[p])


@pytest.mark.parametrize("condition", ["reinit", "remask"])
def test_paper_sampling_draws_from_the_pooled_theta_lt(exp, condition):
    theta0, mask = _ticket(exp)
    pooled = exp.theta_lt(1, ROUND).astype(np.float32)
    weights, m = _start(exp, condition)
    for p in _params(exp):
        assert m[p].sum() == mask[p].sum()  # per-layer counts kept
        assert (weights[p][~m[p]] == 0).all()
        assert _subset(weights[p][m[p]], pooled)
    if condition == "reinit":
        assert all((m[p] == mask[p]).all() for p in _params(exp))
    else:
        assert any((m[p] != mask[p]).any() for p in _params(exp))
    # the pooled pool mixes layers: the first layer gets values of the other layers too
    own = theta0["fc1.weight"][mask["fc1.weight"]]
    assert not _subset(weights["fc1.weight"][m["fc1.weight"]], own)


def test_shuffle_permutes_each_layers_theta_lt_among_its_positions(exp):
    theta0, mask = _ticket(exp)
    weights, m = _start(exp, "shuffle")
    for p in _params(exp):
        np.testing.assert_array_equal(m[p], mask[p])
        np.testing.assert_array_equal(np.sort(weights[p][m[p]]), np.sort(theta0[p][mask[p]]))
    assert not np.array_equal(weights["fc1.weight"], theta0["fc1.weight"] * mask["fc1.weight"])


@pytest.mark.parametrize("condition", ["layer-reinit", "dense-dn"])
def test_layer_draws_come_from_the_layers_own_theta_lt(exp, condition):
    theta0, mask = _ticket(exp)
    weights, m = _start(exp, condition)
    for p in _params(exp):
        if condition == "dense-dn":
            assert m[p].all()
        else:
            np.testing.assert_array_equal(m[p], mask[p])
        assert _subset(weights[p][m[p]], theta0[p][mask[p]])


def test_keep_sign_keeps_signs_and_draws_magnitudes(exp):
    theta0, mask = _ticket(exp)
    weights, m = _start(exp, "keep-sign")
    for p in _params(exp):
        w, t = weights[p][m[p]], theta0[p][mask[p]]
        np.testing.assert_array_equal(np.sign(w), np.sign(t))
        assert _subset(np.abs(w), np.abs(t))
        assert not np.array_equal(np.abs(w), np.abs(t))


def test_keep_magnitude_keeps_magnitudes_with_fair_random_signs(exp):
    theta0, mask = _ticket(exp)
    weights, m = _start(exp, "keep-magnitude")
    flips, total = 0, 0
    for p in _params(exp):
        w, t = weights[p][m[p]], theta0[p][mask[p]]
        np.testing.assert_array_equal(np.abs(w), np.abs(t))
        flips += int((np.sign(w) != np.sign(t)).sum())
        total += w.size
    # a fair coin: the flip count is Binomial(total, 1/2); 4.5 sigma is a 1e-5 two-sided band
    assert abs(flips - total / 2) < 4.5 * np.sqrt(total / 4)


def test_rand_init_is_a_fresh_draw_of_the_init_distribution(exp):
    theta0, mask = _ticket(exp)
    weights, m = _start(exp, "rand-init")
    for layer in exp.layers:
        p, a = layer["param"], layer["init_bound"]
        w = weights[p][m[p]]
        np.testing.assert_array_equal(m[p], mask[p])
        # float32 draws repeat θ0's values only by chance (24-bit grid: ~n*m/2^24 ties)
        assert np.isin(w, theta0[p]).mean() < 0.01
        assert np.abs(w).max() <= a
        # Xavier uniform on (-a, a): a KS test at level 1e-4 (fixed seed, so not flaky)
        assert stats.kstest(w, stats.uniform(-a, 2 * a).cdf).pvalue > 1e-4


def test_fitted_draws_are_new_values_close_to_the_layers_d_n(exp):
    theta0, mask = _ticket(exp)
    weights, m = _start(exp, "fitted")
    for p in _params(exp):
        w, own = weights[p][m[p]], theta0[p][mask[p]]
        np.testing.assert_array_equal(m[p], mask[p])
        assert np.isin(w, own).mean() < 0.01  # only float32 ties by chance
        # a KDE's draws: θ_LT values plus N(0, h^2) noise, h = Silverman's bandwidth
        assert stats.ks_2samp(w, own).statistic < 0.1


def test_random_mask_keeps_theta0_at_new_positions(exp):
    theta0, mask = _ticket(exp)
    weights, m = _start(exp, "random-mask")
    for p in _params(exp):
        assert m[p].sum() == mask[p].sum()
        np.testing.assert_array_equal(weights[p], theta0[p] * m[p])
    assert any((m[p] != mask[p]).any() for p in _params(exp))


def _generator_and_ticket(run, exp, condition, trial=1):
    """The generator a condition's start was drawn with (seeded by its label) and the trial's Ticket."""
    import torch

    from train.conditions import Ticket
    from train.models.base import LayerSpec
    from train.seeding import generator

    lab = next(r["condition"] for r in run.metrics() if r["condition_name"] == condition and int(r["round"]) == ROUND)
    theta0, mask = _ticket(exp, trial)
    layers = [LayerSpec(layer["name"], tuple(layer["shape"])) for layer in exp.layers]
    ticket = Ticket(layers, {k: torch.from_numpy(v) for k, v in theta0.items()},
                    {k: torch.from_numpy(v.astype(np.float32)) for k, v in mask.items()}, init=exp.config["init"])
    return generator(int(run.config["seed"]), exp.name, "condition", lab, trial), ticket


def _rms64(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(values, dtype=np.float64))))


def test_dense_dn_scaled_is_dense_dn_at_theta0s_rms_per_layer(run, exp):
    from dn_analysis.start_scale import start_scale

    theta0, mask = _ticket(exp)
    weights, m = _start(exp, "dense-dn-scaled")
    gen, ticket = _generator_and_ticket(run, exp, "dense-dn-scaled")
    unscaled, _ = CONDITIONS["dense-dn"].build(ticket, gen)  # the same draw, before rescaling
    for layer in exp.layers:
        p = layer["param"]
        w, d = weights[p], unscaled[p].numpy()
        assert m[p].all()
        assert _subset(d, theta0[p][mask[p]])  # each layer drawn from its own θ_LT
        # the float32 rounding of each weight (eps32 / 2, relative) plus the float64 sums of the
        # layer's n squares, in the condition and here (n * eps64 each, relative)
        tol = np.finfo(np.float32).eps / 2 + 2 * w.size * np.finfo(np.float64).eps
        # w is d times one positive factor per layer ...
        np.testing.assert_allclose(w, d.astype(np.float64) * (_rms64(theta0[p]) / _rms64(d)), rtol=tol, atol=0)
        # ... which makes its rms over the whole layer θ0's
        assert abs(_rms64(w) / _rms64(theta0[p]) - 1) <= tol
    scale = start_scale(exp, "dense-dn-scaled", ROUND, trials=[1])[0]
    assert scale["product"] == pytest.approx(1.0, abs=1e-6)  # where dense-dn starts wider (> 1)


def test_sign_dtheta_keeps_signs_and_draws_magnitudes_from_abs_d_theta(run, exp):
    from train.init import INITS

    theta0, mask = _ticket(exp)
    weights, m = _start(exp, "sign-dtheta")
    gen, ticket = _generator_and_ticket(run, exp, "sign-dtheta")
    for spec, layer in zip(ticket.layers, exp.layers, strict=True):
        p, a = layer["param"], layer["init_bound"]
        w, t = weights[p][m[p]], theta0[p][mask[p]]
        np.testing.assert_array_equal(m[p], mask[p])
        assert (weights[p][~m[p]] == 0).all()
        np.testing.assert_array_equal(np.sign(w), np.sign(t))
        # the magnitudes: a reference draw of the layer's init from the same generator, its |.|
        fresh = INITS[exp.config["init"]](spec, gen).numpy()
        np.testing.assert_array_equal(np.abs(w), np.abs(fresh[mask[p]]))
        assert np.isin(np.abs(w), np.abs(t)).mean() < 0.01  # not θ0's own magnitudes (float32 ties only)
        # |U(-a, a)| is U(0, a): a KS test at level 1e-4 (fixed seed, so not flaky)
        assert stats.kstest(np.abs(w), stats.uniform(0, a).cdf).pvalue > 1e-4


def test_signed_constant_is_theta0s_signs_times_the_layers_init_std(exp):
    theta0, mask = _ticket(exp)
    weights, m = _start(exp, "signed-constant")
    for layer in exp.layers:
        p = layer["param"]
        w, t = weights[p][m[p]], theta0[p][mask[p]]
        np.testing.assert_array_equal(m[p], mask[p])
        assert (weights[p][~m[p]] == 0).all()
        np.testing.assert_array_equal(np.sign(w), np.sign(t))
        assert (np.abs(w) == np.float32(layer["init_std"])).all()  # layers.json's init_std, exactly


def test_starts_match_the_recorded_digests_and_a_changed_one_is_caught(run, exp, tmp_path):
    for condition in CONDITIONS:
        for trial in exp.trials:
            exp.initial_weights(condition, trial=trial, round=ROUND)  # raises on a digest mismatch
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run.path, copy)
    marker = sorted((copy / "fc1-digits" / "done").glob("train-t001-*.json"))[0]
    data = json.loads(marker.read_text())
    data["starts_sha256"] = ["0" * 64] * len(data["members"])
    from results.store import write_json

    write_json(marker, data)  # with a valid checksum: the start's own digest must catch it
    assert data["members"][0] == "full/trial1"
    with pytest.raises(DnError, match="differs from the one trained"):
        open_run(copy).experiment("fc1-digits").initial_weights("full", trial=1)


def test_round_without_a_ticket_run_is_refused(exp):
    with pytest.raises(DnError, match="ticket rounds"):
        exp.initial_weights("pruned", trial=0, round=0)


def test_start_scale_is_the_rms_of_each_start_over_theta0s(exp):
    from dn_analysis.start_scale import start_scale

    full = start_scale(exp, "full", 0, trials=[1])[0]
    assert full["layers"] and all(v == 1.0 for v in full["layers"].values())  # θ0 itself: exactly 1
    pruned = start_scale(exp, "pruned", ROUND, trials=[1])[0]
    theta0, mask = _ticket(exp)
    for layer in exp.layers:
        p, w = layer["param"], theta0[layer["param"]].astype(np.float64)
        expected = np.sqrt(np.mean(np.where(mask[p], w, 0.0) ** 2)) / np.sqrt(np.mean(w ** 2))  # zeros counted
        assert pruned["layers"][layer["name"]] == pytest.approx(expected, rel=1e-12)
    assert pruned["product"] == pytest.approx(np.prod(list(pruned["layers"].values())), rel=1e-12)
    dense = start_scale(exp, "dense-dn", ROUND, trials=[1])[0]
    assert dense["product"] > 1.0  # drawn from the survivors, which are the large initial weights


def test_divergence_reading_names_the_diverged_trials_and_their_start_scale(run, exp):
    from dn_analysis.start_scale import start_scale
    from reports.divergence import divergence_reading
    from reports.runs import load_run

    e = load_run(run.path).experiments[0]
    assert divergence_reading(e) is None  # nothing diverged in the smoke run
    lab = next(r["condition"] for r in e.rows if r["condition"].startswith("dense-dn-") and int(r["round"]) == ROUND)
    e.rows = [dict(r, train_loss="nan") if r["condition"] == lab and int(r["trial"]) == 0 else r for r in e.rows]
    text = divergence_reading(e)
    product = start_scale(exp, "dense-dn", ROUND, trials=[0])[0]["product"]
    assert f"{lab}: each weight layer's start rms over θ0's" in text
    assert f"{product:.2g}x in the 1 diverged trial(s)" in text
