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
from scipy.optimize import minimize

from dn_analysis.model import law
from dn_analysis.model.stats import Trajectories

RIDGE = 1e-4  # keeps the trend parameters of rounds the fit cannot see at their neutral values


@dataclass
class LayerFit:
    weights: np.ndarray      # (K,) class probabilities
    thetas: np.ndarray       # (K, N_PARAMS) law parameters in init units
    loglik: float
    n_iter: int


def design(traj: Trajectories, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Z (N, n, 5) = (1, θ0, θ'_{r-2}, θ'_{r-1}, θ'_r) per round in init units, and alive (N, n)."""
    y = traj.trained.astype(np.float64) / scale
    alive = ~np.isnan(y)
    y = np.nan_to_num(y)
    n_obs, n = y.shape
    z = np.zeros((n_obs, n, 5))
    z[:, :, 0] = 1.0
    z[:, :, 1] = traj.theta0.astype(np.float64)[:, None] / scale
    z[:, 2:, 2] = y[:, :-2]
    z[:, 1:, 3] = y[:, :-1]
    z[:, :, 4] = y
    return z, alive


def _negll(theta: np.ndarray, grams: np.ndarray, counts: np.ndarray) -> float:
    coefs, var = law.residual_coefs(theta, len(counts))
    quad = np.einsum("ri,rij,rj->r", coefs, grams, coefs)
    ridge = RIDGE * counts.sum() * (theta[1] ** 2 + theta[3] ** 2 + theta[10] ** 2 + theta[8] ** 2)
    return float(0.5 * np.sum(quad / var + counts * np.log(var)) + ridge)


def _row_loglik(theta: np.ndarray, z: np.ndarray, alive: np.ndarray) -> np.ndarray:
    coefs, var = law.residual_coefs(theta, z.shape[1])
    e = np.einsum("nri,ri->nr", z, coefs)
    return np.sum(np.where(alive, -0.5 * e * e / var - 0.5 * np.log(var), 0.0), axis=1)


def fit_layer(traj: Trajectories, scale: float, n_classes: int = 3, max_iter: int = 60,
              tol: float = 1e-7) -> LayerFit:
    """EM: responsibilities from the row likelihoods, then per class a weighted ML of the law."""
    z, alive = design(traj, scale)
    w = traj.weight.astype(np.float64)
    d0 = np.abs(z[:, 0, 4] - z[:, 0, 1])
    edges = np.quantile(d0, np.linspace(0, 1, n_classes + 1)[1:-1])
    cls = np.searchsorted(edges, d0)
    resp = np.eye(n_classes)[cls] * 0.9 + 0.1 / n_classes
    thetas = np.array([law.neutral(max(float(np.sqrt(np.average(d0[cls == k] ** 2, weights=w[cls == k]))), 1e-3))
                       for k in range(n_classes)])
    prev = -np.inf
    total = -np.inf
    n_iter = 0
    for it in range(1, max_iter + 1):
        n_iter = it
        ll = np.empty((z.shape[0], n_classes))
        for k in range(n_classes):
            wk = (w * resp[:, k])[:, None] * alive
            grams = np.einsum("nr,nri,nrj->rij", wk, z, z)
            counts = wk.sum(axis=0)
            res = minimize(_negll, thetas[k], args=(grams, counts), method="L-BFGS-B",
                           options={"maxiter": 200})
            thetas[k] = res.x
            ll[:, k] = _row_loglik(thetas[k], z, alive)
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
