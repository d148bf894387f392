"""How close DnModel comes to θ_LT it never saw, measured against the run's own noise floor.

Every distance is a two-sample KS (scipy.stats.ks_2samp) between the model's draws and one
held-out trial's pooled θ_LT; the noise floor is the median KS between pairs of trials of the same
run and round (two trials are two draws of the same process, so no model can be expected to do
better). The layer-threshold model (dn_analysis.explain) is shown beside it.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
from scipy import stats

from dn_analysis.model.dn_model import DnModel

N_DRAWS = 1_000_000
TARGETS = {"held-out": 2.0, "extrapolated": 3.0}


def noise_floor(exp: Any, round: int, trials: list[int] | None = None, layer: str | None = None) -> float:
    """Median KS between pairs of trials of `exp` at `round` (pooled θ_LT, or one layer's)."""
    trials = list(exp.trials if trials is None else trials)
    if len(trials) < 2:
        raise ValueError("the noise floor needs at least two trials")
    vals = {t: _values(exp, t, round, layer) for t in trials}
    return float(np.median([stats.ks_2samp(vals[a], vals[b]).statistic for a, b in combinations(trials, 2)]))


def _values(exp: Any, trial: int, round: int, layer: str | None) -> np.ndarray:
    if layer is None:
        return exp.theta_lt(trial, round)
    names = {s["param"]: s["name"] for s in exp.layers}
    return exp.theta_lt(trial, round, per_layer=True)[names.get(layer, layer)]


def model_ks(model: DnModel, values: np.ndarray, round: int, layer: str | None = None,
             n_draws: int = N_DRAWS, seed: int = 0) -> float:
    """KS between `n_draws` model draws and `values` (n_draws -> inf is the one-sample KS)."""
    draws = model.rvs(round, n_draws, random_state=seed, layer=layer)
    return float(stats.ks_2samp(draws, values).statistic)


def threshold_ks(exp: Any, trial: int, round: int) -> float:
    """KS of the layer-threshold model (explain.py, built from this trial's per-layer counts)."""
    from dn_analysis.explain import explain_dn

    try:
        return float(explain_dn(exp.theta0(trial), exp.mask(trial, round), exp.layers).ks_distance)
    except ValueError:  # normal inits have no shelves
        return float("nan")


def fit_models(exp: Any, fit_trials: list[int], extrapolate_from: int, **kwargs: Any) -> dict[str, DnModel]:
    """The two fits the table needs: all rounds, and rounds 1..extrapolate_from."""
    return {"held-out": DnModel(**kwargs).fit(exp, trials=fit_trials),
            "extrapolated": DnModel(**kwargs).fit(exp, trials=fit_trials,
                                                   rounds=list(range(1, extrapolate_from + 1)))}


def heldout_table(exp: Any, fit_trials: tuple[int, ...] = (0,), rounds: tuple[int, ...] = (6, 10),
                  extrapolate_from: int = 6, models: dict[str, DnModel] | None = None,
                  n_draws: int = N_DRAWS, layers: bool = False, **model_kwargs: Any) -> list[dict]:
    """Rows (one per fit, round and, with `layers`, layer) of the distances to held-out trials.

    "held-out": fit on `fit_trials` with every round, tested on the other trials at `rounds`.
    "extrapolated": fit on rounds 1..extrapolate_from only, tested at the rounds after it.
    `ratio` = median KS / noise floor; `target` is the issue's bound (2x, 3x); `ok` = ratio <= target.
    """
    fit_trials = list(fit_trials)
    test = [t for t in exp.trials if t not in fit_trials]
    if not test:
        raise ValueError(f"no held-out trial: the run has trials {exp.trials}, the fit uses {fit_trials}")
    models = models or fit_models(exp, fit_trials, extrapolate_from, **model_kwargs)
    protocol = exp.config.get("protocol", "text")
    rows = []
    for kind, model in models.items():
        shown = [r for r in rounds if kind != "extrapolated" or r > max(model.fit_rounds_)]
        for r in shown:
            for layer in [None] + ([s["param"] for s in exp.layers] if layers else []):
                ks = [model_ks(model, _values(exp, t, r, layer), r, layer, n_draws, seed=t) for t in test]
                floor = noise_floor(exp, r, layer=layer)
                base = [threshold_ks(exp, t, r) for t in test] if layer is None else []
                med = float(np.median(ks))
                rows.append({
                    "experiment": exp.name, "run": str(exp.run.path), "protocol": protocol, "fit": kind,
                    "fit_trials": " ".join(map(str, model.fit_trials_)),
                    "fit_rounds": f"1-{max(model.fit_rounds_)}", "round": r, "density": float(exp.density(r)),
                    "model_density": model.density(r), "layer": layer or "all", "test_trials": " ".join(map(str, test)),
                    "ks_median": med, "ks_per_trial": " ".join(f"{k:.4f}" for k in ks), "noise_floor": floor,
                    "ratio": med / floor, "target": TARGETS.get(kind, float("nan")),
                    "ok": bool(med / floor <= TARGETS.get(kind, np.inf)),
                    "threshold_model_ks": float(np.median(base)) if base else float("nan"),
                })
    return rows


def divot(pdf_at: Any, scale: float) -> float:
    """Density at 0 over the highest density (a hole: 0; no dip: 1), on a grid of ±scale."""
    grid = np.linspace(-scale, scale, 2001)
    f = np.asarray(pdf_at(grid))
    near = np.abs(grid) <= 0.02 * scale
    return float(f[near].mean() / f.max())


def reference_rows(model: DnModel, path: str, experiment: str = "fc1-mnist") -> list[dict]:
    """The model beside a published pooled θ_LT given as quantiles (studies/authors_theta_lt.csv).

    KS = max |p - F_model(q_p)| over the published (p, q_p); the divot compares the density at 0
    with the peaks, from the model and from the quantiles (finite differences of p over q).
    """
    import csv

    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["experiment"] == experiment]
    out = []
    for r in sorted({int(row["round"]) for row in rows}):
        sel = [row for row in rows if int(row["round"]) == r]
        p = np.array([float(row["prob"]) for row in sel])
        q = np.array([float(row["quantile"]) for row in sel])
        scale = float(np.max(np.abs(q)))

        def published_pdf(x: np.ndarray, p: np.ndarray = p, q: np.ndarray = q) -> np.ndarray:
            edges = np.linspace(q[0], q[-1], 121)
            dens = np.diff(np.interp(edges, q, p)) / np.diff(edges)
            return dens[np.clip(np.searchsorted(edges, x) - 1, 0, dens.size - 1)]

        out.append({"experiment": experiment, "round": r, "n_values": int(sel[0]["n_values"]),
                    "ks": float(np.max(np.abs(p - model.cdf(q, r)))),
                    "divot_model": divot(lambda x, r=r: model.pdf(x, r), scale),
                    "divot_published": divot(published_pdf, scale)})
    return out
