"""Fit the drift law of one layer: a mixture of mobility classes, by EM on weighted trajectories.

Weights of one layer do not all move alike: some barely move (e.g. FC-1 weights reading pixels
that are almost always background), others move a lot, and a weight keeps its mobility across
rewinds. So each layer is a mixture of K classes with their own law (law.py), and a weight's class
is latent. Pruning removes a weight when its *observed* |θ'| is small, so the data are missing at
random given what was seen and the likelihood of the observed part of each trajectory is the
product of the per-round conditionals of law.py: no correction for the selection is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize, minimize_scalar

from dn_analysis.model import law
from dn_analysis.model.stats import Trajectories

SHARED: tuple[str, ...] = ()  # law parameters with one value per layer (see fit_layer)
RIDGE = 1e-4  # keeps the trend parameters of rounds the fit cannot see at their neutral values


@dataclass
class LayerFit:
    weights: np.ndarray      # (K,) class probabilities
    thetas: np.ndarray       # (K, N_PARAMS) law parameters in init units
    loglik: float
    n_iter: int


def design(traj: Trajectories, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Z (N, n+2) = (1, θ0, θ'_0, ..., θ'_{n-1}) in init units (0 once pruned), and alive (N, n)."""
    y = traj.trained.astype(np.float64) / scale
    alive = ~np.isnan(y)
    z = np.column_stack([np.ones(y.shape[0]), traj.theta0.astype(np.float64) / scale, np.nan_to_num(y)])
    return z, alive


def _negll(theta: np.ndarray, grams: np.ndarray, counts: np.ndarray) -> float:
    coefs, var = law.residual_coefs(theta, len(counts))
    if not np.all(np.isfinite(var)):
        return np.inf
    quad = np.einsum("ri,rij,rj->r", coefs, grams, coefs)
    floor = max(0.0, -8.0 - theta[11]) ** 2 if np.isfinite(theta[11]) else 0.0  # nu fixed at 0: no floor
    ridge = RIDGE * counts.sum() * (theta[1] ** 2 + theta[3] ** 2 + theta[10] ** 2 + theta[8] ** 2 + floor)
    return float(0.5 * np.sum(quad / var + counts * np.log(var)) + ridge)


def _with(theta: np.ndarray, index: int, value: float) -> np.ndarray:
    out = theta.copy()
    out[index] = value
    return out


def _m_step(thetas: np.ndarray, grams: list[np.ndarray], counts: list[np.ndarray], shared: list[int],
            fixed: tuple[int, ...] = ()) -> None:
    """Conditional maximization: each class's own parameters, then each shared one (ECM); `fixed` stay."""
    free = [i for i in range(law.N_PARAMS) if i not in shared and i not in fixed]
    for k, theta in enumerate(thetas):
        def f(v: np.ndarray, theta: np.ndarray = theta, k: int = k) -> float:
            full = theta.copy()
            full[free] = v
            return _negll(full, grams[k], counts[k])

        thetas[k, free] = minimize(f, theta[free], method="L-BFGS-B", options={"maxiter": 200}).x
    for i in shared:
        def g(v: float, i: int = i) -> float:
            return sum(_negll(_with(t, i, v), gk, ck) for t, gk, ck in zip(thetas, grams, counts, strict=True))

        thetas[:, i] = minimize_scalar(g, bounds=(-1.0, 1.0), method="bounded").x


def _row_loglik(theta: np.ndarray, z: np.ndarray, alive: np.ndarray) -> np.ndarray:
    coefs, var = law.residual_coefs(theta, alive.shape[1])
    e = z @ coefs.T
    return np.sum(np.where(alive, -0.5 * e * e / var - 0.5 * np.log(var), 0.0), axis=1)


def fit_layer(traj: Trajectories, scale: float, n_classes: int = 3, max_iter: int = 60,
              tol: float = 1e-7, shared: tuple[str, ...] = SHARED, fixed: dict[int, float] | None = None
              ) -> LayerFit:
    """EM: responsibilities from the row likelihoods, then per class a weighted ML of the law.

    Parameters named in `shared` take one value for all classes of the layer: the growth g of the
    drift as the network thins is a property of the layer, and tying it lets the calm classes,
    seen through many rounds, inform the mobile ones, whose weights leave early. Parameters in
    `fixed` ({index in law.NAMES: value}) keep that value in every class (law.NO_PERSISTENCE
    switches the persistent drift off).
    """
    fixed = dict(fixed or {})
    tied = [law.NAMES.index(n) for n in shared]
    z, alive = design(traj, scale)
    w = traj.weight.astype(np.float64)
    d0 = np.abs(z[:, 2] - z[:, 1])
    edges = np.quantile(d0, np.linspace(0, 1, n_classes + 1)[1:-1])
    cls = np.searchsorted(edges, d0)
    resp = np.eye(n_classes)[cls] * 0.9 + 0.1 / n_classes
    thetas = np.array([law.neutral(max(float(np.sqrt(np.average(d0[cls == k] ** 2, weights=w[cls == k]))), 1e-3))
                       for k in range(n_classes)])
    for i, v in fixed.items():
        thetas[:, i] = v
    prev = -np.inf
    total = -np.inf
    n_iter = 0
    for it in range(1, max_iter + 1):
        n_iter = it
        grams, counts = [], []
        for k in range(n_classes):
            wk = (w * resp[:, k])[:, None] * alive
            grams.append(np.stack([(z * wk[:, r:r + 1]).T @ z for r in range(alive.shape[1])]))
            counts.append(wk.sum(axis=0))
        _m_step(thetas, grams, counts, tied, tuple(fixed))
        ll = np.stack([_row_loglik(t, z, alive) for t in thetas], axis=1)
        pi = (w[:, None] * resp).sum(axis=0) / w.sum()
        joint = ll + np.log(np.maximum(pi, 1e-300))[None, :]
        top = joint.max(axis=1, keepdims=True)
        row = top[:, 0] + np.log(np.exp(joint - top).sum(axis=1))
        total = float(np.sum(w * row))
        resp = np.exp(joint - row[:, None])
        if abs(total - prev) <= tol * abs(total):
            break
        prev = total
    pi = (w[:, None] * resp).sum(axis=0) / w.sum()
    order = np.argsort([law.innovation_sd(t, 1)[0] for t in thetas])   # classes from calm to mobile
    return LayerFit(pi[order], thetas[order], total, n_iter)
