"""The prediction of predict.py held against a run's tickets, beside DnModel and the noise floor.

For one experiment and round, in both views (raw, and standardized: each layer in units of its
init std), per trial:
- KS from the no-drift prediction to the trial's pooled θ_LT (one-sample, the prediction's cdf is
  exact for its step-function survival);
- the noise floor: the median KS between two trials (dn_analysis.model.evaluate.noise_floor), the
  distance no prediction can be expected to beat;
- DnModel held out over trials: fitted on trial 0, scored on the others (evaluate.heldout_table
  in raw units; the same fit's exact cdf in standardized units). A run without trained weights
  (or their training_stats.npz) gets the reason instead of numbers;
- modes of each trial's θ_LT by the calibrated per-trial counter (merged_modes, z = 3, through
  dn_analysis.trials: the modal count and over how many trials it is defined).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats

from dn_analysis.architectures.pooled import view_cdf
from dn_analysis.architectures.predict import Prediction
from dn_analysis.model.evaluate import DN, N_DRAWS, heldout_table, noise_floor
from dn_analysis.model.stats import why_not_fittable
from dn_analysis.stats import _kde
from dn_analysis.stats.modes import MIN_SIZE
from dn_analysis.trials import shape_questions, trial_shapes
from dn_analysis.views import VIEWS, theta_lt_view

FIT_TRIALS = (0,)
QUICK_MODEL = {"per_stratum": 800, "n_grid": 120, "paths": 200, "max_iter": 15}  # as `dn analyze model --quick`


class Standardized:
    """An experiment seen in init-std units: what evaluate.noise_floor reads (trials, layers, theta_lt)."""

    def __init__(self, exp: Any) -> None:
        self._exp, self.trials, self.layers = exp, exp.trials, exp.layers

    def theta_lt(self, trial: int, round: int, per_layer: bool = False) -> Any:
        return self._exp.theta_lt(trial, round, per_layer=per_layer, standardize=True)


def _median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def mode_counts(xs: list[np.ndarray]) -> dict[str, Any]:
    """Modes per trial by the calibrated counter inside the pooled central 98%, as trials.py counts."""
    usable = [x for x in xs if x.size >= MIN_SIZE]
    if not usable:
        return {"modal": None, "modal_trials": 0, "per_trial": [], "n_defined": 0, "n_trials": len(xs)}
    lo, hi = _kde.central_interval(np.concatenate(usable), 0.98)
    q = shape_questions(trial_shapes(usable, float("nan"), lo, hi, count="merge"))[0]
    return {"modal": q["modal"], "modal_trials": q["modal_trials"], "per_trial": q["per_trial"],
            "n_defined": q["n_defined"], "n_trials": len(xs)}


def dn_model_distances(exp: Any, round: int, xs_std: Mapping[int, np.ndarray], settings: Mapping | None,
                       n_draws: int = N_DRAWS) -> dict[str, Any]:
    """DnModel fitted on FIT_TRIALS, KS to each held-out trial: raw (heldout_table) and standardized.

    `settings` None skips the fit; otherwise DnModel(**settings). A run it cannot be fitted on
    gives a note saying why.
    """
    from dn_analysis.model.dn_model import DnModel

    empty = {"ks_dn_raw": float("nan"), "ks_dn_std": float("nan"), "ks_dn_std_trials": "", "dn_note": ""}
    if settings is None:
        return {**empty, "dn_note": "DnModel not fitted: skipped with --no-model"}
    if why := why_not_fittable(exp):
        return {**empty, "dn_note": why}
    test = [t for t in exp.trials if t not in FIT_TRIALS]
    if not test or any(t not in exp.trials for t in FIT_TRIALS):
        return {**empty, "dn_note": f"DnModel not scored: held out over trials needs trial 0 and another "
                                    f"(trials: {', '.join(map(str, exp.trials))})"}
    model = DnModel(**settings).fit(exp, trials=list(FIT_TRIALS))
    rows = heldout_table(exp, FIT_TRIALS, rounds=(round,), models={(DN, "held-out"): model}, n_draws=n_draws,
                         baseline=False, refit_trials=[])
    ks_std = [float(stats.kstest(xs_std[t], lambda v: view_cdf(model, v, round, "standardized")).statistic)
              for t in test]
    return {"ks_dn_raw": float(rows[0]["ks_median"]), "ks_dn_std": _median(ks_std),
            "ks_dn_std_trials": " ".join(f"{k:.4f}" for k in ks_std), "dn_note": ""}


def measure(exp: Any, round: int, pred: Prediction, model_settings: Mapping | None = None,
            n_draws: int = N_DRAWS) -> dict[str, Any]:
    """Measured numbers of one experiment at `round` against `pred` (see the module docstring)."""
    trials = list(exp.trials)
    out: dict[str, Any] = {"trials": len(trials), "density_measured": float(exp.density(round))}
    xs_std: dict[int, np.ndarray] = {}
    for view in VIEWS:
        key = "std" if view == "standardized" else "raw"
        xs = {t: theta_lt_view(exp, t, round, view) for t in trials}
        if view == "standardized":
            xs_std = xs
        ks = [float(stats.kstest(x, lambda v, view=view: pred.cdf(v, view)).statistic) for x in xs.values()]
        floor = noise_floor(exp if view == "raw" else Standardized(exp), round) if len(trials) >= 2 else float("nan")
        counts = mode_counts(list(xs.values()))
        out.update({f"ks_pred_{key}": _median(ks), f"ks_pred_{key}_trials": " ".join(f"{k:.4f}" for k in ks),
                    f"noise_floor_{key}": floor, f"modes_measured_{key}": counts["modal"],
                    f"modes_measured_{key}_trials": " ".join(map(str, counts["per_trial"])),
                    f"modes_measured_{key}_modal_trials": counts["modal_trials"],
                    f"modes_n_defined_{key}": counts["n_defined"]})
    out.update(dn_model_distances(exp, round, xs_std, model_settings, n_draws))
    for key in ("raw", "std"):
        floor = out[f"noise_floor_{key}"]
        out[f"ratio_pred_{key}"] = out[f"ks_pred_{key}"] / floor if floor > 0 else float("nan")
        out[f"ratio_dn_{key}"] = out[f"ks_dn_{key}"] / floor if floor > 0 else float("nan")
    return out


def pair_distance(xs_a: list[np.ndarray], xs_b: list[np.ndarray]) -> float:
    """Median KS between every trial of one experiment and every trial of another."""
    return _median([float(stats.ks_2samp(a, b).statistic) for a in xs_a for b in xs_b])
