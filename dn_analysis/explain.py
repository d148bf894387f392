"""Why D_n looks the way it does: a layer-threshold model, tested against the tickets.

Each layer l starts Xavier-uniform on [-a_l, a_l], and a_l = sqrt(6 / (fan_in + fan_out)) differs
between layers. Global magnitude pruning keeps the weights that end up large; if "large after
training" were simply "large at init", layer l would keep exactly the |θ0| >= t_l band, where t_l
is set by the number of weights it keeps. D_n is then a mixture of two-sided truncated uniforms,

    D_n ≈ Σ_l (k_l / K) · Uniform(t_l <= |θ| <= a_l, random sign),

one pair of flat shelves per layer, ending in a cliff at ±a_l. Layers with many weights and a
small a_l (FC-1's first layer) make tall, narrow peaks near ±a_l; layers with larger a_l make the
lower outer shoulders. That is the paper's "four peaks, middle two higher, hole at 0" for a
network whose two biggest layers have different bounds. Dividing by each layer's init scale puts
every cliff at ±sqrt(3), so standardized D_n are two-peaked and alike across architectures.

The model uses only the layer shapes and the per-layer kept counts; it is not fitted to θ_LT.
`explain_dn` measures how well it holds (Kolmogorov-Smirnov and Wasserstein distance to θ_LT)
and how much of each mask the init-magnitude rule alone reproduces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class LayerShelf:
    """One layer's part of the model: survivors uniform in t <= |θ| <= a."""

    name: str
    kept: int
    total: int
    bound: float  # a_l, the init support half-width
    threshold: float  # t_l such that a fraction kept/total of Uniform(-a, a) has |θ| >= t
    overlap: float  # fraction of the layer's survivors that are among its `kept` largest |θ0|


@dataclass(frozen=True)
class Explanation:
    shelves: list[LayerShelf]
    ks_distance: float  # sup |F_model - F_empirical| on pooled θ_LT
    wasserstein: float  # in the units of θ
    scale: float  # std of θ_LT, to read the Wasserstein distance relative to the spread
    overlap: float  # survivors explained by the init-magnitude rule, pooled over layers
    chance_overlap: float  # the same for a random mask with the same per-layer counts
    summary: str

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return model_cdf(self.shelves, x)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        return model_pdf(self.shelves, x)


def model_pdf(shelves: list[LayerShelf], x: np.ndarray) -> np.ndarray:
    x = np.abs(np.asarray(x, dtype=np.float64))
    kept = sum(s.kept for s in shelves)
    out = np.zeros_like(x)
    for s in shelves:
        width = s.bound - s.threshold
        if width > 0:
            out += (s.kept / kept) * ((x >= s.threshold) & (x <= s.bound)) / (2 * width)
    return out


def model_cdf(shelves: list[LayerShelf], x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    kept = sum(s.kept for s in shelves)
    out = np.zeros_like(x)
    for s in shelves:
        width = max(s.bound - s.threshold, 1e-300)
        # mass of the positive shelf below |x|, in [0, 1]
        inner = np.clip((np.abs(x) - s.threshold) / width, 0.0, 1.0)
        part = np.where(x >= 0, 0.5 + 0.5 * inner, 0.5 - 0.5 * inner)
        out += (s.kept / kept) * part
    return out


def _sample_model(shelves: list[LayerShelf], n: int, rng: np.random.Generator) -> np.ndarray:
    kept = np.array([s.kept for s in shelves], dtype=float)
    which = rng.choice(len(shelves), size=n, p=kept / kept.sum())
    lo = np.array([s.threshold for s in shelves])[which]
    hi = np.array([s.bound for s in shelves])[which]
    return rng.uniform(lo, hi) * rng.choice([-1.0, 1.0], size=n)


def explain_dn(theta0: dict[str, np.ndarray], mask: dict[str, np.ndarray], layers: list[dict],
               seed: int = 0) -> Explanation:
    """Build the layer-threshold model of one ticket and measure how well it explains θ_LT.

    `theta0` and `mask` map parameter names to arrays (as `ExperimentResult.theta0/mask`);
    `layers` is layers.json (needs `param`, `name`, `init_bound`: uniform inits only).
    """
    shelves, pooled = [], []
    agree = 0
    for layer in layers:
        bound = layer.get("init_bound")
        if bound is None:
            raise ValueError("the layer-threshold model needs a uniform init (init_bound in layers.json)")
        w, m = np.asarray(theta0[layer["param"]]).ravel(), np.asarray(mask[layer["param"]]).ravel().astype(bool)
        kept, total = int(m.sum()), m.size
        if kept == 0:
            continue
        threshold = bound * (1.0 - kept / total)  # P(|U| >= t) = 1 - t/a for U ~ Uniform(-a, a)
        top = np.argpartition(-np.abs(w), kept - 1)[:kept]
        hit = int(m[top].sum())
        agree += hit
        shelves.append(LayerShelf(layer["name"], kept, total, float(bound), float(threshold), hit / kept))
        pooled.append(w[m])
    if not shelves:
        raise ValueError("the mask keeps no weights; nothing to explain")
    x = np.concatenate(pooled).astype(np.float64)
    ks = float(stats.kstest(x, lambda v: model_cdf(shelves, v)).statistic)
    rng = np.random.default_rng(seed)
    model_draws = _sample_model(shelves, min(200_000, 4 * x.size), rng)
    wd = float(stats.wasserstein_distance(x, model_draws))
    overlap = agree / x.size
    chance = sum(s.kept * s.kept / s.total for s in shelves) / x.size
    summary = (
        f"A mixture of {len(shelves)} per-layer shelves (uniform on t_l <= |θ| <= a_l, using only the "
        f"init bounds and each layer's kept count) is within KS distance {ks:.3f} of θ_LT "
        f"(Wasserstein {wd / x.std():.3f} of its std); {100 * overlap:.1f}% of the surviving weights are "
        f"among their layer's largest |θ0| (a random mask of the same sizes: {100 * chance:.1f}%)."
    )
    return Explanation(shelves, ks, wd, float(x.std()), overlap, chance, summary)
