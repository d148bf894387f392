"""The scale of a layer's init distribution D_θ, as layers.json records it (init_std, init_bound).

Every section that puts weights of different layers on one axis divides by `init_std`; the
histograms draw D_θ's support from `init_bound`. The formulas are torch.nn.init's, written out
for a weight shape (out, in[, k, k]); a folder imported from another tool without a named init
records a scale inferred from θ0 itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

INITS = ("xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "torch_default")


def fans(shape: Sequence[int]) -> tuple[int, int]:
    """(fan_in, fan_out) of a Linear (out, in) or Conv (out, in, k, k) weight, as torch.nn.init counts them."""
    receptive = math.prod(shape[2:]) if len(shape) > 2 else 1
    return int(shape[1]) * receptive, int(shape[0]) * receptive


def init_scale(name: str, shape: Sequence[int]) -> tuple[float, float | None]:
    """(std, bound) of D_θ for `name`; bound is None for an unbounded (normal) init.

    kaiming_* use torch's defaults (fan_in, gain sqrt(2): ReLU); torch_default is what
    torch.nn.Linear and Conv2d do: U(±1/sqrt(fan_in)).
    """
    fan_in, fan_out = fans(shape)
    if name in ("xavier_uniform", "xavier_normal"):
        std = math.sqrt(2.0 / (fan_in + fan_out))
    elif name in ("kaiming_uniform", "kaiming_normal"):
        std = math.sqrt(2.0 / fan_in)
    elif name == "torch_default":  # the std as (bound / sqrt 3), so it has the bound's rounding
        bound = 1.0 / math.sqrt(fan_in)
        return bound / math.sqrt(3.0), bound
    else:
        raise ValueError(f"unknown init {name!r}; choose one of: {', '.join(INITS)}")
    return std, (math.sqrt(3.0) * std if name.endswith("_uniform") else None)


def inferred_scale(theta0: np.ndarray) -> tuple[float, float]:
    """(std, bound) read off θ0 itself: its root mean square (D_θ is centred) and its largest |value|."""
    values = np.asarray(theta0, dtype=np.float64).ravel()
    return float(np.sqrt(np.mean(values**2))), float(np.max(np.abs(values)))
