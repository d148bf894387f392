"""Density models and samplers of D_n: bandwidths, KDE, mixtures, samplers, persistence, init."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from scipy import stats

from dn_analysis import EmpiricalDn, GMMDn, KDEDn, init_from_dn_, load_dn
from dn_analysis._validate import as_sample
from dn_analysis.density import bandwidth as bw
from dn_analysis.density.kde import GridDensity
from dn_analysis.density.mixture import Mixture1D, fit_free_gmm, fit_symmetric_gmm
from dn_analysis.synthetic import four_peaked, synthetic_dn
from dn_analysis.views import pooled_theta_lt, theta_lt_view


@pytest.fixture(scope="module")
def dn_sample() -> np.ndarray:
    """D_n-shaped: Xavier-uniform weights of FC-1's first layer, soft hole at 0 (26% kept)."""
    return synthetic_dn(4000, drift=0.5, random_state=1)


@pytest.fixture(scope="module")
def fitted(dn_sample: np.ndarray) -> dict[str, object]:
    return {
        "empirical": EmpiricalDn(dn_sample),
        "kde": KDEDn().fit(dn_sample),
        "gmm": GMMDn(max_components=6).fit(dn_sample),
        "gmm-sym": GMMDn(max_components=6, symmetric=True).fit(dn_sample),
    }


# ----------------------------------------------------------------------------- bandwidths
@pytest.mark.parametrize("rule", ["isj", "sheather-jones", "cv"])
def test_data_driven_bandwidths_agree_with_normal_reference_on_normal_data(rule: str) -> None:
    x = np.random.default_rng(0).normal(0.0, 0.05, 5000)
    ref = bw.scott_bandwidth(x)  # AMISE-optimal for normal data
    tol = 0.30 if rule == "cv" else 0.20  # likelihood CV is the noisiest of the three
    assert bw.select_bandwidth(x, rule) == pytest.approx(ref, rel=tol)


def test_normal_reference_rules() -> None:
    x = np.random.default_rng(1).normal(3.0, 2.0, 10_000)
    assert bw.scott_bandwidth(x) == pytest.approx(
        1.0592 * np.std(x, ddof=1) * 10_000**-0.2, rel=1e-3
    )
    assert bw.silverman_bandwidth(x) / bw.scott_bandwidth(x) == pytest.approx(0.85, abs=0.02)


@pytest.mark.parametrize("rule", ["scott", "silverman", "isj", "sj", "cv"])
def test_bandwidths_are_scale_equivariant_on_narrow_dn(rule: str) -> None:
    """The KDEpy #201 trap: ISJ must not shrink when the data's range is ~0.15."""
    x = synthetic_dn(3000, drift=0.5, random_state=2)
    assert bw.select_bandwidth(x, rule) * 1000 == pytest.approx(
        bw.select_bandwidth(x * 1000, rule), rel=1e-6
    )


def test_isj_is_not_collapsed_on_narrow_normal_data() -> None:
    x = np.random.default_rng(3).normal(0.0, 0.01, 20_000)  # range ~0.08, like weights
    assert bw.isj_bandwidth(x) / bw.scott_bandwidth(x) == pytest.approx(1.0, abs=0.2)


def test_binned_sheather_jones_matches_exact_pairwise_sums() -> None:
    x = np.random.default_rng(4).normal(size=400)
    n = x.size
    d = (x[:, None] - x[None, :]).ravel()

    def psi(g: float, order: int) -> float:
        u = (d / g) ** 2
        herm = u**2 - 6 * u + 3 if order == 4 else u**3 - 15 * u**2 + 45 * u - 15
        return float(
            np.sum(herm * np.exp(-u / 2)) / np.sqrt(2 * np.pi) / (n * (n - 1) * g ** (order + 1))
        )

    lo, hi = x.min(), x.max()
    counts = bw.linear_bin(x, lo, hi, 4096)
    spec = np.fft.rfft(counts, 8192)
    acf = np.fft.irfft(spec * np.conj(spec), 8192)[:4096]
    delta = (hi - lo) / 4095
    for g, order in [(0.3, 4), (0.5, 6)]:
        assert bw._psi_from_autocorr(acf, delta, n, g, order) == pytest.approx(
            psi(g, order), rel=1e-3
        )


def test_isj_without_a_root_raises_and_select_falls_back() -> None:
    tied = np.repeat([0.0, 1.0, 2.0], 100)
    with pytest.raises(bw.BandwidthError, match="ISJ"):
        bw.isj_bandwidth(tied)
    with pytest.raises(bw.BandwidthError, match="no root"):
        bw.isj_bandwidth([0.0, 1.0, 5.0])
    with pytest.warns(RuntimeWarning, match="Falling back to the silverman rule"):
        h = bw.select_bandwidth(tied, "isj")
    assert h == pytest.approx(bw.silverman_bandwidth(tied))
    with pytest.raises(bw.BandwidthError):
        bw.select_bandwidth(tied, "isj", fallback=None)


def test_cv_refuses_tied_values() -> None:
    x = np.round(np.random.default_rng(5).uniform(-1, 1, 3000), 2)
    with pytest.raises(bw.BandwidthError, match="smallest bandwidth"):
        bw.cv_bandwidth(x)


def test_unknown_rule() -> None:
    with pytest.raises(ValueError, match="unknown bandwidth rule 'nrd0'"):
        bw.select_bandwidth([1.0, 2.0, 3.0], "nrd0")


# ----------------------------------------------------------------------------- KDE
def test_kde_integrates_to_one_and_cdf_is_consistent(dn_sample: np.ndarray) -> None:
    kde = KDEDn().fit(dn_sample)
    grid, dens = kde.grid_, kde.density_
    assert np.trapezoid(dens, grid) == pytest.approx(1.0, abs=1e-12)
    assert kde.cdf(grid[-1]) == pytest.approx(1.0) and kde.cdf(grid[0]) == 0.0
    mid = 0.5 * (grid[1:] + grid[:-1])
    slope = np.diff(kde.cdf(grid)) / np.diff(grid)  # the cdf's derivative is the pdf
    assert np.allclose(slope, kde.pdf(mid), atol=1e-6 * dens.max())
    assert np.all(np.diff(kde.cdf(grid)) >= 0)


def test_kde_matches_scipy_gaussian_kde() -> None:
    x = np.random.default_rng(6).normal(size=200)
    h = 0.3
    ours = KDEDn(bandwidth=h, grid_size=4096).fit(x)
    ref = stats.gaussian_kde(x, bw_method=h / np.std(x, ddof=1))
    pts = np.linspace(-2.5, 2.5, 101)
    assert np.allclose(ours.pdf(pts), ref(pts), rtol=2e-3, atol=1e-5)
    assert ours.cdf(0.7) == pytest.approx(ref.integrate_box_1d(-np.inf, 0.7), abs=1e-4)
    assert ours.var() == pytest.approx(np.var(x) + h**2)


def test_grid_density_rejects_bad_tables() -> None:
    with pytest.raises(ValueError, match="zero everywhere"):
        GridDensity(np.linspace(0, 1, 5), np.zeros(5))
    with pytest.raises(ValueError, match="strictly increasing"):
        GridDensity(np.array([0.0, 2.0, 1.0]), np.ones(3))


# ----------------------------------------------------------------------------- mixtures
def test_gmm_picks_two_components_for_two_gaussians() -> None:
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.normal(-2.0, 0.5, 1500), rng.normal(2.0, 0.5, 1500)])
    free = GMMDn().fit(x)
    assert free.n_components_ == 2
    assert np.allclose(free.means_, [-2.0, 2.0], atol=0.1)
    assert np.allclose(free.modes(), [-2.0, 2.0], atol=0.1)
    sym = GMMDn(symmetric=True).fit(x)
    assert sym.n_components_ == 1  # one ± pair
    assert sym.pair_means_[0] == pytest.approx(2.0, abs=0.1)


@pytest.mark.parametrize("symmetric", [False, True])
def test_gmm_finds_four_modes_of_a_four_peaked_dn(symmetric: bool) -> None:
    x = four_peaked(8000, random_state=8)
    model = GMMDn(symmetric=symmetric).fit(x)
    modes = model.modes()
    assert modes.size == 4
    assert np.allclose(modes, [-2.5, -1.0, 1.0, 2.5], atol=0.1)
    inner, outer = model.pdf(1.0), model.pdf(2.5)
    assert inner > outer  # the middle peaks are higher
    if symmetric:
        assert model.pdf(-1.3) == pytest.approx(model.pdf(1.3), rel=1e-12)


def test_modes_are_of_the_density_not_the_components() -> None:
    # Two components 1 sd apart make one mode, not two.
    mix = Mixture1D(np.array([0.5, 0.5]), np.array([-0.5, 0.5]), np.array([1.0, 1.0]))
    assert mix.modes() == pytest.approx([0.0], abs=1e-4)


def test_binned_em_matches_sklearn_gaussian_mixture() -> None:
    x = four_peaked(4000, random_state=9)
    binned = fit_free_gmm(x, 4)
    skl = fit_free_gmm(x, 4, engine="sklearn")
    assert binned.logpdf(x).sum() == pytest.approx(skl.logpdf(x).sum(), abs=2.0)
    assert np.allclose(binned.means, skl.means, atol=0.02)


def test_symmetric_em_recovers_pairs() -> None:
    x = four_peaked(8000, random_state=10)
    pairs = fit_symmetric_gmm(x, 2)
    assert np.allclose(pairs.means, [1.0, 2.5], atol=0.03)
    assert np.allclose(pairs.weights, [0.7, 0.3], atol=0.02)
    assert np.allclose(pairs.sds, [0.25, 0.3], atol=0.02)
    mix = pairs.to_mixture()
    assert mix.weights.sum() == pytest.approx(1.0) and mix.mean() == pytest.approx(0.0, abs=1e-12)


def test_gmm_mixture_moments(fitted: dict) -> None:
    gmm = fitted["gmm"]
    draws = gmm.rvs(200_000, random_state=0)
    assert draws.mean() == pytest.approx(gmm.mean(), abs=3 * gmm.std() / np.sqrt(200_000))
    assert draws.std() == pytest.approx(gmm.std(), rel=0.01)


# ----------------------------------------------------------------------------- samplers
@pytest.mark.parametrize("name", ["empirical", "kde", "gmm", "gmm-sym"])
def test_draws_are_distributed_like_the_data(
    fitted: dict, dn_sample: np.ndarray, name: str
) -> None:
    draws = fitted[name].rvs(10_000, random_state=123)
    assert stats.ks_2samp(draws, dn_sample).pvalue > 0.01


@pytest.mark.parametrize("name", ["empirical", "kde", "gmm", "gmm-sym"])
def test_scipy_style_interface(fitted: dict, name: str) -> None:
    s = fitted[name]
    assert s.rvs(size=(3, 4), random_state=0).shape == (3, 4)
    assert np.array_equal(s.rvs(50, random_state=7), s.rvs(50, random_state=7))
    assert np.array_equal(s.rvs(5, random_state=np.random.default_rng(3)), s.rvs(5, random_state=3))
    assert isinstance(s.pdf(0.05), float) and s.pdf(np.zeros((2, 3))).shape == (2, 3)
    assert s.cdf(-1.0) == pytest.approx(0.0, abs=1e-12)
    assert s.cdf(1.0) == pytest.approx(1.0, abs=1e-12)
    with np.errstate(divide="ignore"):
        assert s.logpdf(0.05) == pytest.approx(np.log(s.pdf(0.05)))
    lo, hi = s.support
    assert lo < s.mean() < hi and s.std() > 0
    assert s.modes().ndim == 1


def test_empirical_draws_only_observed_values_and_cdf_is_ecdf(dn_sample: np.ndarray) -> None:
    emp = EmpiricalDn(dn_sample)
    assert np.isin(emp.rvs(1000, random_state=0), dn_sample).all()
    assert emp.cdf(np.median(dn_sample)) == pytest.approx(0.5, abs=1 / dn_sample.size)
    assert emp.mean() == pytest.approx(dn_sample.mean()) and emp.std() == pytest.approx(
        dn_sample.std()
    )
    # pdf is the histogram's density
    assert np.sum(emp.hist_density_ * np.diff(emp.bin_edges_)) == pytest.approx(1.0)
    assert emp.pdf(emp.support[1] + 1e-3) == 0.0


def test_kde_draws_are_data_plus_kernel_noise(dn_sample: np.ndarray) -> None:
    kde = KDEDn(bandwidth=0.002).fit(dn_sample)
    rng = np.random.default_rng(11)
    idx = rng.integers(0, dn_sample.size, 5)
    expected = dn_sample[idx] + 0.002 * rng.standard_normal(5)
    assert np.allclose(kde.rvs(5, random_state=11), expected)


@pytest.mark.parametrize("name", ["empirical", "kde", "gmm", "gmm-sym"])
@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_save_load_roundtrip(fitted: dict, name: str, suffix: str, tmp_path) -> None:
    s = fitted[name]
    path = s.save(tmp_path / f"dn{suffix}")
    if suffix == ".npz":
        np.load(path, allow_pickle=False).close()  # readable without pickle
    else:
        json.loads(path.read_text())
    back = load_dn(path)
    assert type(back) is type(s) and back.get_params() == {
        k: v for k, v in s.get_params().items() if k != "values"
    } | ({"values": None} if name == "empirical" else {})
    assert np.array_equal(back.rvs(1000, random_state=5), s.rvs(1000, random_state=5))
    grid = np.linspace(-0.1, 0.1, 401)
    assert np.array_equal(back.pdf(grid), s.pdf(grid))
    assert np.array_equal(back.cdf(grid), s.cdf(grid))
    assert np.array_equal(back.modes(), s.modes())


def test_load_errors(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"\.json or \.npz"):
        load_dn(tmp_path / "x.pkl")
    with pytest.raises(FileNotFoundError):
        load_dn(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"kind": "Nope", "format_version": 1}')
    with pytest.raises(ValueError, match="unknown sampler kind 'Nope'"):
        load_dn(tmp_path / "bad.json")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a D_n sampler file"):
        load_dn(tmp_path / "junk.npz")
    with pytest.raises(ValueError, match="not fitted"):
        KDEDn().save(tmp_path / "k.json")


# ----------------------------------------------------------------------------- init_from_dn_
def test_init_from_dn_fills_only_masked_entries_reproducibly(fitted: dict) -> None:
    dn = fitted["kde"]
    mask = torch.rand(30, 40, generator=torch.Generator().manual_seed(0)) < 0.3
    w1 = torch.full((30, 40), 7.0, requires_grad=True)
    out = init_from_dn_(w1, dn, mask=mask, generator=torch.Generator().manual_seed(1))
    assert out is w1 and w1.requires_grad
    assert torch.all(w1[~mask] == 7.0) and torch.all(w1[mask] != 7.0)
    w2 = torch.full((30, 40), 7.0)
    init_from_dn_(w2, dn, mask=mask.to(torch.uint8), generator=torch.Generator().manual_seed(1))
    assert torch.equal(w1.detach(), w2)
    w3 = torch.full((30, 40), 7.0)
    init_from_dn_(w3, dn, mask=mask, generator=torch.Generator().manual_seed(2))
    assert not torch.equal(w2, w3)
    lo, hi = dn.support
    drawn = w1.detach()[mask]
    assert float(drawn.min()) > lo and float(drawn.max()) < hi


def test_init_from_dn_without_mask_and_global_seed(fitted: dict) -> None:
    dn = fitted["empirical"]
    torch.manual_seed(3)
    a = init_from_dn_(torch.empty(5, 6, dtype=torch.float64), dn)
    torch.manual_seed(3)
    b = init_from_dn_(torch.empty(5, 6, dtype=torch.float64), dn)
    assert torch.equal(a, b) and np.isin(a.numpy(), dn.values_).all()


def test_init_from_dn_errors(fitted: dict) -> None:
    dn = fitted["empirical"]
    with pytest.raises(
        ValueError, match=r"mask has shape \(2, 2\) but the tensor has shape \(3, 3\)"
    ):
        init_from_dn_(torch.zeros(3, 3), dn, mask=torch.ones(2, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="only 0 and 1"):
        init_from_dn_(torch.zeros(2, 2), dn, mask=torch.full((2, 2), 2))
    with pytest.raises(ValueError, match="floating dtype"):
        init_from_dn_(torch.zeros(2, 2, dtype=torch.int64), dn)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([], "values is empty"),
        ([0.1, np.nan, 0.2], r"1 non-finite value\(s\)"),
        ([0.1, np.inf, 0.2], "non-finite"),
        ([0.5] * 40, "values is constant"),
        ([0.5], r"has 1 value\(s\); need at least"),
        (np.zeros((3, 3)), r"got shape \(3, 3\) \(flatten it first\)"),
        ("abc", "must be an array of numbers"),
    ],
)
@pytest.mark.parametrize("cls", [EmpiricalDn, KDEDn, GMMDn])
def test_bad_values_raise_one_clear_sentence(cls: type, values: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cls().fit(values)


def test_as_sample_accepts_lists_tensors_and_row_vectors() -> None:
    assert as_sample([1, 2, 3]).dtype == np.float64
    assert as_sample(torch.tensor([[1.0, 2.0]])).shape == (2,)
    with pytest.raises(ValueError, match="weights has 3 value"):
        as_sample([1.0, 2.0, 3.0], min_size=5, name="weights")


def test_bad_hyperparameters() -> None:
    x = np.random.default_rng(12).normal(size=100)
    with pytest.raises(ValueError, match="unknown bandwidth rule 'wide'"):
        KDEDn(bandwidth="wide").fit(x)
    with pytest.raises(ValueError, match="positive finite"):
        KDEDn(bandwidth=-1.0).fit(x)
    with pytest.raises(ValueError, match="need at least 30"):
        GMMDn(max_components=10).fit(x[:20])
    with pytest.raises(ValueError, match="'bic' or a positive int"):
        GMMDn(n_components="aic").fit(x)
    with pytest.raises(ValueError, match="not fitted"):
        GMMDn().rvs(3)
    with pytest.raises(ValueError, match="size must be"):
        EmpiricalDn(x).rvs(-1)
    with pytest.raises(ValueError, match="random_state"):
        EmpiricalDn(x).rvs(2, random_state="seed")


def test_no_warnings_on_clean_data(dn_sample: np.ndarray) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        KDEDn().fit(dn_sample).pdf(np.linspace(-1, 1, 11))


# ----------------------------------------------------------------------------- views
class _FakeExperiment:
    trials = [0, 1]

    def theta_lt(self, trial: int, r: int, per_layer: bool = False, standardize: bool = False):
        layers = {"fc1": np.full(3, 1.0 + trial), "fc2": np.full(2, 10.0 + trial)}
        if standardize:
            layers = {k: v / 2.0 for k, v in layers.items()}
        return layers if per_layer else np.concatenate(list(layers.values()))


def test_views_pool_over_trials() -> None:
    exp = _FakeExperiment()
    assert theta_lt_view(exp, 1, 6).tolist() == [2, 2, 2, 11, 11]
    assert theta_lt_view(exp, 0, 6, view="standardized").tolist() == [0.5] * 3 + [5.0] * 2
    pooled = pooled_theta_lt(exp, 6, per_layer=True)
    assert pooled["fc1"].tolist() == [1, 1, 1, 2, 2, 2]
    assert pooled_theta_lt(exp, 6).size == 10
    with pytest.raises(ValueError, match="view must be one of raw, standardized"):
        theta_lt_view(exp, 0, 6, view="z")


def test_bench_runs_and_reports_json(capsys) -> None:
    from dn_analysis import bench

    bench.main(["--n", "2000", "--repeat", "1", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 2000
    assert {"kde_fit_eval[isj]", "gmm_select[1..10]"} <= set(out["results"])
    assert all(r["wall_s"] >= 0 for r in out["results"].values())
