"""SoftThresholdDn: a compact law of D_n fitted from θ0 and the masks alone (no trained weights).

The law. A weight of layer l with initial value θ0 is still in the mask after pruning round r with

    P(kept after round r | θ0) = Φ((c_l·|θ0| − τ_r) / σ_l)                               (1)

- c_l (gain) and σ_l (width, weight units) are the two parameters of each layer: c_l·|θ0| is the
  pruning score a weight of the layer is expected to have, σ_l how far training moves that score.
  σ_l -> 0 is the layer-threshold model of dn_analysis.explain (survival is |θ0| >= τ_r / c_l).
- τ_r is not a parameter: it is solved, round by round, so that the law keeps the protocol's kept
  fraction (1 - prune_rate)^r, one τ_r for all layers under global pruning (each layer counted at
  its real size), one per layer under layerwise pruning, as the pruning itself does. That keeps the
  law at two numbers per layer, whatever the number of rounds, and lets it predict a round it never
  saw (the extrapolation fit); a τ fitted per round could not.
- Identification: multiplying c, σ and τ by one factor changes nothing, so the layer with the most
  weights has c = 1 (τ and σ are then on that layer's |θ0| scale); under layerwise pruning every
  layer has its own τ_{l,r}, which absorbs c_l, so every c_l = 1 there.

(1) is the survival function of one latent score per weight, z = c_l·|θ0| + σ_l·ε with ε ~ N(0, 1),
cut at increasing thresholds, so the masks are nested as in the run: the number of rounds a weight
survives is an ordered probit in |θ0|. The fit is the maximum-likelihood fit of that ordered probit
on the (|θ0|, rounds survived) pairs of the fit trials, P(survives exactly k of the n rounds seen) =
S_k − S_{k+1} with S_0 = 1, S_{n+1} = 0, with τ_1 < ... < τ_n free during the fit (scipy.optimize,
analytic gradient); standard errors come from the numerical Hessian of the log-likelihood.

D_n of layer l at round r is D_θ(θ0)·S_r(θ0), normalized (layer_dn.LayerDn on cells of equal mass
under D_θ: pdf, cdf and rvs are exact for that step function and agree), and pooled D_n mixes the
layers by their predicted kept weights (layer_dn.SurvivalCurves).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import optimize, special

from dn_analysis.model import simulate
from dn_analysis.model.layer_dn import SurvivalCurves
from dn_analysis.model.simulate import init_ppf, init_scale

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


def _log_diff_ndtr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log(Φ(a) − Φ(b)) for a >= b, accurate in both tails (a = +inf, b = −inf allowed)."""
    flip = b > 0                                    # Φ(a) − Φ(b) = Φ(−b) − Φ(−a)
    hi, lo = np.where(flip, -b, a), np.where(flip, -a, b)
    la, lb = special.log_ndtr(hi), special.log_ndtr(lo)
    with np.errstate(divide="ignore", invalid="ignore"):
        return la + np.log1p(-np.exp(np.minimum(lb - la, 0.0)))


def _log_phi(z: np.ndarray) -> np.ndarray:
    return -0.5 * z * z - _LOG_SQRT_2PI


class SoftThresholdDn(SurvivalCurves):
    """D_n from the per-layer soft threshold (1): scipy-style ``rvs``, ``pdf``, ``cdf``.

    Hyperparameters: ``n_grid`` θ0 cells of equal mass per layer for prediction, ``n_rounds``
    rounds to predict (default: the run's). ``fit(exp, trials, rounds)`` returns self.
    Fitted: ``params_`` (per layer: c, sigma and their standard errors, the width σ/c in the
    layer's init units), ``tau_fit_`` (τ of the rounds seen, from the fit), ``thresholds_``
    (τ_r per layer used for prediction, solved from the kept fraction), ``curves_``, ``loglik_``,
    ``n_obs_``, ``cov_`` (covariance of the free parameters, on the log scale for c and σ),
    ``fit_trials_``, ``fit_rounds_``, ``protocol_``, ``layers_``.
    """

    def __init__(self, n_grid: int = 2000, n_rounds: int | None = None) -> None:
        self.n_grid, self.n_rounds = n_grid, n_rounds

    # ------------------------------------------------------------------ fit
    def fit(self, exp: Any, trials: list[int] | None = None, rounds: Any = None) -> SoftThresholdDn:
        """Learn from θ0 and the masks of `trials` (default all) at pruning rounds `rounds` (1..R).

        `exp` is ``open_run(dir).experiment(name)`` or anything with ``layers``, ``config``,
        ``trials``, ``theta0(t)`` and ``mask(t, r)``: no trained weights are read.
        """
        cfg = exp.config
        n_run = int(cfg.get("prune_rounds", max(exp.rounds)))
        trials = list(exp.trials if trials is None else trials)
        if missing := sorted(set(trials) - set(exp.trials)):
            raise ValueError(f"trials {missing} are not trials of {exp.name} (trials: {list(exp.trials)})")
        seen = list(range(1, n_run + 1)) if rounds is None else sorted({int(r) for r in rounds})
        if not seen or seen != list(range(1, seen[-1] + 1)) or seen[-1] > n_run:
            raise ValueError(f"rounds must be 1..R with R <= {n_run} (each round needs the ones before), got {rounds}")
        n = seen[-1]
        self.layers_ = [dict(layer) for layer in exp.layers]
        self.protocol_ = {"prune_rate": float(cfg.get("prune_rate", 0.2)), "prune_scope": cfg.get("prune_scope", "global"),
                          "prune_rounds": n_run, "init": cfg.get("init", "xavier_uniform"),
                          "protocol": cfg.get("protocol", "text"), "prune_rates": str(cfg.get("prune_rates") or "")}
        self.experiment_ = getattr(exp, "name", None)
        self.fit_trials_, self.fit_rounds_ = trials, seen
        self.scope_ = "global" if self.protocol_["prune_scope"] == "global" else "layerwise"
        sizes = [int(np.prod(s["shape"])) for s in self.layers_]
        self.ref_ = self.layers_[int(np.argmax(sizes))]["param"]
        self.unit_ = init_scale(next(s for s in self.layers_ if s["param"] == self.ref_), self.protocol_["init"])

        x, k = [], []           # |θ0| in units of the reference layer's init scale, rounds survived (0..n)
        for spec in self.layers_:
            p = spec["param"]
            xs, ks = [], []
            for t in trials:
                xs.append(np.abs(np.asarray(exp.theta0(t)[p], dtype=np.float64).ravel()) / self.unit_)
                ks.append(sum(np.asarray(exp.mask(t, r)[p]).ravel().astype(np.int64) for r in range(1, n + 1)))
            x.append(np.concatenate(xs))
            k.append(np.concatenate(ks))
        self._data = (x, k, n)
        start = self._start(x, k, n)
        res = optimize.minimize(self._negll, start, jac=True, method="L-BFGS-B", options={"maxiter": 2000})
        if not res.success and not np.isfinite(res.fun):
            raise ValueError(f"SoftThresholdDn: the fit failed ({res.message})")
        theta = res.x
        self.loglik_, self.n_obs_ = -float(res.fun), int(sum(v.size for v in x))
        self.cov_ = np.linalg.pinv(self._hessian(theta))
        del self._data
        self._set_params(theta)
        self._predict()
        return self

    # free parameters: log σ_l (L), log c_l (L − 1, global only; the reference layer has c = 1),
    # τ_1 and log(τ_k − τ_{k−1}) for k = 2..n (one set under global, one per layer under layerwise)
    def _split(self, theta: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n_layers = len(self.layers_)
        log_sigma = theta[:n_layers]
        i = n_layers
        log_c = np.zeros(n_layers)
        if self.scope_ == "global":
            others = [j for j, s in enumerate(self.layers_) if s["param"] != self.ref_]
            log_c[others] = theta[i:i + len(others)]
            i += len(others)
            taus = self._taus(theta[i:i + n])[None, :].repeat(n_layers, axis=0)
        else:
            taus = np.stack([self._taus(theta[i + j * n:i + (j + 1) * n]) for j in range(n_layers)])
        return log_sigma, log_c, taus

    @staticmethod
    def _taus(v: np.ndarray) -> np.ndarray:
        return v[0] + np.concatenate([[0.0], np.cumsum(np.exp(v[1:]))])

    @staticmethod
    def _tau_params(t: np.ndarray) -> np.ndarray:
        return np.concatenate([[t[0]], np.log(np.maximum(np.diff(t), 1e-6))])

    def _start(self, x: list[np.ndarray], k: list[np.ndarray], n: int) -> np.ndarray:
        def cuts(xs: np.ndarray, ks: np.ndarray) -> np.ndarray:
            kept = np.array([(ks >= r).mean() for r in range(1, n + 1)])
            return np.maximum.accumulate(np.quantile(xs, np.clip(1.0 - kept, 1e-4, 1 - 1e-4))
                                         + 1e-3 * np.arange(1, n + 1))

        log_sigma = [np.log(0.3 * np.std(xs) + 1e-3) for xs in x]
        if self.scope_ == "global":
            n_others = len(self.layers_) - 1
            return np.concatenate([log_sigma, np.zeros(n_others), self._tau_params(cuts(np.concatenate(x),
                                                                                        np.concatenate(k)))])
        return np.concatenate([log_sigma] + [self._tau_params(cuts(xs, ks)) for xs, ks in zip(x, k, strict=True)])

    def _negll(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """−log-likelihood of the ordered probit and its gradient in the free parameters."""
        x, k, n = self._data
        log_sigma, log_c, taus = self._split(theta, n)
        n_layers = len(self.layers_)
        total = 0.0
        g_ls, g_lc = np.zeros(n_layers), np.zeros(n_layers)
        g_tau = np.zeros((n_layers, n))
        for j in range(n_layers):
            s, c = np.exp(log_sigma[j]), np.exp(log_c[j])
            cuts = np.concatenate([[-np.inf], taus[j], [np.inf]])         # S_k = Φ((c x − cuts[k]) / s)
            score = c * x[j]
            a = (score - cuts[k[j]]) / s                                 # upper end: S_k
            b = (score - cuts[k[j] + 1]) / s                             # lower end: S_{k+1}
            ll = _log_diff_ndtr(a, b)
            total += float(ll.sum())
            fa = np.where(np.isfinite(a), np.exp(_log_phi(np.where(np.isfinite(a), a, 0.0)) - ll), 0.0)
            fb = np.where(np.isfinite(b), np.exp(_log_phi(np.where(np.isfinite(b), b, 0.0)) - ll), 0.0)
            a0, b0 = np.where(np.isfinite(a), a, 0.0), np.where(np.isfinite(b), b, 0.0)
            g_ls[j] = float(np.sum(-fa * a0 + fb * b0))                  # d/d log σ
            g_lc[j] = float(np.sum((fa - fb) * score / s))               # d/d log c
            dcut = np.bincount(k[j], -fa / s, minlength=n + 2) + np.bincount(k[j] + 1, fb / s, minlength=n + 2)
            g_tau[j] = dcut[1:n + 1]
        grad = [g_ls]
        if self.scope_ == "global":
            grad.append(np.array([g for j, g in enumerate(g_lc) if self.layers_[j]["param"] != self.ref_]))
            grad.append(self._tau_grad(g_tau.sum(axis=0), theta[-n:]))
        else:
            i = n_layers
            grad += [self._tau_grad(g_tau[j], theta[i + j * n:i + (j + 1) * n]) for j in range(n_layers)]
        return -total, -np.concatenate(grad)

    @staticmethod
    def _tau_grad(g: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Chain rule from d/dτ_k to (τ_1, log increments): τ_k = τ_1 + Σ_{2<=j<=k} e^{v_j}."""
        tail = np.cumsum(g[::-1])[::-1]
        return np.concatenate([[tail[0]], np.exp(v[1:]) * tail[1:]])

    def _hessian(self, theta: np.ndarray, h: float = 1e-5) -> np.ndarray:
        cols = []
        for i in range(theta.size):
            e = np.zeros(theta.size)
            e[i] = h
            cols.append((self._negll(theta + e)[1] - self._negll(theta - e)[1]) / (2 * h))
        hess = np.array(cols)
        return 0.5 * (hess + hess.T)

    def _set_params(self, theta: np.ndarray) -> None:
        n = self.fit_rounds_[-1]
        log_sigma, log_c, taus = self._split(theta, n)
        se = np.sqrt(np.maximum(np.diag(self.cov_), 0.0))
        n_layers = len(self.layers_)
        others = [j for j, s in enumerate(self.layers_) if s["param"] != self.ref_]
        self.params_, self.tau_fit_ = {}, {}
        for j, spec in enumerate(self.layers_):
            p = spec["param"]
            sigma, c = float(np.exp(log_sigma[j])) * self.unit_, float(np.exp(log_c[j]))
            if self.scope_ == "global" and j in others:
                c_se = c * float(se[n_layers + others.index(j)])
            else:
                c_se = 0.0   # fixed at 1 (the reference layer, or layerwise pruning)
            scale = init_scale(spec, self.protocol_["init"])
            self.params_[p] = {"name": spec["name"], "c": c, "c_se": c_se, "sigma": sigma,
                               "sigma_se": sigma * float(se[j]), "width_init_units": sigma / (c * scale)}
            self.tau_fit_[p] = (taus[j] * self.unit_).tolist()

    # ------------------------------------------------------------------ predict
    def _grid(self, spec: dict) -> np.ndarray:
        u = (np.arange(self.n_grid) + 0.5) / self.n_grid
        return np.abs(init_ppf(spec, u, self.protocol_["init"]))

    def _predict(self) -> None:
        """Survival curves of rounds 0..n on the equal-mass cells, τ_r solved from the kept fraction."""
        from scipy.stats import norm

        n = int(self.n_rounds or self.protocol_["prune_rounds"])
        rate = simulate.rates_of(self.layers_, self.protocol_["prune_rate"], self.protocol_.get("prune_rates", ""))
        keep = {s["param"]: 1.0 - (rate[s["param"]] if isinstance(rate, dict) else rate) for s in self.layers_}
        score = {s["param"]: self.params_[s["param"]]["c"] * self._grid(s) for s in self.layers_}
        sigma = {p: v["sigma"] for p, v in self.params_.items()}
        size = {s["param"]: float(np.prod(s["shape"])) for s in self.layers_}
        groups = [list(score)] if self.scope_ == "global" else [[p] for p in score]
        curves = {p: [np.ones(self.n_grid)] for p in score}
        taus = {p: [0.0] for p in score}
        for r in range(1, n + 1):
            for names in groups:
                def kept(tau: float, names: list[str] = names) -> float:
                    return sum(size[p] * norm.sf((tau - score[p]) / sigma[p]).mean() for p in names)

                want = keep[names[0]] ** r * sum(size[p] for p in names)  # global: one rate
                hi = max(float(score[p].max()) + 40 * sigma[p] for p in names)
                lo = min(float(score[p].min()) - 40 * sigma[p] for p in names)
                tau = optimize.brentq(lambda t, want=want, kept=kept: kept(t) - want, lo, hi, xtol=1e-12)
                for p in names:
                    curves[p].append(norm.sf((tau - score[p]) / sigma[p]))
                    taus[p].append(tau)
        self.curves_ = {p: np.stack(c) for p, c in curves.items()}
        self.thresholds_ = {p: np.array(t) for p, t in taus.items()}

    def __repr__(self) -> str:
        return f"SoftThresholdDn(n_grid={self.n_grid}, n_rounds={self.n_rounds})"
