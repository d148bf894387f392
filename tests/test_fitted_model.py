"""The `fitted` condition drawing from DnModel (--fitted-sampler model): saved, re-derived, checked."""

from __future__ import annotations

import numpy as np
import pytest

from results.errors import DnError
from train import open_run
from train.config import RunConfig, preset_experiment
from train.fitted import model_path
from train.runner import train_run

ROUND = 2


@pytest.fixture(scope="module")
def exp(tmp_path_factory):
    cfg = preset_experiment("smoke", "fc1-digits", epochs=1, trials=2, prune_rounds=ROUND, ticket_rounds=(ROUND,),
                            conditions=("pruned", "fitted"), fitted_sampler="model")
    out = tmp_path_factory.mktemp("fitted-model") / "run"
    train_run(RunConfig((cfg,), seed=5, preset="smoke"), out, device="cpu", progress=False)
    return open_run(out).experiment("fc1-digits")


def test_each_trial_has_its_own_saved_model(exp):
    from dn_analysis.model import DnModel

    for t in exp.trials:
        model = DnModel.load(model_path(exp.dir, t))
        assert model.fit_trials_ == [t]
        assert model.fit_rounds_ == list(range(1, ROUND + 1))


def test_fitted_starts_are_model_draws_on_the_tickets_mask(exp):
    from dn_analysis.model import DnModel

    for t in exp.trials:
        weights, mask = exp.initial_weights("fitted", trial=t, round=ROUND)  # checks the recorded digest
        theta0, ticket = exp.theta0(t), exp.mask(t, ROUND)
        model = DnModel.load(model_path(exp.dir, t))
        for layer in exp.layers:
            p = layer["param"]
            np.testing.assert_array_equal(mask[p], ticket[p])
            w = weights[p][mask[p]]
            assert np.isin(w, theta0[p]).mean() < 0.01  # new values, not θ_LT's
            assert np.abs(w).max() <= layer["init_bound"] * (1 + 1e-6)  # D_n lives on D_θ's support
            # every draw lies where the model's survival density is positive
            assert (model.pdf(w, ROUND, layer=p) > 0).all()


def test_a_missing_model_is_one_clear_error(exp):
    path = model_path(exp.dir, 0)
    saved = path.read_bytes()
    path.unlink()
    try:
        with pytest.raises(DnError, match="fitted-sampler model draws from it"):
            exp.initial_weights("fitted", trial=0, round=ROUND)
    finally:
        path.write_bytes(saved)


def test_unknown_fitted_sampler_is_refused():
    with pytest.raises(DnError, match="fitted_sampler must be kde, gmm or model"):
        preset_experiment("smoke", "fc1-digits", fitted_sampler="nope").validate()
