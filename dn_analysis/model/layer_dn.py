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


class SurvivalCurves:
    """Prediction from per-layer survival curves on equal-mass θ0 cells (DnModel, SoftThresholdDn).

    A subclass sets ``layers_`` (layers.json), ``protocol_`` (with ``init``) and ``curves_``
    ({param: (n+1, G)}, P(survive rounds 1..r | θ0) on the cells of LayerDn); D_n of a layer is
    D_θ(θ0) · curve, and pooled D_n mixes the layers by their predicted kept weights.
    """

    layers_: list[dict]
    protocol_: dict[str, Any]
    curves_: dict[str, np.ndarray]

    def _param(self, layer: str) -> str:
        for spec in self.layers_:
            if layer in (spec["param"], spec["name"]):
                return spec["param"]
        raise ValueError(f"no layer {layer!r}; layers: {', '.join(s['param'] for s in self.layers_)}")

    def _check_round(self, round: int) -> int:
        if not hasattr(self, "curves_"):
            raise ValueError(f"{type(self).__name__} is not fitted yet; call .fit(exp) first.")
        n = len(next(iter(self.curves_.values()))) - 1
        if not 0 <= int(round) <= n:
            raise ValueError(f"round must be in 0..{n} ({type(self).__name__}(n_rounds=...) predicts further), "
                             f"got {round}")
        return int(round)

    def layer_sampler(self, layer: str, round: int) -> LayerDn:
        """D_n of one layer after `round` prunings, with rvs(size, random_state), pdf, cdf."""
        r, p = self._check_round(round), self._param(layer)
        spec = next(s for s in self.layers_ if s["param"] == p)
        return LayerDn(spec, self.curves_[p][r], self.protocol_["init"], r)

    def density(self, round: int, layer: str | None = None) -> float:
        """The predicted kept fraction after `round` prunings (of one layer, or of all weights)."""
        if layer is not None:
            return self.layer_sampler(layer, round).mass_
        parts = self._parts(round)
        sizes = [float(np.prod(s["shape"])) for s in self.layers_]
        return float(sum(sz * d.mass_ for sz, (_, d) in zip(sizes, parts, strict=True)) / sum(sizes))

    def _parts(self, round: int) -> list[tuple[float, LayerDn]]:
        ds = [self.layer_sampler(s["param"], round) for s in self.layers_]
        mass = np.array([float(np.prod(s["shape"])) * d.mass_ for s, d in zip(self.layers_, ds, strict=True)])
        return list(zip(mass / mass.sum(), ds, strict=True))

    def survival(self, theta0: Any, round: int, layer: str) -> np.ndarray:
        """P(a weight of `layer` starting at θ0 survives rounds 1..round)."""
        d = self.layer_sampler(layer, round)
        cell, _ = d._cell(np.asarray(theta0, dtype=np.float64))
        return d.curve_[cell]

    def rvs(self, round: int, size: int | tuple[int, ...] = 1, random_state: Any = None,
            layer: str | None = None) -> np.ndarray:
        """Draws of θ_LT after `round` prunings: pooled over layers, or of one `layer`."""
        from dn_analysis.samplers._base import as_generator, as_shape

        rng = as_generator(random_state)
        if layer is not None:
            return self.layer_sampler(layer, round).rvs(size, rng)
        shape = as_shape(size)
        parts = self._parts(round)
        which = rng.choice(len(parts), size=int(np.prod(shape)), p=[w for w, _ in parts])
        out = np.empty(which.size)
        for i, (_, d) in enumerate(parts):
            out[which == i] = d.rvs(int((which == i).sum()), rng)
        return out.reshape(shape)

    def pdf(self, x: Any, round: int, layer: str | None = None) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if layer is not None:
            return self.layer_sampler(layer, round).pdf(x)
        return sum(w * d.pdf(x) for w, d in self._parts(round))

    def cdf(self, x: Any, round: int, layer: str | None = None) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if layer is not None:
            return self.layer_sampler(layer, round).cdf(x)
        return sum(w * d.cdf(x) for w, d in self._parts(round))
