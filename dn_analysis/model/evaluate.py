"""How close DnModel comes to θ_LT it never saw, measured against the run's own noise floor.

Every distance is a two-sample KS (scipy.stats.ks_2samp) between the model's draws and one
held-out trial's pooled θ_LT; the noise floor is the median KS between pairs of trials of the same
run and round (two trials are two draws of the same process, so no model can be expected to do
better). The layer-threshold model (dn_analysis.explain) is shown beside it, and so are three
other predictors scored the same way: the fit trials' own θ_LT (the empirical baseline: "use
another network's ticket"), DnModel without its persistent drift (the ablation) and
SoftThresholdDn (a two-parameter-per-layer soft threshold fitted from θ0 and the masks alone).
DnModel is refitted on another trial to show how much its score moves with the fit (refit spread).
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


DN, NO_DRIFT, SOFT = "DnModel", "DnModel, no persistent drift", "SoftThresholdDn"


def baseline_name(fit_trials: list[int]) -> str:
    return f"trial-{'+'.join(map(str, fit_trials))} ticket"


def fit_models(exp: Any, fit_trials: list[int], extrapolate_from: int, **kwargs: Any) -> dict[str, DnModel]:
    """The two fits the table needs: all rounds, and rounds 1..extrapolate_from."""
    return {"held-out": DnModel(**kwargs).fit(exp, trials=fit_trials),
            "extrapolated": DnModel(**kwargs).fit(exp, trials=fit_trials,
                                                   rounds=list(range(1, extrapolate_from + 1)))}


def fit_predictors(exp: Any, fit_trials: list[int], extrapolate_from: int, ablation: bool = True,
                   soft: bool = True, **kwargs: Any) -> dict[tuple[str, str], Any]:
    """{(model, fit): fitted predictor, or the line saying why it was not fitted}.

    DnModel and its no-persistent-drift ablation need the trained weights (or training_stats.npz);
    SoftThresholdDn needs only θ0 and the masks, so it fits every run.
    """
    from dn_analysis.model.soft_threshold import SoftThresholdDn
    from dn_analysis.model.stats import why_not_fittable

    out: dict[tuple[str, str], Any] = {}
    why = why_not_fittable(exp)
    variants = [(DN, {})] + ([(NO_DRIFT, {"persistent_drift": False})] if ablation else [])
    for name, extra in variants:
        if why:
            out.update({(name, kind): why for kind in TARGETS})
        else:
            out.update({(name, kind): m for kind, m in fit_models(exp, fit_trials, extrapolate_from,
                                                                  **kwargs, **extra).items()})
    if soft:
        out[(SOFT, "held-out")] = SoftThresholdDn().fit(exp, trials=fit_trials)
        out[(SOFT, "extrapolated")] = SoftThresholdDn().fit(exp, trials=fit_trials,
                                                            rounds=range(1, extrapolate_from + 1))
    return out


def _refit(exp: Any, model: DnModel, trials: list[int]) -> DnModel:
    """The same DnModel (hyperparameters, rounds seen) fitted on other trials."""
    hyper = {k: getattr(model, k) for k in ("n_classes", "per_stratum", "n_grid", "paths", "max_iter", "n_rounds",
                                            "random_state", "persistent_drift")}
    return DnModel(**hyper).fit(exp, trials=trials, rounds=model.fit_rounds_)


def heldout_table(exp: Any, fit_trials: tuple[int, ...] = (0,), rounds: tuple[int, ...] = (6, 10),
                  extrapolate_from: int = 6, models: dict | None = None, n_draws: int = N_DRAWS,
                  layers: bool = False, baseline: bool = True, refit_trials: list[int] | None = None,
                  **model_kwargs: Any) -> list[dict]:
    """Rows (one per predictor, fit, round and, with `layers`, layer) of the distances to held-out trials.

    "held-out": fit on `fit_trials` with every round, tested on the other trials at `rounds`.
    "extrapolated": fit on rounds 1..extrapolate_from only, tested at the rounds after it.
    `models` is fit_predictors' dict ({(model, fit): predictor or reason}); a dict {fit: DnModel}
    is read as DnModel's. A predictor that could not be fitted gives rows whose `note` says why.
    With `baseline`, the fit trials' own θ_LT is a predictor too (KS between two networks' θ_LT).
    The refit spread: each DnModel is fitted again on each of `refit_trials` (default: the first
    trial not fitted; [] for none) and scored on the trials that refit did not see; `ratio_min`
    and `ratio_max` are the range of the ratio over the fit and its refits.
    `ratio` = median KS / noise floor; `target` is the bound (2x, 3x); `ok` = ratio <= target,
    `ok_refits` = ratio_max <= target.
    """
    fit_trials = list(fit_trials)
    test = [t for t in exp.trials if t not in fit_trials]
    if not test:
        raise ValueError(f"no held-out trial: the run has trials {exp.trials}, the fit uses {fit_trials}")
    if models is None:
        models = fit_predictors(exp, fit_trials, extrapolate_from, **model_kwargs)
    models = {(k if isinstance(k, tuple) else (DN, k)): v for k, v in models.items()}
    if refit_trials is None:
        refit_trials = test[:1]
    protocol = exp.config.get("protocol", "text")
    floors: dict[tuple[int, str | None], float] = {}
    thresholds: dict[int, float] = {}

    def floor(r: int, layer: str | None) -> float:
        if (r, layer) not in floors:
            floors[(r, layer)] = noise_floor(exp, r, layer=layer)
        return floors[(r, layer)]

    def threshold(r: int) -> float:
        if r not in thresholds:
            thresholds[r] = float(np.median([threshold_ks(exp, t, r) for t in test]))
        return thresholds[r]

    def row(name: str, kind: str, r: int, layer: str | None, ks: list[float], fitted_on: list[int],
            seen: str, model_density: float, note: str = "") -> dict:
        med = float(np.median(ks)) if ks else float("nan")
        target = TARGETS.get(kind, float("nan"))
        ratio = med / floor(r, layer) if ks else float("nan")
        return {"experiment": exp.name, "run": str(exp.run.path), "protocol": protocol, "model": name, "fit": kind,
                "fit_trials": " ".join(map(str, fitted_on)), "fit_rounds": seen, "round": r,
                "density": float(exp.density(r)), "model_density": model_density, "layer": layer or "all",
                "test_trials": " ".join(map(str, test)), "ks_median": med,
                "ks_per_trial": " ".join(f"{k:.4f}" for k in ks), "noise_floor": floor(r, layer), "ratio": ratio,
                "target": target, "ok": bool(ratio <= target), "ratio_min": ratio, "ratio_max": ratio,
                "refit_trials": "", "refit_ratios": "", "ok_refits": bool(ratio <= target),
                "threshold_model_ks": threshold(r) if layer is None else float("nan"), "note": note}

    layer_list = [None] + ([s["param"] for s in exp.layers] if layers else [])
    rows = []
    for (name, kind), model in models.items():
        last_seen = extrapolate_from if isinstance(model, str) else max(model.fit_rounds_)
        shown = [r for r in rounds if kind != "extrapolated" or r > last_seen]
        if isinstance(model, str):
            rows += [row(name, kind, r, None, [], fit_trials, f"1-{last_seen}" if kind == "extrapolated" else
                         f"1-{max(exp.rounds)}", float("nan"), model) for r in shown]
            continue
        refits = {t: _refit(exp, model, [t]) for t in refit_trials} if name == DN else {}
        for r in shown:
            for layer in layer_list:
                ks = [model_ks(model, _values(exp, t, r, layer), r, layer, n_draws, seed=t) for t in test]
                out = row(name, kind, r, layer, ks, model.fit_trials_, f"1-{max(model.fit_rounds_)}", model.density(r))
                if refits:
                    ratios = []
                    for t, m in refits.items():
                        others = [u for u in exp.trials if u != t]
                        med = float(np.median([model_ks(m, _values(exp, u, r, layer), r, layer, n_draws, seed=u)
                                               for u in others]))
                        ratios.append(med / floor(r, layer))
                    span = [out["ratio"], *ratios]
                    out.update(refit_trials=" ".join(map(str, refits)), refit_ratios=" ".join(f"{v:.2f}" for v in ratios),
                               ratio_min=min(span), ratio_max=max(span), ok_refits=bool(max(span) <= out["target"]))
                rows.append(out)
    if baseline:
        for r in rounds:
            for layer in layer_list:
                pooled = np.concatenate([_values(exp, t, r, layer) for t in fit_trials])
                ks = [float(stats.ks_2samp(pooled, _values(exp, t, r, layer)).statistic) for t in test]
                rows.append(row(baseline_name(fit_trials), "held-out", r, layer, ks, fit_trials, f"1-{r}",
                                float(np.mean([exp.density(r, trial=t) for t in fit_trials]))))
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
