"""Samples shaped like D_n, simulated by the mechanism that makes D_n, for tests and calibration.

Why four peaks: pruning is global over layers whose Xavier-uniform bounds differ, sqrt(6 /
(fan_in + fan_out)). Inside one layer a weight survives with a probability that grows with
|theta0| (training noise decides near the threshold), so each layer's survivors pile up
against its own bound, then stop. The big first layer (smallest bound) gives the two tall
middle peaks, the next layer the two lower outer peaks, and the hole at 0 is what pruning
removed. Nothing about peaks is hard-coded: they come out of iterated global magnitude pruning.

Training is modelled as theta_final = theta0 + noise, with a part of the noise shared by all
rounds (the same weights keep moving the same way when retrained from theta0) and a part fresh
in each round; `drift` is its standard deviation in units of the pooled init std.
"""

from __future__ import annotations

import numpy as np

# (fan_in, fan_out, number of weights) of the prunable layers
FC1_LAYERS: tuple[tuple[int, int, int], ...] = (
    (784, 300, 784 * 300),
    (300, 100, 300 * 100),
    (100, 10, 100 * 10),
)
LENET5_LAYERS: tuple[tuple[int, int, int], ...] = (
    (3 * 25, 6 * 25, 6 * 3 * 25),
    (6 * 25, 16 * 25, 16 * 6 * 25),
    (400, 120, 400 * 120),
    (120, 84, 120 * 84),
    (84, 10, 84 * 10),
)
# Two layers only: a density with exactly four modes (for the null of "at most 4 modes").
TWO_LAYERS: tuple[tuple[int, int, int], ...] = ((784, 300, 9), (150, 100, 1))


def _rng(random_state: int | np.random.Generator | None) -> np.random.Generator:
    return random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)


def pruned_dn(
    n: int,
    *,
    layers: tuple[tuple[int, int, int], ...] = FC1_LAYERS,
    rounds: int = 6,
    rate: float = 0.2,
    drift: float = 0.3,
    shared: float = 0.5,
    init: str = "xavier_uniform",
    random_state: int | np.random.Generator | None = None,
) -> np.ndarray:
    """`n` survivors of `rounds` rounds of global magnitude pruning at `rate` (lottery-ticket style).

    Layer sizes keep their proportions; the network is scaled so that about `n` weights survive,
    and exactly `n` are returned (a random subset of the survivors).
    """
    rng = _rng(random_state)
    sizes = np.array([c for _, _, c in layers], dtype=np.float64)
    keep = (1.0 - rate) ** rounds
    total = int(np.ceil(1.02 * n / keep)) + 8
    counts = np.maximum(1, np.round(total * sizes / sizes.sum()).astype(np.int64))
    parts = []
    for (fan_in, fan_out, _), c in zip(layers, counts, strict=True):
        if init == "xavier_uniform":
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            parts.append(rng.uniform(-bound, bound, c))
        elif init == "xavier_normal":
            parts.append(rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), c))
        else:
            raise ValueError(f"init must be 'xavier_uniform' or 'xavier_normal', got {init!r}.")
    theta0 = np.concatenate(parts)
    tau = drift * float(np.std(theta0))
    common = rng.standard_normal(theta0.size)
    alive = np.arange(theta0.size)
    for _ in range(rounds):
        fresh = rng.standard_normal(alive.size)
        final = theta0[alive] + tau * (np.sqrt(shared) * common[alive] + np.sqrt(1 - shared) * fresh)
        n_keep = int(round(alive.size * (1.0 - rate)))
        # sorted: argpartition's order is unspecified and changes between numpy releases,
        # and the next round's draws are matched to survivors by position
        alive = np.sort(alive[np.argpartition(-np.abs(final), n_keep - 1)[:n_keep]])
    if alive.size < n:
        raise RuntimeError("pruned_dn kept fewer weights than asked; this is a bug.")
    return theta0[rng.choice(alive, n, replace=False)]


def hard_hole(
    n: int,
    *,
    init: str = "uniform",
    quantile: float = 0.5,
    random_state: int | np.random.Generator | None = None,
) -> np.ndarray:
    """theta0 ~ U(-1, 1) or N(0, 1) with |theta0| below its `quantile` removed: symmetric, hole at 0."""
    rng = _rng(random_state)
    if init == "uniform":
        mag = rng.uniform(quantile, 1.0, n)
    elif init == "normal":
        from scipy.special import ndtri

        mag = ndtri(0.5 + 0.5 * rng.uniform(quantile, 1.0, n))
    else:
        raise ValueError(f"init must be 'uniform' or 'normal', got {init!r}.")
    return mag * rng.choice(np.array([-1.0, 1.0]), n)


def gaussian_mixture(
    n: int,
    means: tuple[float, ...],
    *,
    sd: float = 1.0,
    weights: tuple[float, ...] | None = None,
    random_state: int | np.random.Generator | None = None,
) -> np.ndarray:
    """`n` draws of a mixture of normals N(mean_j, sd^2) with the given weights (equal by default)."""
    rng = _rng(random_state)
    w = np.full(len(means), 1.0 / len(means)) if weights is None else np.asarray(weights, float)
    comp = rng.choice(len(means), n, p=w / w.sum())
    return np.asarray(means, float)[comp] + sd * rng.standard_normal(n)


def with_sign_imbalance(
    x: np.ndarray, positive: float, *, random_state: int | np.random.Generator | None = None
) -> np.ndarray:
    """Re-sign a sample so a fraction `positive` is > 0, magnitudes unchanged (a sign imbalance)."""
    rng = _rng(random_state)
    signs = np.where(rng.uniform(size=x.size) < positive, 1.0, -1.0)
    return np.abs(x) * signs
