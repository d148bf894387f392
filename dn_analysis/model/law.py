"""The drift law: how training moves one weight away from its initial value, round after round.

Every pruning round rewinds the surviving weights to θ0 and trains them again, so the trained
value of training round r (r = 0 is the dense network, r = 1 the first pruned one) is

    θ'_r = μ_r + c_r · θ0 + Δ_r,      μ_r = mu + mu_slope·r,   c_r = c + c_slope·r,

with a drift Δ_r that belongs to the weight: the same weight retrained after a rewind drifts the
same way again. Within a mobility class (see fit.py) Δ is a Gaussian process over the rounds:

    Δ_0 = σ0·ε_0                                   the dense round
    Δ_1 = β·Δ_0 + s1·ε_1                           the first retraining after a rewind
    Δ_r = b1·Δ_{r-1} + b2·Δ_{r-2} + s·e^{g(r-2)}·ε_r   r >= 2, ε i.i.d. N(0, 1)

b1 + b2 near 1 means a persistent drift; s is how much of it is renewed per round and g its growth
as the network gets sparser. All values are in units of the layer's init scale (init_bound, or
init_std for a normal init), so classes and layers compare. No parameter is one value per round:
the law predicts any round, which is what extrapolation needs.
"""

from __future__ import annotations

import numpy as np

NAMES = ("mu", "mu_slope", "c", "c_slope", "log_sigma0", "beta", "log_s1", "b1", "b2", "log_s", "g")
N_PARAMS = len(NAMES)


def neutral(sigma0: float) -> np.ndarray:
    """A start for the fit: no shift, c = 1, a persistent drift of size sigma0."""
    return np.array([0.0, 0.0, 1.0, 0.0, np.log(sigma0), 0.9, np.log(0.4 * sigma0), 0.9, 0.0,
                     np.log(0.4 * sigma0), 0.0])


def means(theta: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(μ_r, c_r) for r = 0..n-1."""
    r = np.arange(n)
    return theta[0] + theta[1] * r, theta[2] + theta[3] * r


def innovation_sd(theta: np.ndarray, n: int) -> np.ndarray:
    """sd of the new part of Δ_r in round r (σ0, s1, then s·e^{g(r-2)})."""
    r = np.arange(n)
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


def residual_coefs(theta: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A (n, 5) and variances (n,): ε_r·sd_r = A[r] · (1, θ0, θ'_{r-2}, θ'_{r-1}, θ'_r).

    A linear function of the observed values, so the fit needs only their second moments.
    """
    mu, c = means(theta, n)
    sd = innovation_sd(theta, n)
    coefs = np.zeros((n, 5))
    for r in range(n):
        b1, b2 = lags(theta, r)
        m1 = (mu[r - 1], c[r - 1]) if r >= 1 else (0.0, 0.0)
        m2 = (mu[r - 2], c[r - 2]) if r >= 2 else (0.0, 0.0)
        coefs[r] = [-mu[r] + b1 * m1[0] + b2 * m2[0], -c[r] + b1 * m1[1] + b2 * m2[1], -b2, -b1, 1.0]
    return coefs, sd**2


def simulate(theta: np.ndarray, theta0: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """θ' of rounds 0..n-1 (len(theta0), n) for weights starting at `theta0` (init units)."""
    mu, c = means(theta, n)
    sd = innovation_sd(theta, n)
    out = np.empty((theta0.size, n))
    d1 = d2 = np.zeros(theta0.size)
    for r in range(n):
        b1, b2 = lags(theta, r)
        d = b1 * d1 + b2 * d2 + sd[r] * rng.standard_normal(theta0.size)
        out[:, r] = mu[r] + c[r] * theta0 + d
        d1, d2 = d, d1
    return out


def describe(theta: np.ndarray) -> dict[str, float]:
    """The parameters by name, scales as sds (not logs)."""
    d = dict(zip(NAMES, map(float, theta), strict=True))
    for k in ("log_sigma0", "log_s1", "log_s"):
        d[k[4:]] = float(np.exp(d.pop(k)))
    return d


def from_description(d: dict[str, float]) -> np.ndarray:
    vals = {**d, **{f"log_{k}": np.log(d[k]) for k in ("sigma0", "s1", "s")}}
    return np.array([float(vals[k]) for k in NAMES])
