"""DnModel: a generative model of θ_LT, D_n(θ0) ∝ D_θ(θ0) · P(survives rounds 1..n | θ0, layer).

Fit (scikit-learn style) learns each layer's drift law (law.py, fit.py) from the trained weights
of the pruning rounds; prediction (scipy.stats style) iterates the rounds (simulate.py). The
layer-threshold model of dn_analysis.explain is the no-noise limit (``DnModel.no_noise``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from dn_analysis.model import law, simulate
from dn_analysis.model.fit import fit_layer
from dn_analysis.model.layer_dn import LayerDn
from dn_analysis.model.stats import stats_for
from dn_analysis.samplers._base import SeedLike, as_generator, as_shape

SCHEMA = "dn-model/1"


class DnModel:
    """θ_LT of every layer and round from a per-layer drift law and the pruning rule.

    Hyperparameters: ``n_classes`` mobility classes per layer, ``per_stratum`` trajectories kept
    per stratum (stats.py), ``n_grid`` θ0 cells x ``paths`` Monte Carlo weights per cell,
    ``max_iter`` EM iterations, ``n_rounds`` rounds to predict (default: the run's).
    Fitted: ``params_`` (per layer: scale and classes with weight and law parameters),
    ``thresholds_`` (τ_r per layer), ``fit_trials_``, ``fit_rounds_``, ``protocol_``.
    """

    def __init__(self, n_classes: int = 3, per_stratum: int = 4000, n_grid: int = 500, paths: int = 400,
                 max_iter: int = 60, n_rounds: int | None = None, random_state: int = 0) -> None:
        self.n_classes, self.per_stratum, self.n_grid, self.paths = n_classes, per_stratum, n_grid, paths
        self.max_iter, self.n_rounds, self.random_state = max_iter, n_rounds, random_state

    # ------------------------------------------------------------------ fit
    def fit(self, exp: Any, trials: list[int] | None = None, rounds: list[int] | None = None) -> DnModel:
        """Learn from `trials` (default all) and pruning rounds `rounds` (1..R, default all).

        `exp` is ``open_run(dir).experiment(name)`` (trained weights or its training_stats.npz),
        a TrainingStats, or the path of a training-stats file. Pruning round r acts on θ' of
        training round r-1, so ``rounds=[1..6]`` sees θ' of training rounds 0..5 and nothing later.
        """
        st = stats_for(exp, trials, self.per_stratum, self.random_state)
        trials = list(st.trials if trials is None else trials)
        if missing := sorted(set(trials) - set(st.trials)):
            raise ValueError(f"trials {missing} are not in the training statistics (trials: {st.trials})")
        n = int(st.meta["prune_rounds"])
        seen = n if rounds is None else sorted(set(int(r) for r in rounds))
        if rounds is not None and (seen != list(range(1, seen[-1] + 1)) or seen[-1] > n):
            raise ValueError(f"rounds must be 1..R with R <= {n} (each round needs the ones before), got {rounds}")
        n_seen = n if rounds is None else seen[-1]
        self.layers_ = [dict(layer) for layer in st.meta["layers"]]
        self.protocol_ = {k: st.meta[k] for k in ("prune_rate", "prune_scope", "prune_rounds", "init", "protocol")
                          if k in st.meta}
        self.experiment_ = st.meta.get("experiment")
        self.fit_trials_, self.fit_rounds_ = trials, list(range(1, n_seen + 1))
        self.params_ = {}
        self._thetas: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for layer in self.layers_:
            p = layer["param"]
            scale = simulate.init_scale(layer, self.protocol_["init"])
            lf = fit_layer(st.layer(p, trials).truncate(n_seen), scale, self.n_classes, self.max_iter)
            self._thetas[p] = (lf.weights, lf.thetas)
            self.params_[p] = {"name": layer["name"], "scale": scale, "loglik": lf.loglik, "em_iterations": lf.n_iter,
                               "classes": [{"weight": float(w), **law.describe(t)}
                                           for w, t in zip(lf.weights, lf.thetas, strict=True)]}
        self._predict()
        return self

    def _drift(self, param: str, x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        weights, thetas = self._thetas[param]
        cls = rng.choice(len(weights), size=x.size, p=weights / weights.sum())
        out = np.empty((x.size, n))
        for k, theta in enumerate(thetas):
            sel = cls == k
            out[sel] = law.simulate(theta, x[sel], n, rng)
        return out

    def _predict(self, drift: Any = "law") -> None:
        n = int(self.n_rounds or self.protocol_["prune_rounds"])
        surv = simulate.run(self.layers_, self._drift if drift == "law" else drift, self.protocol_["prune_rate"],
                            self.protocol_["prune_scope"], n, self.protocol_["init"], self.n_grid, self.paths,
                            self.random_state)
        self.curves_, self.thresholds_ = surv.curves, surv.thresholds

    @classmethod
    def no_noise(cls, layers: list[dict], prune_rate: float, prune_scope: str, prune_rounds: int,
                 init: str = "xavier_uniform", n_grid: int = 2000) -> DnModel:
        """The limit σ -> 0, c = 1, μ = 0: survival is |θ0| >= τ_r, the layer-threshold model of explain.py."""
        model = cls(n_grid=n_grid, paths=1)
        model.layers_ = [dict(layer) for layer in layers]
        model.protocol_ = {"prune_rate": prune_rate, "prune_scope": prune_scope, "prune_rounds": prune_rounds,
                           "init": init}
        model.experiment_, model.fit_trials_, model.fit_rounds_ = None, [], []
        model.params_ = {layer["param"]: {"name": layer["name"], "scale": simulate.init_scale(layer, init),
                                          "classes": []} for layer in layers}
        model._predict(drift=None)
        return model

    # ------------------------------------------------------------------ predict
    def _param(self, layer: str) -> str:
        for spec in self.layers_:
            if layer in (spec["param"], spec["name"]):
                return spec["param"]
        raise ValueError(f"no layer {layer!r}; layers: {', '.join(s['param'] for s in self.layers_)}")

    def _check_round(self, round: int) -> int:
        if not hasattr(self, "curves_"):
            raise ValueError("DnModel is not fitted yet; call .fit(exp) first.")
        n = len(next(iter(self.curves_.values()))) - 1
        if not 0 <= int(round) <= n:
            raise ValueError(f"round must be in 0..{n} (DnModel(n_rounds=...) predicts further), got {round}")
        return int(round)

    def layer_sampler(self, layer: str, round: int) -> LayerDn:
        """D_n of one layer after `round` prunings, with rvs(size, random_state), pdf, cdf."""
        r, p = self._check_round(round), self._param(layer)
        spec = next(s for s in self.layers_ if s["param"] == p)
        return LayerDn(spec, self.curves_[p][r], self.protocol_["init"], r)

    def density(self, round: int, layer: str | None = None) -> float:
        """The predicted kept fraction after `round` prunings (of one layer, or of all weights)."""
        parts = self._parts(round) if layer is None else [(1.0, self.layer_sampler(layer, round))]
        if layer is not None:
            return parts[0][1].mass_
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

    def rvs(self, round: int, size: int | tuple[int, ...] = 1, random_state: SeedLike = None,
            layer: str | None = None) -> np.ndarray:
        """Draws of θ_LT after `round` prunings: pooled over layers, or of one `layer`."""
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

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "experiment": self.experiment_, "protocol": self.protocol_,
                "hyperparameters": {k: getattr(self, k) for k in ("n_classes", "per_stratum", "n_grid", "paths",
                                                                  "max_iter", "n_rounds", "random_state")},
                "fit_trials": self.fit_trials_, "fit_rounds": self.fit_rounds_, "layers": self.layers_,
                "params": self.params_, "thresholds": {p: t.tolist() for p, t in self.thresholds_.items()},
                "survival": {p: np.round(c, 6).tolist() for p, c in self.curves_.items()}}

    def save(self, path: str | Path) -> Path:
        """JSON (never pickle); ``DnModel.load`` gives the same pdf, cdf and draws."""
        from results.store import write_json

        write_json(Path(path), self.to_dict(), indent=None)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> DnModel:
        d = json.loads(Path(path).read_text())
        if d.get("schema") != SCHEMA:
            raise ValueError(f"{path} is not a {SCHEMA} file")
        model = cls(**d["hyperparameters"])
        model.experiment_, model.protocol_, model.layers_ = d["experiment"], d["protocol"], d["layers"]
        model.fit_trials_, model.fit_rounds_, model.params_ = d["fit_trials"], d["fit_rounds"], d["params"]
        model.thresholds_ = {p: np.array(t) for p, t in d["thresholds"].items()}
        model.curves_ = {p: np.array(c) for p, c in d["survival"].items()}
        model._thetas = {p: (np.array([c["weight"] for c in v["classes"]]),
                             np.array([law.from_description({k: c[k] for k in c if k != "weight"})
                                       for c in v["classes"]]))
                         for p, v in d["params"].items() if v["classes"]}
        return model

    def __repr__(self) -> str:
        return f"DnModel(n_classes={self.n_classes}, n_grid={self.n_grid}, paths={self.paths})"
