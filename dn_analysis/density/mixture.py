"""One-dimensional Gaussian mixtures for D_n: free and sign-symmetric (± pairs), chosen by BIC.

D_n is roughly symmetric about 0 (the paper, Sec. 4.4: "rough symmetry", four peaks, a divot
at 0), so besides the free mixture we fit one whose components come in ± pairs: pair k is
``w_k * [N(x; +mu_k, s_k^2) + N(x; -mu_k, s_k^2)] / 2``. Such a density is exactly symmetric
and has 3K - 1 free parameters for K pairs (a free K-component mixture has 3K - 1 as well),
so BIC compares the two on equal terms.

Both EMs run on the linearly binned data (2,048 weighted points instead of 60,000 values; the
binning error is O(bin^2), far below the components' widths), accelerated by SQUAREM, and the
BIC uses the exact log-likelihood of the raw values. The free fit is scikit-learn's
GaussianMixture algorithm (k-means start, EM) run on the bins, because on the raw 60,000 values
scikit-learn needs a loose tolerance to be fast, and at its default tol=1e-3 the
log-likelihood is off by hundreds of units, more than the BIC differences being compared
(at a matched tolerance it took ~128 s for K = 1..10 on 60,000 D_n values, against ~2 s binned,
with a slightly lower likelihood; ``engine="sklearn"`` keeps it available as a cross-check). The symmetric EM is a
direct EM on the constrained model. E-step:
responsibilities of the 2K half-components. M-step: a point assigned to the -mu_k half counts
as its mirror image -x for pair k, so ``mu_k = sum_j c_j (r+ - r-) x_j / N_k`` and
``s_k^2 = sum_j c_j [r+ (x_j - mu_k)^2 + r- (x_j + mu_k)^2] / N_k``; it runs on the folded
values |x| (a symmetric density has the same likelihood at x and |x|). Both fits run on data
divided by their spread (sd; RMS about 0 for the symmetric one), so the variance floor is
relative and the result scale-equivariant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from dn_analysis.density.binned import linear_bin
from dn_analysis.density.modes import grid_modes

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


@dataclass(frozen=True)
class Mixture1D:
    """A 1-D Gaussian mixture: weights (sum 1), means, standard deviations."""

    weights: np.ndarray
    means: np.ndarray
    sds: np.ndarray

    def _component_logpdf(self, x: np.ndarray) -> np.ndarray:
        z = (x[..., None] - self.means) / self.sds
        return -0.5 * z**2 - np.log(self.sds) - _LOG_SQRT_2PI

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """log density, computed with logsumexp (finite far in the tails)."""
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(divide="ignore"):
            logw = np.log(self.weights)
        return special.logsumexp(self._component_logpdf(x) + logw, axis=-1)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Density at `x`."""
        return np.exp(self.logpdf(x))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """sum_k w_k Phi((x - mu_k) / s_k)."""
        x = np.asarray(x, dtype=np.float64)
        w = self.weights / self.weights.sum()  # so the far tail gives exactly 1
        return np.clip(special.ndtr((x[..., None] - self.means) / self.sds) @ w, 0.0, 1.0)

    def mean(self) -> float:
        """Mixture mean sum_k w_k mu_k."""
        return float(self.weights @ self.means)

    def var(self) -> float:
        """Mixture variance sum_k w_k (s_k^2 + mu_k^2) - mean^2."""
        m = self.mean()
        return float(self.weights @ (self.sds**2 + self.means**2) - m * m)

    def rvs(self, size: int | tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Draw a component for each value, then a normal from it."""
        shape = (size,) if np.isscalar(size) else tuple(size)
        comp = rng.choice(self.weights.size, size=shape, p=self.weights / self.weights.sum())
        return self.means[comp] + self.sds[comp] * rng.standard_normal(shape)

    def modes(self, *, grid_size: int = 16385, min_rel_height: float = 1e-6) -> np.ndarray:
        """Modes of the mixture DENSITY (not its component means), found on a fine grid.

        The grid spans every component's mean +- 5 sd; its spacing is also capped at a tenth of
        the narrowest component's sd, so no peak falls between grid points.
        """
        lo = float(np.min(self.means - 5 * self.sds))
        hi = float(np.max(self.means + 5 * self.sds))
        size = int(max(grid_size, min(2**20, np.ceil((hi - lo) / (0.1 * self.sds.min())) + 1)))
        grid = np.linspace(lo, hi, size)
        return grid_modes(grid, self.pdf(grid), min_rel_height=min_rel_height)


def n_mixture_params(k: int) -> int:
    """Free parameters of a K-component 1-D mixture (or K ± pairs): K weights - 1 + K means + K sds."""
    return 3 * k - 1


def bic(loglik: float, k: int, n: int) -> float:
    """Schwarz's BIC, -2 log L + p log n (smaller is better)."""
    return -2.0 * loglik + n_mixture_params(k) * np.log(n)


def _binned(z: np.ndarray, lo: float, hi: float, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Linearly binned data: the non-empty grid points and their weights (sum = len(z))."""
    y = np.linspace(lo, hi, n_bins)
    c = linear_bin(z, lo, hi, n_bins)
    keep = c > 0
    return y[keep], c[keep]


def _kmeans_start(
    y: np.ndarray, c: np.ndarray, k: int, random_state: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted k-means on the bins (scikit-learn's GaussianMixture default start, binned)."""
    from sklearn.cluster import KMeans  # imported here: sklearn is slow to import

    k_eff = min(k, y.size)
    km = KMeans(n_clusters=k_eff, n_init=1, random_state=random_state).fit(
        y[:, None], sample_weight=c
    )
    mu = np.empty(k)
    var = np.empty(k)
    w = np.empty(k)
    spread = float(np.average((y - np.average(y, weights=c)) ** 2, weights=c))
    for j in range(k):
        sel = km.labels_ == j if j < k_eff else np.zeros(y.size, bool)
        mass = float(c[sel].sum())
        if mass > 0:
            mu[j] = float(np.average(y[sel], weights=c[sel]))
            var[j] = float(np.average((y[sel] - mu[j]) ** 2, weights=c[sel]))
        else:  # more components than distinct bins: park it at the mean
            mu[j], var[j] = float(np.average(y, weights=c)), spread
        w[j] = mass
    w = np.maximum(w, 1e-12)
    return w / w.sum(), mu, np.sqrt(np.maximum(var, 1e-4 * spread))


# SQUAREM extrapolation may propose extreme parameters; the guard rejects them, so their
# overflow warnings are noise.
@np.errstate(over="ignore", invalid="ignore", divide="ignore")
def _em_step(
    y: np.ndarray, c: np.ndarray, u: np.ndarray, symmetric: bool, var_floor: float
) -> tuple[np.ndarray, float]:
    """One EM update of the packed parameters u = (log w, mu, log s); returns (u', loglik(u)).

    Free: the usual 1-D Gaussian-mixture EM. Symmetric: component k is a ± pair; a point
    assigned to the -mu_k half counts as its mirror image (see the module docstring).
    The log-likelihood is the mean per value, at the INPUT parameters.
    """
    k = u.size // 3
    logw = u[:k] - special.logsumexp(u[:k])
    mu, s = u[k : 2 * k], np.exp(u[2 * k :])
    base = logw - np.log(s) - _LOG_SQRT_2PI
    d = y[:, None] - mu
    if symmetric:
        lp = base - np.log(2.0) - 0.5 * (d / s) ** 2
        lm = base - np.log(2.0) - 0.5 * ((y[:, None] + mu) / s) ** 2
        top = np.maximum(lp.max(axis=1), lm.max(axis=1))
        ep, em = np.exp(lp - top[:, None]), np.exp(lm - top[:, None])
        norm = ep.sum(axis=1) + em.sum(axis=1)
        scale = (c / norm)[:, None]
        rp, rm = ep * scale, em * scale
        nk = (rp + rm).sum(axis=0) + 1e-300
        mu_new = np.abs(((rp - rm) * y[:, None]).sum(axis=0) / nk)
        var = (rp * (y[:, None] - mu_new) ** 2 + rm * (y[:, None] + mu_new) ** 2).sum(axis=0) / nk
    else:
        lp = base - 0.5 * (d / s) ** 2
        top = lp.max(axis=1)
        ep = np.exp(lp - top[:, None])
        norm = ep.sum(axis=1)
        r = ep * (c / norm)[:, None]
        nk = r.sum(axis=0) + 1e-300
        mu_new = (r * y[:, None]).sum(axis=0) / nk
        var = (r * (y[:, None] - mu_new) ** 2).sum(axis=0) / nk
    ll = float(c @ (top + np.log(norm))) / float(c.sum())
    w_new = np.maximum(nk / nk.sum(), 1e-300)
    return np.concatenate([np.log(w_new), mu_new, 0.5 * np.log(var + var_floor)]), ll


def _em(
    y: np.ndarray,
    c: np.ndarray,
    w: np.ndarray,
    mu: np.ndarray,
    s: np.ndarray,
    *,
    symmetric: bool,
    max_iter: int,
    tol: float,
    var_floor: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, int]:
    """EM on bins `y` with weights `c`, accelerated by SQUAREM (Varadhan & Roland 2008).

    Mixtures fitted to D_n's flat stretches and hard edges converge slowly under plain EM
    (thousands of steps); SQUAREM extrapolates along two successive EM steps and keeps the
    result only if the likelihood did not drop, else it keeps the plain EM steps, so the
    likelihood still never decreases. Stops when the TOTAL log-likelihood improves by less than
    `tol` per cycle of 2-3 EM steps, or after `max_iter` EM steps (0.01 is far below the BIC's
    resolution, ~log(n) per parameter; over-specified K can otherwise crawl for thousands of
    steps gaining ~1e-7 per value each). Returns (w, mu, s, loglik, steps).
    """
    u = np.concatenate([np.log(np.maximum(w, 1e-300)), mu, np.log(s)])
    tol = tol / float(c.sum())  # total log-likelihood -> per value
    prev = -np.inf
    steps = 0
    ll = -np.inf
    while steps < max_iter:
        u1, ll0 = _em_step(y, c, u, symmetric, var_floor)
        u2, ll1 = _em_step(y, c, u1, symmetric, var_floor)
        steps += 2
        r = u1 - u
        v = u2 - u1 - r
        nv = float(np.linalg.norm(v))
        u_next, ll = u2, ll1
        if nv > 0:
            alpha = min(-float(np.linalg.norm(r)) / nv, -1.0)
            u_ex = u - 2.0 * alpha * r + alpha**2 * v
            if np.all(np.isfinite(u_ex)):
                u3, ll_ex = _em_step(y, c, u_ex, symmetric, var_floor)
                steps += 1
                if np.isfinite(ll_ex) and ll_ex >= ll1 and np.all(np.isfinite(u3)):
                    u_next, ll = u3, ll_ex
        u = u_next
        if abs(ll - prev) < tol and abs(ll1 - ll0) < tol:
            break
        prev = ll
    k = u.size // 3
    w = np.exp(u[:k] - special.logsumexp(u[:k]))
    return w, u[k : 2 * k].copy(), np.exp(u[2 * k :]), ll, steps


def fit_free_gmm(
    x: np.ndarray,
    k: int,
    *,
    random_state: int = 0,
    n_init: int = 1,
    engine: str = "binned",
    max_iter: int = 1000,
    tol: float = 1e-2,
    n_bins: int = 2048,
) -> Mixture1D:
    """Fit a free K-component mixture to x (on the scale x / sd, so the variance floor is relative).

    ``engine="binned"`` (default): EM on the linearly binned data, started from weighted
    k-means on the bins, i.e. scikit-learn's GaussianMixture algorithm on 4,096 weighted points
    instead of 60,000 values, which lets it run to a tight tolerance. ``engine="sklearn"``:
    scikit-learn's GaussianMixture on the raw values with the same tolerance (slower, kept
    as a cross-check).
    """
    scale = float(np.std(x))
    z = x / scale
    if engine == "sklearn":
        from sklearn.mixture import GaussianMixture  # imported here: sklearn is slow to import

        gm = GaussianMixture(
            n_components=k,
            random_state=random_state,
            n_init=n_init,
            max_iter=max_iter,
            tol=tol / z.size,  # scikit-learn's tol is per value; ours is total
            reg_covar=1e-6,
        ).fit(z[:, None])
        w, mu, s = gm.weights_, gm.means_[:, 0], np.sqrt(gm.covariances_[:, 0, 0])
    elif engine == "binned":
        y, c = _binned(z, float(z.min()), float(z.max()), n_bins)
        best = None
        for start in range(max(1, n_init)):
            w0, mu0, s0 = _kmeans_start(y, c, k, random_state + start)
            fit = _em(
                y, c, w0, mu0, s0, symmetric=False, max_iter=max_iter, tol=tol, var_floor=1e-6
            )
            if best is None or fit[3] > best[3]:
                best = fit
        assert best is not None
        w, mu, s = best[0], best[1], best[2]
    else:
        raise ValueError(f"engine must be 'binned' or 'sklearn', got {engine!r}.")
    order = np.argsort(mu)
    return Mixture1D(weights=w[order].copy(), means=mu[order] * scale, sds=s[order] * scale)


@dataclass(frozen=True)
class SymmetricPairs:
    """K ± pairs: pair k puts weight w_k/2 on N(+mu_k, s_k^2) and w_k/2 on N(-mu_k, s_k^2)."""

    weights: np.ndarray
    means: np.ndarray  # mu_k >= 0
    sds: np.ndarray

    def to_mixture(self) -> Mixture1D:
        """The 2K-component mixture this describes (components sorted by mean)."""
        w = np.concatenate([self.weights, self.weights]) / 2.0
        m = np.concatenate([-self.means, self.means])
        s = np.concatenate([self.sds, self.sds])
        order = np.argsort(m, kind="stable")
        return Mixture1D(weights=w[order], means=m[order], sds=s[order])


def fit_symmetric_gmm(
    x: np.ndarray,
    k: int,
    *,
    random_state: int = 0,
    n_init: int = 1,
    max_iter: int = 1000,
    tol: float = 1e-2,
    n_bins: int = 1024,
) -> SymmetricPairs:
    """Fit K ± pairs by EM on the binned |x| (see the module docstring).

    A symmetric density has the same likelihood at x and |x|, so the EM runs on the folded
    values (1,024 bins on [0, max|x|] = the resolution of 2,048 on the full range). Starts: weighted k-means on the folded
    bins gives mu_k, s_k, w_k; with ``n_init > 1`` further k-means seeds; the best binned
    log-likelihood wins.
    """
    scale = float(np.sqrt(np.mean(x**2)))  # RMS about 0: keeps the centre of symmetry at 0
    a = np.abs(x) / scale
    y, c = _binned(a, 0.0, float(a.max()), n_bins)
    best = None
    for start in range(max(1, n_init)):
        w0, mu0, s0 = _kmeans_start(y, c, k, random_state + start)
        fit = _em(
            y, c, w0, np.abs(mu0), s0, symmetric=True, max_iter=max_iter, tol=tol, var_floor=1e-6
        )
        if best is None or fit[3] > best[3]:
            best = fit
    assert best is not None
    w, mu, s = best[0], best[1], best[2]
    order = np.argsort(mu)
    return SymmetricPairs(weights=w[order], means=mu[order] * scale, sds=s[order] * scale)


def select_gmm(
    x: np.ndarray,
    *,
    n_components: int | str = "bic",
    max_components: int = 10,
    symmetric: bool = False,
    random_state: int = 0,
    n_init: int = 1,
    engine: str = "binned",
) -> tuple[Mixture1D, SymmetricPairs | None, int, dict[int, float]]:
    """Fit K = 1..max_components (or the given K) and keep the smallest BIC.

    Returns the mixture, the ± pairs when `symmetric`, the chosen K (pairs when symmetric),
    and {K: BIC}. BIC uses the exact log-likelihood of the raw values.
    """
    if isinstance(n_components, str):
        if n_components != "bic":
            raise ValueError(f"n_components must be 'bic' or a positive int, got {n_components!r}.")
        ks = list(range(1, int(max_components) + 1))
    else:
        ks = [int(n_components)]
    if not ks or ks[0] < 1:
        raise ValueError(
            f"need at least one component, got n_components={n_components!r}, max_components={max_components!r}."
        )
    if ks[-1] > x.size:
        raise ValueError(
            f"cannot fit {ks[-1]} components to {x.size} values; lower max_components."
        )
    scores: dict[int, float] = {}
    best: tuple[float, Mixture1D, SymmetricPairs | None, int] | None = None
    for k in ks:
        pairs = None
        if symmetric:
            pairs = fit_symmetric_gmm(x, k, random_state=random_state, n_init=n_init)
            mix = pairs.to_mixture()
        else:
            mix = fit_free_gmm(x, k, random_state=random_state, n_init=n_init, engine=engine)
        score = bic(float(mix.logpdf(x).sum()), k, x.size)
        scores[k] = score
        if best is None or score < best[0]:
            best = (score, mix, pairs, k)
    assert best is not None
    return best[1], best[2], best[3], scores
