"""DnModel: a generative model of θ_LT, D_n(θ0) ∝ D_θ(θ0) · P(survives rounds 1..n | θ0, layer).

Fit (scikit-learn style) learns each layer's drift law (law.py, fit.py) from the trained weights
of the pruning rounds; prediction (scipy.stats style) iterates the rounds (simulate.py). The
layer-threshold model of dn_analysis.explain is the no-noise limit (``DnModel.no_noise``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dn_analysis.model import law, simulate
from dn_analysis.model.fit import fit_layer
from dn_analysis.model.layer_dn import SurvivalCurves
from dn_analysis.model.stats import stats_for

SCHEMA = "dn-model/1"


class DnModel(SurvivalCurves):
    """θ_LT of every layer and round from a per-layer drift law and the pruning rule.

    Hyperparameters: ``n_classes`` mobility classes per layer, ``per_stratum`` trajectories kept
    per stratum (stats.py), ``n_grid`` θ0 cells x ``paths`` Monte Carlo weights per cell,
    ``max_iter`` EM iterations, ``n_rounds`` rounds to predict (default: the run's),
    ``persistent_drift``: with False the weight keeps nothing of its drift through a rewind (ν = 0
    and β = b1 = b2 = 0: law.NO_PERSISTENCE), the ablation of docs/dn-model.md.
    Prediction (rvs, pdf, cdf, density, survival, layer_sampler) is layer_dn.SurvivalCurves'.
    Fitted: ``params_`` (per layer: scale and classes with weight and law parameters),
    ``thresholds_`` (τ_r per layer), ``fit_trials_``, ``fit_rounds_``, ``protocol_``.
    """

    def __init__(self, n_classes: int = 3, per_stratum: int = 4000, n_grid: int = 500, paths: int = 400,
                 max_iter: int = 60, n_rounds: int | None = None, random_state: int = 0,
                 persistent_drift: bool = True) -> None:
        self.n_classes, self.per_stratum, self.n_grid, self.paths = n_classes, per_stratum, n_grid, paths
        self.max_iter, self.n_rounds, self.random_state = max_iter, n_rounds, random_state
        self.persistent_drift = persistent_drift

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
        self.protocol_ = {k: st.meta[k] for k in ("prune_rate", "prune_scope", "prune_rounds", "init", "protocol",
                                                  "prune_rates") if k in st.meta}
        self.experiment_ = st.meta.get("experiment")
        self.fit_trials_, self.fit_rounds_ = trials, list(range(1, n_seen + 1))
        self.params_ = {}
        self._thetas: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for layer in self.layers_:
            p = layer["param"]
            scale = simulate.init_scale(layer, self.protocol_["init"])
            lf = fit_layer(st.layer(p, trials).truncate(n_seen), scale, self.n_classes, self.max_iter,
                           fixed={} if self.persistent_drift else
                           {law.NAMES.index(k): v for k, v in law.NO_PERSISTENCE.items()})
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
        surv = simulate.run(self.layers_, self._drift if drift == "law" else drift, simulate.rates_of(
                                self.layers_, self.protocol_["prune_rate"], self.protocol_.get("prune_rates", "")),
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

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "experiment": self.experiment_, "protocol": self.protocol_,
                "hyperparameters": {k: getattr(self, k) for k in ("n_classes", "per_stratum", "n_grid", "paths",
                                                                  "max_iter", "n_rounds", "random_state",
                                                                  "persistent_drift")},
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
        from results.store import read_json  # checked against its checksum; a damaged file is named

        d = read_json(Path(path))
        if not isinstance(d, dict) or d.get("schema") != SCHEMA:
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
