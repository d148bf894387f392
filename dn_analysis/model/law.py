"""The drift law: how training moves one weight away from its initial value, round after round.

Every pruning round rewinds the surviving weights to θ0 and trains them again, so the trained
value of training round r (r = 0 is the dense network, r = 1 the first pruned one) is

    θ'_r = μ_r + c_r · θ0 + Δ_r,      μ_r = mu + mu_slope·r,   c_r = c + c_slope·r,

with a drift Δ_r that belongs to the weight: the same weight retrained after a rewind drifts the
same way again. Within a mobility class (see fit.py) Δ is a Gaussian process over the rounds,
a permanent part ν (the same in every round) plus a part A that is renewed a little each round:

    Δ_r = ν + A_r,  ν ~ N(0, nu²)
    A_0 = σ0·ε_0                                   the dense round
    A_1 = β·A_0 + s1·ε_1                           the first retraining after a rewind
    A_r = b1·A_{r-1} + b2·A_{r-2} + s·e^{g(r-2)}·ε_r   r >= 2, ε i.i.d. N(0, 1)

nu is the drift a weight keeps through every rewind; b1, b2 the memory of the renewed part, s how
much of it is new per round and g its growth as the network gets sparser. All values are in units of the layer's init scale (init_bound, or
init_std for a normal init), so classes and layers compare. No parameter is one value per round:
the law predicts any round, which is what extrapolation needs.
"""

from __future__ import annotations

import numpy as np

NAMES = ("mu", "mu_slope", "c", "c_slope", "log_sigma0", "beta", "log_s1", "b1", "b2", "log_s", "g", "log_nu")
SCALES = ("sigma0", "s1", "s", "nu")
N_PARAMS = len(NAMES)
NO_NU = -np.inf  # log_nu of a law without the permanent drift ν
# A law without persistent drift (DnModel(persistent_drift=False)): no ν and no memory of the renewed
# part across rewinds (β = b1 = b2 = 0), so each retraining draws its drift afresh. Switching off ν
# alone changes little: with b1 free the renewed part carries the same persistence.
NO_PERSISTENCE = {"log_nu": NO_NU, "beta": 0.0, "b1": 0.0, "b2": 0.0}


def neutral(sigma0: float) -> np.ndarray:
    """A start for the fit: no shift, c = 1, a persistent drift of size sigma0."""
    return np.array([0.0, 0.0, 1.0, 0.0, np.log(0.8 * sigma0), 0.8, np.log(0.4 * sigma0), 0.8, 0.0,
                     np.log(0.4 * sigma0), 0.0, np.log(0.5 * sigma0)])


def means(theta: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(μ_r, c_r) for r = 0..n-1."""
    r = np.arange(n)
    return theta[0] + theta[1] * r, theta[2] + theta[3] * r


def innovation_sd(theta: np.ndarray, n: int) -> np.ndarray:
    """sd of the new part of Δ_r in round r (σ0, s1, then s·e^{g(r-2)})."""
    r = np.arange(n)
    with np.errstate(over="ignore"):  # a line search may try g so large that sd overflows: inf is the answer
        sd = np.exp(theta[9] + theta[10] * (r - 2.0))
    sd[:2] = np.exp([theta[4], theta[6]])[: min(n, 2)]
    return sd


def lags(theta: np.ndarray, r: int) -> tuple[float, float]:
    """(coefficient of Δ_{r-1}, coefficient of Δ_{r-2}) in round r."""
    if r == 0:
        return 0.0, 0.0
    if r == 1:
        return float(theta[5]), 0.0
    return float(theta[7]), float(theta[8])


def loadings(theta: np.ndarray, n: int) -> np.ndarray:
    """L (n, n) with A = L·ε: the renewed part of the drift as a function of the innovations."""
    sd = innovation_sd(theta, n)
    out = np.zeros((n, n))
    for r in range(n):
        b1, b2 = lags(theta, r)
        if r >= 1:
            out[r] += b1 * out[r - 1]
        if r >= 2:
            out[r] += b2 * out[r - 2]
        out[r, r] = sd[r]
    return out


def covariance(theta: np.ndarray, n: int) -> np.ndarray:
    """Cov(Δ_0..Δ_{n-1}) = L Lᵀ + nu²·11ᵀ."""
    with np.errstate(over="ignore", invalid="ignore"):  # overflowing laws give inf/nan: see residual_coefs
        lo = loadings(theta, n)
        return lo @ lo.T + np.exp(2 * theta[11])


def residual_coefs(theta: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A (n, n+2) and variances (n,): Δ_r - E[Δ_r | Δ_<r] = A[r] · (1, θ0, θ'_0, ..., θ'_{n-1}).

    A[r] is zero on the rounds after r. A linear function of the observed values, so the fit needs
    only their weighted second moments. A law whose covariance overflows (a line search can step
    there) gets infinite variances: an impossible likelihood the optimizer steps back from.
    """
    mu, c = means(theta, n)
    cov = covariance(theta, n)
    coefs = np.zeros((n, n + 2))
    if not np.all(np.isfinite(cov)):
        return coefs, np.full(n, np.inf)
    var = np.empty(n)
    for r in range(n):
        b = _regression(cov[:r, :r], cov[:r, r]) if r else np.zeros(0)
        var[r] = cov[r, r] - cov[:r, r] @ b
        coefs[r, 0] = -mu[r] + b @ mu[:r]
        coefs[r, 1] = -c[r] + b @ c[:r]
        coefs[r, 2:2 + r] = -b
        coefs[r, 2 + r] = 1.0
    return coefs, np.maximum(var, 1e-12)  # sd >= 1e-6 init units: keeps quad / var finite


def _regression(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a⁻¹b; least squares where a is singular (a drift with no innovation left repeats a round)."""
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(a, b, rcond=None)[0]


def simulate(theta: np.ndarray, theta0: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """θ' of rounds 0..n-1 (len(theta0), n) for weights starting at `theta0` (init units)."""
    mu, c = means(theta, n)
    drift = rng.standard_normal((theta0.size, n)) @ loadings(theta, n).T
    drift += np.exp(theta[11]) * rng.standard_normal((theta0.size, 1))
    return mu[None, :] + c[None, :] * theta0[:, None] + drift


def describe(theta: np.ndarray) -> dict[str, float]:
    """The parameters by name, scales as sds (not logs)."""
    d = dict(zip(NAMES, map(float, theta), strict=True))
    for k in SCALES:
        d[k] = float(np.exp(d.pop(f"log_{k}")))
    return d


def from_description(d: dict[str, float]) -> np.ndarray:
    with np.errstate(divide="ignore"):  # nu = 0: log_nu = NO_NU
        vals = {**d, **{f"log_{k}": np.log(d[k]) for k in SCALES}}
    return np.array([float(vals[k]) for k in NAMES])
