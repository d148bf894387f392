"""Synthetic samples shaped like D_n, for tests and benchmarks that must not need a training run.

Magnitude pruning keeps the weights that are large AFTER training; if training moved nothing,
θ_LT would be θ0 with |θ0| below a quantile removed (a hard hole at 0). Training noise
softens the hole: a small initial weight survives when training pushed it out. ``drift``
sets that noise in units of the init's standard deviation.
"""

from __future__ import annotations

import numpy as np

_FC1_BOUND = float(np.sqrt(6.0 / (784 + 300)))  # Xavier-uniform bound of FC-1's first layer


def synthetic_dn(
    n: int,
    *,
    init: str = "xavier_uniform",
    scale: float = _FC1_BOUND,
    keep: float = 0.262,
    drift: float = 0.0,
    random_state: int | np.random.Generator | None = 0,
) -> np.ndarray:
    """Return `n` surviving initial weights of a simulated one-shot magnitude pruning.

    `init` is ``xavier_uniform`` (U(-scale, scale)) or ``normal`` (N(0, scale^2)); `keep` is the
    surviving fraction (0.262 = 6 rounds at 20%); `drift` > 0 adds N(0, (drift * sd)^2) training
    noise before ranking by magnitude.
    """
    if n < 1:
        raise ValueError(f"n must be a positive number of values, got {n}.")
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep must be a fraction in (0, 1], got {keep}.")
    rng = np.random.default_rng(random_state)
    total = int(np.ceil(n / keep))
    if init == "xavier_uniform":
        theta0 = rng.uniform(-scale, scale, total)
        sd = scale / np.sqrt(3.0)
    elif init == "normal":
        theta0 = rng.normal(0.0, scale, total)
        sd = scale
    else:
        raise ValueError(f"init must be 'xavier_uniform' or 'normal', got {init!r}.")
    final = theta0 + drift * sd * rng.standard_normal(total) if drift > 0 else theta0
    order = np.argsort(-np.abs(final), kind="stable")
    kept = theta0[order[:n]]
    return rng.permutation(kept)


def four_peaked(n: int, *, random_state: int | np.random.Generator | None = 0) -> np.ndarray:
    """A symmetric 4-peaked sample with a hole at 0, middle peaks higher (the paper's Fig. 5).

    Inner peaks N(±1, 0.25^2) with weight 0.35 each, outer peaks N(±2.5, 0.3^2) with 0.15 each.
    """
    rng = np.random.default_rng(random_state)
    means = np.array([-2.5, -1.0, 1.0, 2.5])
    sds = np.array([0.3, 0.25, 0.25, 0.3])
    comp = rng.choice(4, size=n, p=[0.15, 0.35, 0.35, 0.15])
    return means[comp] + sds[comp] * rng.standard_normal(n)
