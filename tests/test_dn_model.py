"""DnModel on synthetic tickets made with a known drift law: the fit recovers the law, the model
predicts the tickets, the no-noise limit is the layer-threshold model, and the API behaves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from dn_analysis import DnModel
from dn_analysis.explain import LayerShelf, model_cdf
from dn_analysis.model import law, read_training_stats, training_stats, write_training_stats
from dn_analysis.model.fit import _negll, design

N_ROUNDS = 5
RATE = 0.2
TRUTH = {"mu": 0.01, "mu_slope": 0.0, "c": 0.95, "c_slope": 0.0, "sigma0": 0.15, "beta": 0.8, "s1": 0.08,
         "b1": 0.9, "b2": 0.0, "s": 0.06, "g": 0.05, "nu": 0.08}
LAYERS = [{"name": "a", "param": "a.weight", "shape": [200, 100], "init_bound": 0.1, "init_std": 0.1 / np.sqrt(3)},
          {"name": "b", "param": "b.weight", "shape": [50, 100], "init_bound": 0.2, "init_std": 0.2 / np.sqrt(3)}]


class FakeExperiment:
    """The part of results.run.ExperimentResult that DnModel reads, for tickets made by a known law."""

    def __init__(self, laws: dict[str, list[tuple[float, dict]]], trials: int = 2, scope: str = "global"):
        self.name, self.layers, self.trials, self.rounds = "toy", LAYERS, list(range(trials)), list(range(N_ROUNDS + 1))
        self.config = {"prune_rate": RATE, "prune_scope": scope, "prune_rounds": N_ROUNDS, "init": "xavier_uniform"}
        self._data = {t: self._make(laws, np.random.default_rng(100 + t), scope) for t in self.trials}

    @staticmethod
    def _make(laws, rng, scope):
        theta0, trained = {}, {}
        for layer in LAYERS:
            p, a = layer["param"], layer["init_bound"]
            x = rng.uniform(-1.0, 1.0, size=int(np.prod(layer["shape"])))
            cls = rng.choice(len(laws[p]), size=x.size, p=[w for w, _ in laws[p]])
            y = np.empty((x.size, N_ROUNDS))
            for k, (_, d) in enumerate(laws[p]):
                y[cls == k] = law.simulate(law.from_description(d), x[cls == k], N_ROUNDS, rng)
            theta0[p], trained[p] = a * x, a * y
        masks = [{p: np.ones(v.size, bool) for p, v in theta0.items()}]
        for r in range(N_ROUNDS):
            new = {}
            groups = [list(theta0)] if scope == "global" else [[p] for p in theta0]
            for names in groups:
                score = np.concatenate([np.where(masks[-1][p], np.abs(trained[p][:, r]), -1.0) for p in names])
                alive = int(sum(masks[-1][p].sum() for p in names))
                order = np.argsort(score, kind="stable")
                keep = np.ones(score.size, bool)
                keep[order[: score.size - alive + int(round(RATE * alive))]] = False
                start = 0
                for p in names:
                    new[p] = keep[start:start + theta0[p].size]
                    start += theta0[p].size
            masks.append(new)
        return theta0, trained, masks

    def theta0(self, t):
        return self._data[t][0]

    def mask(self, t, r):
        return self._data[t][2][r]

    def trained(self, t, r):
        return {p: v[:, r] for p, v in self._data[t][1].items()}

    def density(self, r, trial=None):
        m = self.mask(self.trials[0] if trial is None else trial, r)
        return sum(v.sum() for v in m.values()) / sum(v.size for v in m.values())

    def theta_lt(self, t, r, per_layer=False):
        out = {layer["name"]: self.theta0(t)[layer["param"]][self.mask(t, r)[layer["param"]]] for layer in LAYERS}
        return out if per_layer else np.concatenate(list(out.values()))


@pytest.fixture(scope="module")
def one_class():
    exp = FakeExperiment({layer["param"]: [(1.0, TRUTH)] for layer in LAYERS})
    st = training_stats(exp, [0], per_stratum=10**6)      # every weight, weight 1
    return exp, st, DnModel(n_classes=1, n_grid=200, paths=500).fit(st)


def _standard_errors(st, param: str, theta: np.ndarray) -> np.ndarray:
    """Sampling sd of the ML estimate: sqrt(diag(H^-1)) of the negative log-likelihood."""
    z, alive = design(st.layer(param), next(s for s in LAYERS if s["param"] == param)["init_bound"])
    wk = alive.astype(float)
    grams = np.stack([(z * wk[:, r:r + 1]).T @ z for r in range(alive.shape[1])])
    counts = wk.sum(axis=0)
    h, k = 1e-4, theta.size
    hess = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            e_i, e_j = np.eye(k)[i] * h, np.eye(k)[j] * h
            hess[i, j] = (_negll(theta + e_i + e_j, grams, counts) - _negll(theta + e_i - e_j, grams, counts)
                          - _negll(theta - e_i + e_j, grams, counts) + _negll(theta - e_i - e_j, grams, counts)) / (4 * h * h)
    return np.sqrt(np.diag(np.linalg.inv(hess)))


def test_fit_recovers_the_known_law(one_class):
    _, st, model = one_class
    truth = law.from_description(TRUTH)
    for layer in LAYERS:
        theta = model._thetas[layer["param"]][1][0]
        se = _standard_errors(st, layer["param"], theta)
        z = (theta - truth) / se
        assert np.all(np.abs(z) < 4.5), dict(zip(law.NAMES, np.round(z, 2), strict=True))
        got = model.params_[layer["param"]]["classes"][0]
        assert np.hypot(got["sigma0"], got["nu"]) == pytest.approx(np.hypot(0.15, 0.08), rel=0.02)


def test_model_predicts_the_held_out_trial(one_class):
    exp, _, model = one_class
    for r in (1, 3, N_ROUNDS):
        x = exp.theta_lt(1, r)
        floor = stats.ks_2samp(x, exp.theta_lt(0, r)).statistic
        ks = stats.ks_2samp(model.rvs(r, 200_000, random_state=0), x).statistic
        assert ks < max(2 * floor, 2.5 / np.sqrt(x.size)), (r, ks, floor)
        for layer in LAYERS:
            assert model.density(r, layer["param"]) == pytest.approx(exp.mask(1, r)[layer["param"]].mean(), abs=0.02)
        assert model.density(r) == pytest.approx((1 - RATE) ** r, abs=2e-3)


def test_mixture_classes_are_recovered():
    calm = {**TRUTH, "sigma0": 0.05, "s1": 0.03, "s": 0.02, "nu": 0.02}
    mobile = {**TRUTH, "sigma0": 0.30, "s1": 0.15, "s": 0.12, "nu": 0.15}
    exp = FakeExperiment({layer["param"]: [(0.4, calm), (0.6, mobile)] for layer in LAYERS}, trials=1)
    model = DnModel(n_classes=2, n_grid=100, paths=100, max_iter=40).fit(exp_stats := training_stats(exp, per_stratum=10**6))
    assert exp_stats.layer("a.weight").theta0.size == 20000
    for layer in LAYERS:
        got = model.params_[layer["param"]]["classes"]
        n = np.prod(layer["shape"])
        assert got[0]["weight"] == pytest.approx(0.4, abs=4 * np.sqrt(0.24 / n) + 0.01)
        for k, want in enumerate((calm, mobile)):       # sd of the dense round's drift
            assert np.hypot(got[k]["sigma0"], got[k]["nu"]) == pytest.approx(np.hypot(want["sigma0"], want["nu"]), rel=0.1)


def test_no_noise_limit_is_the_layer_threshold_model():
    model = DnModel.no_noise(LAYERS, RATE, "layerwise", 6, n_grid=4000)
    keep = (1 - RATE) ** 6
    shelves = [LayerShelf(s["name"], int(keep * np.prod(s["shape"])), int(np.prod(s["shape"])), s["init_bound"],
                          s["init_bound"] * (1 - keep), 1.0) for s in LAYERS]
    grid = np.linspace(-0.25, 0.25, 2001)
    assert np.max(np.abs(model.cdf(grid, 6) - model_cdf(shelves, grid))) < 2e-3
    glob = DnModel.no_noise(LAYERS, RATE, "global", 6, n_grid=4000)
    tau = {p: t[6] for p, t in glob.thresholds_.items()}
    assert tau["a.weight"] == tau["b.weight"]                  # one threshold on |θ0| for all layers
    for s in LAYERS:
        assert glob.density(6, s["param"]) == pytest.approx(max(0.0, 1 - tau[s["param"]] / s["init_bound"]), abs=1e-3)


def test_api(one_class, tmp_path: Path):
    exp, st, model = one_class
    assert model.rvs(3, (4, 5), random_state=1).shape == (4, 5)
    np.testing.assert_array_equal(model.rvs(3, 50, random_state=7), model.rvs(3, 50, random_state=7))
    grid = np.linspace(-0.25, 0.25, 20001)
    assert np.trapezoid(model.pdf(grid, 4), grid) == pytest.approx(1.0, abs=2e-3)
    assert model.cdf(np.array([-1.0, 1.0]), 4) == pytest.approx([0.0, 1.0])
    sampler = model.layer_sampler("b.weight", 5)
    x = sampler.rvs(size=1000, random_state=0)
    assert x.shape == (1000,) and np.all(np.abs(x) <= 0.2)
    assert np.all(np.abs(model.rvs(5, 100, random_state=0, layer="a")) <= 0.1)
    assert set(model.params_) == {"a.weight", "b.weight"}
    same = DnModel.load(model.save(tmp_path / "m.json"))
    np.testing.assert_allclose(same.cdf(grid, 5), model.cdf(grid, 5), atol=1e-6)
    with pytest.raises(ValueError, match="rounds must be 1..R"):
        DnModel().fit(st, rounds=[2, 3])
    with pytest.raises(ValueError, match="round must be in"):
        model.pdf(0.0, 99)
    part = DnModel(n_classes=1, n_grid=50, paths=50).fit(st, rounds=[1, 2, 3])
    assert part.fit_rounds_ == [1, 2, 3] and part.density(N_ROUNDS) == pytest.approx(0.8**N_ROUNDS, abs=3e-3)


def test_stats_file_round_trip(one_class, tmp_path: Path):
    exp, st, _ = one_class
    path = write_training_stats(exp, tmp_path / "training_stats.npz", per_stratum=500)
    back = read_training_stats(path)
    again = training_stats(exp, per_stratum=500)
    assert back.meta == again.meta
    for key, traj in again.trajectories.items():
        np.testing.assert_array_equal(back.trajectories[key].trained, traj.trained)
        np.testing.assert_array_equal(back.binned[key], again.binned[key])
    a = DnModel(n_classes=1, n_grid=50, paths=50).fit(path, trials=[0])
    b = DnModel(n_classes=1, n_grid=50, paths=50).fit(again, trials=[0])
    assert a.params_ == b.params_


# ---------------------------------------------------------------- the other predictors of the table
from types import SimpleNamespace  # noqa: E402

from dn_analysis import SoftThresholdDn  # noqa: E402
from dn_analysis.model.cli import analyze_model, markdown_table  # noqa: E402
from dn_analysis.model.evaluate import DN, NO_DRIFT, SOFT, fit_predictors, heldout_table  # noqa: E402

SOFT_TRUTH = {"a.weight": (1.0, 0.012), "b.weight": (0.6, 0.025)}      # (c, σ); a has the most weights: c = 1
SOFT_TAUS = np.array([0.012, 0.022, 0.031, 0.039, 0.046])


class SoftExperiment:
    """θ0 and nested masks drawn from the soft-threshold law itself: one latent score per weight,
    z = c·|θ0| + σ·ε, kept after round r while z >= τ_r."""

    def __init__(self, scope: str = "global", trials: int = 1, seed: int = 0):
        self.name, self.layers, self.trials = "soft", LAYERS, list(range(trials))
        self.rounds = list(range(len(SOFT_TAUS) + 1))
        self.config = {"prune_rate": RATE, "prune_scope": scope, "prune_rounds": len(SOFT_TAUS), "init": "xavier_uniform"}
        rng = np.random.default_rng(seed)
        self._data = {}
        for t in self.trials:
            theta0, last = {}, {}
            for layer in LAYERS:
                p, (c, sigma) = layer["param"], SOFT_TRUTH[layer["param"]]
                x = rng.uniform(-layer["init_bound"], layer["init_bound"], int(np.prod(layer["shape"])))
                z = (c if scope == "global" else 1.0) * np.abs(x) + sigma * rng.standard_normal(x.size)
                theta0[p], last[p] = x, (z[:, None] >= SOFT_TAUS[None, :]).sum(axis=1)
            self._data[t] = (theta0, last)

    def theta0(self, t):
        return self._data[t][0]

    def mask(self, t, r):
        return {p: v >= r for p, v in self._data[t][1].items()}


@pytest.mark.parametrize("scope", ["global", "layerwise"])
def test_soft_threshold_recovers_the_law_it_was_drawn_from(scope):
    model = SoftThresholdDn().fit(SoftExperiment(scope))
    assert model.fit_rounds_ == [1, 2, 3, 4, 5] and model.scope_ == scope
    for p, (c, sigma) in SOFT_TRUTH.items():
        got = model.params_[p]
        assert abs(got["sigma"] - sigma) < 4 * got["sigma_se"], (p, got)        # 4 standard errors of the fit
        if scope == "global" and p == "b.weight":
            assert abs(got["c"] - c) < 4 * got["c_se"], (p, got)
        else:                                                                 # fixed by identification
            assert got["c"] == 1.0 and got["c_se"] == 0.0
        taus = np.array(model.tau_fit_[p])
        assert np.all(np.diff(taus) > 0)
        if scope == "global":
            se_tau1 = np.sqrt(model.cov_[len(LAYERS) + 1, len(LAYERS) + 1]) * model.unit_   # τ_1's own parameter
            assert abs(taus[0] - SOFT_TAUS[0]) < 4 * se_tau1


def test_soft_threshold_pdf_cdf_rvs_agree():
    model = SoftThresholdDn(n_rounds=7).fit(SoftExperiment("global"), rounds=[1, 2, 3])
    assert model.fit_rounds_ == [1, 2, 3]
    grid = np.linspace(-0.25, 0.25, 200_001)
    for r in (3, 7):                                                       # 7: past the run and the fit
        assert np.trapezoid(model.pdf(grid, r), grid) == pytest.approx(1.0, abs=2e-3)
        assert model.density(r) == pytest.approx(0.8**r, rel=1e-6)           # τ_r solved from the kept fraction
        x = model.rvs(r, 20_000, random_state=3)
        assert stats.kstest(x, lambda v, r=r: model.cdf(v, r)).pvalue > 1e-3
        for layer in LAYERS:
            y = model.rvs(r, 5_000, random_state=4, layer=layer["name"])
            assert np.all(np.abs(y) <= layer["init_bound"])
            assert stats.kstest(y, lambda v, r=r, p=layer["param"]: model.cdf(v, r, layer=p)).pvalue > 1e-3
    assert model.thresholds_["a.weight"][3] == model.thresholds_["b.weight"][3]   # one τ under global pruning
    np.testing.assert_array_equal(model.rvs(4, 30, random_state=1), model.rvs(4, 30, random_state=1))
    with pytest.raises(ValueError, match="rounds must be 1..R"):
        SoftThresholdDn().fit(SoftExperiment(), rounds=[2, 3])


def test_ablation_switches_off_the_persistent_drift(one_class, tmp_path: Path):
    _, st, model = one_class
    ablated = DnModel(n_classes=1, n_grid=200, paths=500, persistent_drift=False).fit(st)
    for p, v in ablated.params_.items():
        got = v["classes"][0]
        assert got["nu"] == got["beta"] == got["b1"] == got["b2"] == 0.0
        assert model.params_[p]["classes"][0]["nu"] > 0.03
        # the data were drawn with a persistent drift (nu = 0.08, b1 = 0.9): without it the fit is far worse
        assert v["loglik"] < model.params_[p]["loglik"] - 1000
    assert not np.allclose(ablated.curves_["a.weight"], model.curves_["a.weight"])
    back = DnModel.load(ablated.save(tmp_path / "ablated.json"))
    assert back.persistent_drift is False
    np.testing.assert_allclose(back.cdf(np.linspace(-0.2, 0.2, 101), 4), ablated.cdf(np.linspace(-0.2, 0.2, 101), 4),
                               atol=1e-6)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    folder = tmp_path_factory.mktemp("toy")
    (folder / "trained").mkdir()                                       # DnModel reads exp.trained (full run)
    exp = FakeExperiment({layer["param"]: [(1.0, TRUTH)] for layer in LAYERS})
    exp.dir, exp.run = folder, SimpleNamespace(path=folder, config={})
    models = fit_predictors(exp, [0], 3, n_classes=1, n_grid=100, paths=100, per_stratum=2000)
    return exp, heldout_table(exp, (0,), rounds=(3, 5), extrapolate_from=3, models=models, n_draws=50_000)


def test_table_has_the_baseline_ablation_soft_threshold_and_refit_spread(table):
    _, rows = table
    kinds = {(r["model"], r["fit"], r["round"]) for r in rows}
    assert kinds == {(m, "held-out", r) for m in (DN, NO_DRIFT, SOFT, "trial-0 ticket") for r in (3, 5)} | \
        {(m, "extrapolated", 5) for m in (DN, NO_DRIFT, SOFT)}
    for r in rows:
        assert np.isfinite(r["ratio"]) and r["note"] == ""
        if r["model"] == DN:                                           # refitted on trial 1, scored on trial 0
            assert r["refit_trials"] == "1" and r["ratio_min"] <= r["ratio"] <= r["ratio_max"]
            assert r["ok_refits"] == (r["ratio_max"] <= r["target"])
        else:
            assert r["refit_trials"] == "" and r["ratio_min"] == r["ratio"] == r["ratio_max"]
    md = markdown_table(rows)
    for name in (DN, NO_DRIFT, SOFT, "trial-0 ticket"):
        assert f"| {name} |" in md


def test_baseline_row_is_the_ks_between_the_fit_trial_and_the_held_out_one(table):
    exp, rows = table
    for r in (3, 5):
        row = next(x for x in rows if x["model"] == "trial-0 ticket" and x["round"] == r)
        by_hand = stats.ks_2samp(exp.theta_lt(0, r), exp.theta_lt(1, r)).statistic
        assert row["ks_median"] == pytest.approx(by_hand, abs=1e-12)
        assert row["ks_per_trial"] == f"{by_hand:.4f}"
        assert row["ratio"] == pytest.approx(1.0)                        # two trials: it is the noise floor


def test_run_without_trained_weights_says_why_and_soft_threshold_still_fits(tmp_path: Path):
    run = Path(__file__).resolve().parent.parent / "docs" / "runs" / "lenet5-cifar10-authors"
    rows = analyze_model(run, tmp_path, [0], 6, quick=True)
    missing = [r for r in rows if r["model"] in (DN, NO_DRIFT)]
    assert missing and all("DnModel not fitted" in r["note"] and "training_stats.npz" in r["note"] for r in missing)
    soft = [r for r in rows if r["model"] == SOFT]
    assert {r["fit"] for r in soft} == {"held-out", "extrapolated"} and all(np.isfinite(r["ratio"]) for r in soft)
    assert any(np.isfinite(r["ratio"]) for r in rows if r["model"] == "trial-0 ticket")
    text = (tmp_path / "model-distances.md").read_text()
    assert "DnModel not fitted" in text and "| SoftThresholdDn |" in text
    assert not (tmp_path / "lenet5-cifar10-model.png").exists()


def test_an_overflowing_law_is_impossible_not_an_error():
    """A line search can step to a growth g so large that the covariance overflows: the fit must
    see an infinite cost (and step back), not raise "Singular matrix"."""
    theta = law.from_description(TRUTH)
    theta[law.NAMES.index("g")] = 400.0          # s·e^{g(r-2)} overflows float64 from round 3 on
    with np.errstate(over="raise", invalid="raise"):  # and no overflow warning escapes
        coefs, var = law.residual_coefs(theta, N_ROUNDS + 1)
    assert np.all(np.isinf(var)) and not np.any(coefs)
    grams = np.stack([np.eye(N_ROUNDS + 3)] * (N_ROUNDS + 1))
    assert _negll(theta, grams, np.ones(N_ROUNDS + 1)) == np.inf


def test_a_singular_covariance_falls_back_to_least_squares():
    """No innovation after round 0 and full memory: every round repeats round 0 exactly, so the
    covariance is singular; the regression on the past still exists (Δ_r = Δ_0) and is found."""
    d = {**TRUTH, "beta": 1.0, "s1": 0.0, "b1": 1.0, "b2": 0.0, "s": 0.0, "g": 0.0, "nu": 0.0}
    with np.errstate(divide="ignore"):
        coefs, var = law.residual_coefs(law.from_description(d), 4)
    assert np.all(np.isfinite(coefs)) and np.all(var >= 0)
    # round 3's residual is θ'_3 minus its prediction from the past: the drift of round 0 repeated,
    # so the weights on θ'_0..θ'_2 sum to one
    assert coefs[3, 2:5].sum() == pytest.approx(-1.0)
