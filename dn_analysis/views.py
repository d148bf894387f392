"""Views of D_n from a results folder: θ_LT of one trial and round, raw or standardized.

Thin wrappers over the run API of docs/run-format.md (``exp.theta_lt``), so that every
analysis asks for D_n the same way. "standardized" divides each layer's values by its
init_std, which puts layers and architectures with different Xavier scales on one axis (the
paper's Sec. 4.4 notes FC-1 and LeNet5 differ mainly by that scale). The run loader is
``results.open_run``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

VIEWS = ("raw", "standardized")


def _standardize(view: str) -> bool:
    if view not in VIEWS:
        raise ValueError(f"view must be one of {', '.join(VIEWS)}, got {view!r}.")
    return view == "standardized"


def open_experiment(run_dir: str | Path, experiment: str) -> Any:
    """``open_run(run_dir).experiment(experiment)``: one experiment of a results folder."""
    from results import open_run

    return open_run(run_dir).experiment(experiment)


def theta_lt_view(
    exp: Any,
    trial: int,
    round: int,  # the run API's name for a pruning round
    view: str = "raw",
    per_layer: bool = False,
) -> np.ndarray | dict[str, np.ndarray]:
    """θ_LT of one trial after `round` prunings: a pooled 1-D array, or {layer: array}.

    `exp` is an experiment of the run API (``open_run(dir).experiment(name)``).
    """
    std = _standardize(view)
    got = exp.theta_lt(trial, round, per_layer=per_layer, standardize=std)
    if per_layer:
        return {name: np.asarray(v, dtype=np.float64).ravel() for name, v in got.items()}
    return np.asarray(got, dtype=np.float64).ravel()


def pooled_theta_lt(
    exp: Any,
    round: int,
    view: str = "raw",
    per_layer: bool = False,
    trials: Iterable[int] | None = None,
) -> np.ndarray | dict[str, np.ndarray]:
    """θ_LT pooled over trials (all of ``exp.trials`` by default), concatenated in trial order."""
    trials = list(exp.trials if trials is None else trials)
    if not trials:
        raise ValueError("no trials to pool.")
    parts = [theta_lt_view(exp, t, round, view=view, per_layer=per_layer) for t in trials]
    if not per_layer:
        return np.concatenate(parts)
    names = list(parts[0])
    return {name: np.concatenate([p[name] for p in parts]) for name in names}
