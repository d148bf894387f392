"""The one adapter from training to `dn_analysis`: the `fitted` condition's densities: a smooth D_n fitted to one layer's θ_LT, or DnModel's.

The samplers live in `dn_analysis.samplers` (scipy.stats-style objects); training only asks
them for draws. KDE uses Silverman's bandwidth: the data-driven rules (ISJ, CV) undersmooth
D_n's hard edges and would hand back θ_LT's own values with little noise.

`model` draws from `dn_analysis.DnModel`, the survival model of D_n, fitted to the trial's own
pruning rounds (its θ0, masks and trained weights) once pruning is done. The fit is saved as JSON
under ``<experiment>/fitted/`` and every draw comes from the saved file, so the reader re-derives
the same start without refitting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from results.errors import DnError

FITTED_SAMPLERS = ("kde", "gmm", "model")


def fitted_sampler(name: str, values: np.ndarray):
    """A fitted `dn_analysis` sampler of `values` (KDE or Gaussian mixture), ready for `rvs`."""
    if name == "kde":
        from dn_analysis.samplers import KDEDn

        return KDEDn(bandwidth="silverman").fit(values)
    if name == "gmm":
        from dn_analysis.samplers import GMMDn

        return GMMDn().fit(values)
    raise DnError(f"unknown fitted sampler {name!r}; choose one of: {', '.join(FITTED_SAMPLERS)}")


def model_path(experiment_dir: Path, trial: int) -> Path:
    """Where the DnModel behind trial `trial`'s `fitted` starts is saved."""
    return Path(experiment_dir) / "fitted" / f"dn-model-trial{trial}.json"


def fit_trial_model(run_dir: Path, experiment: str, trial: int) -> Path:
    """Fit DnModel on one trial's pruning rounds (written by `dn train`) and save it; return its path."""
    from dn_analysis.model import DnModel
    from results.run import open_run

    exp = open_run(run_dir).experiment(experiment)
    return DnModel(random_state=trial).fit(exp, trials=[trial]).save(model_path(exp.dir, trial))


def load_trial_model(experiment_dir: Path, trial: int) -> Any:
    """The saved DnModel of a trial (JSON, no code runs), or a one-line error naming the file."""
    from dn_analysis.model import DnModel

    path = model_path(experiment_dir, trial)
    if not path.exists():
        raise DnError(f"{path} is missing: the `fitted` condition with --fitted-sampler model draws from it; "
                      "re-run the same `dn train` with this --out, which fits it again")
    try:
        return DnModel.load(path)
    except (ValueError, KeyError) as err:
        raise DnError(f"{path} is not a readable DnModel ({err}); delete it and re-run the same `dn train`, "
                      "which fits it again") from err


def write_training_stats(exp: Any, path: Path, per_stratum: int) -> Path:
    """What DnModel needs of a run's trained weights, written for a compact copy (`dn export`)."""
    from dn_analysis.model.stats import write_training_stats as write

    return write(exp, path, per_stratum=per_stratum)
