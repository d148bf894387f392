"""Re-deriving a condition's start from a results folder: replay of training's own code path.

:mod:`results` reads what is stored; a condition's starting weights are not stored but replayed
from the ticket, the run's seed and the model's name (``train.starts.condition_start``), then
checked against the sha256 the run recorded for that start. ``train.open_run`` opens a folder with
this added; everything else is :class:`results.run.Run`'s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from results.errors import DnError
from results.run import ExperimentResult, Run
from results.schema import CARRY
from results.store import read_npz
from train.conditions import CONDITIONS, label
from train.config import RunConfig
from train.fitted import load_trial_model
from train.models.base import LayerSpec
from train.starts import (
    ModelPlan,
    chained,
    condition_start,
    expected_rows,
    needs_dn_model,
    previous_in_chain,
    start_digest,
)


class ReplayExperiment(ExperimentResult):
    """An experiment of a run whose condition starts can be re-derived (`initial_weights`)."""

    def initial_weights(self, condition: str, trial: int, round: int | None = None):
        """(weights, mask) a condition model started from, as dicts keyed like `theta0`.

        Re-derived from the stored ticket and the run's seed (the same code path as training),
        and checked against the sha256 the run recorded for that start when it has one.
        `round` is the ticket's pruning round (ignored for dense conditions such as `full`).
        """

        if condition not in CONDITIONS:
            raise DnError(f"unknown condition {condition!r}; choose from: {', '.join(CONDITIONS)}")
        cfg = next(e for e in RunConfig.from_json(self.run.config).experiments if e.name == self.name)
        uses_ticket = CONDITIONS[condition].uses_ticket
        if uses_ticket and round not in cfg.ticket_rounds:
            raise DnError(f"{self.name}: {condition} was trained at ticket rounds {list(cfg.ticket_rounds)}, "
                          f"not round {round}")
        r = round if uses_ticket else 0
        plan = ModelPlan(condition, label(condition, r, cfg.density(r)), r, trial)
        layers = [LayerSpec(layer["name"], tuple(layer["shape"])) for layer in self.layers]
        tensors = lambda d: {k: torch.from_numpy(v) for k, v in d.items()}  # noqa: E731
        theta0 = tensors(self.start(trial))  # θ_k when the run rewinds
        mask = {k: torch.from_numpy(v.astype(np.float32)) for k, v in self.mask(trial, r).items()}
        pool = tensors(self.pool_weights(trial, r)) if cfg.dn_pool == "trained" and r > 0 else None
        biases = None
        if chained(cfg):
            before = previous_in_chain(cfg, plan)
            if before is None:
                biases = tensors(self.trained_biases(trial, cfg.prune_rounds - 1))
            else:
                ends = read_npz(self.dir / CARRY / f"{before.label}.npz")
                biases = {k.split("/", 1)[1]: torch.from_numpy(v) for k, v in ends.items()
                          if k.startswith(f"trial{trial}/")}
        model = None
        if needs_dn_model(cfg) and condition == "fitted":
            model = load_trial_model(self.dir, trial)
        weights, start_mask = condition_start(cfg, int(self.run.config["seed"]), layers, plan, theta0, mask,
                                              pool, biases, model)
        recorded = self.recorded_digests().get(f"{plan.label}/trial{trial}")
        if recorded is not None and recorded != start_digest(weights, start_mask):
            raise DnError(f"{self.name}: the re-derived start of {plan.label} trial {trial} differs from the "
                          "one trained (another dn version?); its digest is in done/train-*.json")
        return ({k: v.numpy() for k, v in weights.items()},
                {k: v.numpy().astype(bool) for k, v in start_mask.items()})


class ReplayRun(Run):
    """A results folder opened with the training code at hand: starts re-derivable, and the expected
    row count of runs that did not record it computed by the planner."""

    experiment_class = ReplayExperiment

    def expected_rows(self) -> int | None:
        recorded = super().expected_rows()
        if recorded is not None:
            return recorded
        return expected_rows(RunConfig.from_json(self.config).experiments)


def open_run(path: str | Path) -> ReplayRun:
    """Open a results folder, with each condition's start re-derivable; one-line DnError if it is not one."""
    return ReplayRun(path)
