"""How large a condition's starting weights are against θ0's: a reading for runs that diverge.

A ReLU network with zero biases is positively homogeneous: multiplying layer l's weights by c_l
multiplies the logits by the product of the c_l. The product of the layers' rms ratios is
therefore roughly how the start's scale compounds through the depth (exactly so only for c·θ0).
`dense-dn` draws every weight of a dense layer from that layer's θ_LT, which keeps the large
initial weights, so each layer starts wider than its init distribution. `start_scale` measures
it per trial from the stored starts (`initial_weights`), for the report to set beside a divergence.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(values, dtype=np.float64)))) if values.size else float("nan")


def start_scale(exp: Any, condition: str, round: int, trials: list[int] | None = None) -> list[dict]:
    """Per trial: each weight layer's start rms (the mask's zeros counted) over θ0's rms, and their product.

    `exp` is an `open_run(...).experiment(...)`; `condition` a registered name (e.g. "dense-dn").
    """
    out = []
    for t in trials if trials is not None else exp.trials:
        weights, mask = exp.initial_weights(condition, trial=t, round=round)
        theta0 = exp.theta0(t)
        layers = {}
        for layer in exp.layers:
            p = layer["param"]
            layers[layer["name"]] = _rms(np.where(mask[p], weights[p], 0.0)) / _rms(theta0[p])
        out.append({"trial": int(t), "layers": layers, "product": float(np.prod(list(layers.values())))})
    return out
