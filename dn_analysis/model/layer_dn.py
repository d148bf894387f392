"""D_n of one layer and round as the model predicts it: D_θ(θ0) · P(survive | θ0), normalized.

The survival curve lives on G cells of equal mass under D_θ (u = F_θ(θ0) in [0, 1]) and is
constant within a cell, so pdf, cdf and rvs are exact for that step function and agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from dn_analysis.model.simulate import init_ppf
from dn_analysis.samplers._base import DnSampler


def init_cdf(layer: dict, x: np.ndarray, init: str) -> np.ndarray:
    if "normal" in init or not layer.get("init_bound"):
        return stats.norm.cdf(x / layer["init_std"])
    return np.clip((x / layer["init_bound"] + 1.0) / 2.0, 0.0, 1.0)


def init_pdf(layer: dict, x: np.ndarray, init: str) -> np.ndarray:
    if "normal" in init or not layer.get("init_bound"):
        return stats.norm.pdf(x / layer["init_std"]) / layer["init_std"]
    b = layer["init_bound"]
    return np.where(np.abs(x) <= b, 0.5 / b, 0.0)


class LayerDn(DnSampler):
    """scipy.stats-style D_n of one layer after `round` prunings (see DnModel.layer_sampler)."""

    kind = "DnModel-layer"
    _fitted_attr = "curve_"

    def __init__(self, layer: dict, curve: np.ndarray, init: str, round: int) -> None:
        self.layer, self.init, self.round = layer, init, round
        s = np.maximum(np.asarray(curve, dtype=np.float64), 0.0)
        if s.sum() <= 0:
            raise ValueError(f"the model keeps no weight of {layer['param']} after round {round}")
        self.curve_ = s
        self.mass_ = float(s.mean())                  # the layer's predicted kept fraction
        self._q = s / s.sum()
        self._cum = np.concatenate([[0.0], np.cumsum(self._q)])

    def _cell(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g = init_cdf(self.layer, x, self.init) * self.curve_.size
        cell = np.clip(np.floor(g).astype(int), 0, self.curve_.size - 1)
        return cell, g - cell

    def _pdf(self, x: np.ndarray) -> np.ndarray:
        cell, _ = self._cell(x)
        return init_pdf(self.layer, x, self.init) * self.curve_[cell] / self.mass_

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        cell, frac = self._cell(x)
        return np.clip(self._cum[cell] + self._q[cell] * np.clip(frac, 0.0, 1.0), 0.0, 1.0)

    def _rvs(self, n: int, rng: np.random.Generator) -> np.ndarray:
        cell = rng.choice(self.curve_.size, size=n, p=self._q)
        u = (cell + rng.uniform(size=n)) / self.curve_.size
        return init_ppf(self.layer, np.clip(u, 1e-12, 1 - 1e-12), self.init)

    def _moments(self) -> tuple[float, float]:
        u = (np.arange(self.curve_.size) + 0.5) / self.curve_.size
        x = init_ppf(self.layer, u, self.init)
        m = float(np.sum(self._q * x))
        return m, float(np.sum(self._q * x * x) - m * m)

    def mean(self) -> float:
        return self._moments()[0]

    def var(self) -> float:
        return self._moments()[1]

    def support(self) -> tuple[float, float]:
        b = self.layer.get("init_bound")
        return (-b, b) if b and "normal" not in self.init else (-np.inf, np.inf)

    def modes(self) -> list[float]:
        u = (np.arange(self.curve_.size) + 0.5) / self.curve_.size
        x = init_ppf(self.layer, u, self.init)
        f = self._pdf(x)
        inner = np.flatnonzero((f[1:-1] > f[:-2]) & (f[1:-1] >= f[2:])) + 1
        return [float(x[i]) for i in inner]

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        raise NotImplementedError("save the whole DnModel (DnModel.save) instead of one layer")
