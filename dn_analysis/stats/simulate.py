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


# ---------------------------------------------------------------- shelf densities
# A shelf density is piecewise constant: a mixture of uniforms. Each shelf is (lo, hi, weight)
# on |w| (the sign is + or - with probability 1/2), i.e. the survivors of a layer whose
# init is uniform on (-b, b) and whose pruning keeps lo < |w| < hi. Its modes are counted by
# `shelf_modes`: a mode of a piecewise-constant density is a maximal connected plateau (an
# interval on which the density is constant, as long as can be) with a strictly lower density
# on both sides of it (0 outside the support). A flat top is one mode, however wide; a step
# down is no mode; a hole at 0 (no mass in (-t, t)) between two shelves makes two modes.

Shelves = tuple[tuple[float, float, float], ...]

# (a) sharp cliffs: a tall inner shelf and a lower outer one, a low floor (a broad third layer)
# between and beyond them, a hole at 0: 4 modes.
SHELF_CLIFFS: Shelves = ((0.25, 1.0, 0.6), (1.2, 2.0, 0.3), (0.25, 3.0, 0.1))
# (a') the same layers' scales with one global threshold: a staircase falling outwards, 2 modes.
SHELF_STAIRS: Shelves = ((0.3, 1.0, 0.5), (0.3, 1.6, 0.3), (0.3, 2.4, 0.2))
# (b) a hard hole at 0: U(-1, 1) without (-0.3, 0.3): two flat shelves, 2 modes.
SHELF_HOLE: Shelves = ((0.3, 1.0, 1.0),)
# (c) a soft divot: U(-1, 1) whose density on (-0.3, 0.3) is 40% of the rest: 2 modes.
SHELF_DIVOT: Shelves = ((0.0, 0.3, 0.3 * 0.4 / (0.3 * 0.4 + 0.7)), (0.3, 1.0, 0.7 / (0.3 * 0.4 + 0.7)))


def _layerwise(layers: tuple[tuple[int, int, int], ...], keep: float) -> Shelves:
    """Layer-wise pruning of Xavier-uniform layers to `keep`: layer j keeps (1-keep) b_j < |w| < b_j."""
    out = []
    for fan_in, fan_out, count in layers:
        b = float(np.sqrt(6.0 / (fan_in + fan_out)))
        out.append(((1.0 - keep) * b, b, float(count)))
    total = sum(w for _, _, w in out)
    return tuple((lo, hi, w / total) for lo, hi, w in out)


# (d) unequal shelves: FC-1's three layers (235,200 / 30,000 / 1,000 weights), each pruned to
# 26% of its own weights: shelves of heights 45 : 3.5 : 0.02 (per unit of |w|) with holes between.
# The smallest layer (0.4% of the mass) lies outside the central 98%: 4 modes counted there, 6 on the line.
SHELF_UNEQUAL: Shelves = _layerwise(FC1_LAYERS, 0.26)

SHELF_SCENARIOS: dict[str, Shelves] = {
    "cliffs": SHELF_CLIFFS, "stairs": SHELF_STAIRS, "hole": SHELF_HOLE, "divot": SHELF_DIVOT,
    "unequal": SHELF_UNEQUAL,
}


def _check_shelves(shelves: Shelves) -> np.ndarray:
    s = np.asarray(shelves, dtype=np.float64).reshape(-1, 3)
    if s.size == 0 or np.any(s[:, 0] < 0) or np.any(s[:, 1] <= s[:, 0]) or np.any(s[:, 2] <= 0):
        raise ValueError("shelves must be (lo, hi, weight) triples with 0 <= lo < hi and weight > 0.")
    return s


def shelf_sample(n: int, shelves: Shelves, *, random_state: int | np.random.Generator | None = None) -> np.ndarray:
    """`n` draws of the symmetric shelf density: a shelf by weight, |w| uniform on it, a random sign."""
    s = _check_shelves(shelves)
    rng = _rng(random_state)
    comp = rng.choice(len(s), n, p=s[:, 2] / s[:, 2].sum())
    mag = rng.uniform(s[comp, 0], s[comp, 1])
    return mag * rng.choice(np.array([-1.0, 1.0]), n)


def shelf_density(x: np.ndarray, shelves: Shelves) -> np.ndarray:
    """The density of `shelf_sample` at x (exact; each shelf's edges are cliffs)."""
    s = _check_shelves(shelves)
    a = np.abs(np.asarray(x, dtype=np.float64))[..., None]
    w = s[:, 2] / s[:, 2].sum()
    return np.sum(np.where((a > s[:, 0]) & (a < s[:, 1]), w / (2.0 * (s[:, 1] - s[:, 0])), 0.0), axis=-1)


def shelf_cdf(x: np.ndarray, shelves: Shelves) -> np.ndarray:
    """The distribution function of `shelf_sample` at x."""
    s = _check_shelves(shelves)
    a = np.abs(np.asarray(x, dtype=np.float64))[..., None]
    w = s[:, 2] / s[:, 2].sum()
    inside = np.sum(w * np.clip((a - s[:, 0]) / (s[:, 1] - s[:, 0]), 0.0, 1.0), axis=-1)  # P(|W| <= |x|)
    return 0.5 + np.sign(np.asarray(x, dtype=np.float64)) * 0.5 * inside


def shelf_quantile(q: float, shelves: Shelves) -> float:
    """The q-quantile of the shelf density (bisection on `shelf_cdf`)."""
    s = _check_shelves(shelves)
    lo, hi = -float(s[:, 1].max()), float(s[:, 1].max())
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if shelf_cdf(np.array(mid), shelves) < q else (lo, mid)
    return 0.5 * (lo + hi)


def shelf_plateaus(shelves: Shelves) -> list[tuple[float, float, float]]:
    """The density's maximal plateaus (a, b, height), left to right, zero-density gaps included."""
    s = _check_shelves(shelves)
    edges = np.unique(np.concatenate([s[:, :2].ravel(), -s[:, :2].ravel()]))
    mids = 0.5 * (edges[:-1] + edges[1:])
    heights = shelf_density(mids, shelves)
    out: list[list[float]] = []
    for a, b, f in zip(edges[:-1], edges[1:], heights, strict=True):
        if out and abs(out[-1][2] - f) <= 1e-12 * max(1.0, f):
            out[-1][1] = float(b)
        else:
            out.append([float(a), float(b), float(f)])
    return [tuple(p) for p in out]


def shelf_modes(shelves: Shelves, interval: tuple[float, float] | None = None) -> list[tuple[float, float]]:
    """The modes (a, b) of the shelf density: plateaus higher than both neighbours (0 off the support).

    With `interval`, only the modes whose plateau's midpoint lies inside it (the scenarios here
    have every mode plateau at least 85% inside the central 98% or wholly outside it).
    """
    plats = shelf_plateaus(shelves)
    f = [0.0] + [p[2] for p in plats] + [0.0]
    modes = [(p[0], p[1]) for i, p in enumerate(plats) if p[2] > 0 and p[2] > f[i] and p[2] > f[i + 2]]
    if interval is None:
        return modes
    lo, hi = interval
    return [(a, b) for a, b in modes if lo <= 0.5 * (a + b) <= hi]
