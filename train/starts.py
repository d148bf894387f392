"""Which condition models a run trains, in which stacks, and where each one starts.

Shared by training (`train.experiment`) and the reader (`Run.initial_weights`), so a start
can always be re-derived from the stored ticket, the run's seed and the model's name.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from train.conditions import CONDITIONS, Ticket, label
from train.config import ExperimentConfig
from train.seeding import generator


@dataclass(frozen=True)
class ModelPlan:
    """One model of the condition phase."""

    condition: str
    label: str
    round: int
    trial: int


def chunks(items: list, size: int) -> list[list]:
    """Split into the fewest pieces of at most `size`, as even as possible."""
    count = max(1, -(-len(items) // size))
    bounds = np.linspace(0, len(items), count + 1).round().astype(int)
    return [items[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def condition_plan(cfg: ExperimentConfig) -> list[ModelPlan]:
    """Every model of the condition phase, trial by trial: dense conditions, then each ticket round's."""
    plans = []
    for t in range(cfg.trials):
        for c in cfg.conditions:
            if not CONDITIONS[c].uses_ticket:
                plans.append(ModelPlan(c, label(c, 0, 1.0), 0, t))
        for r in cfg.ticket_rounds:
            for c in cfg.conditions:
                if CONDITIONS[c].uses_ticket:
                    plans.append(ModelPlan(c, label(c, r, cfg.density(r)), r, t))
    return plans


def expected_rows(experiments: tuple[ExperimentConfig, ...] | list[ExperimentConfig]) -> int:
    """metrics.csv's rows once every condition model has trained: models x recorded epochs."""
    return sum(len(condition_plan(e)) * (e.epochs + e.eval_epoch_zero) for e in experiments)


def chained(cfg: ExperimentConfig) -> bool:
    """Do condition runs hand their biases to the next one (the authors' code)? Then a trial's
    conditions run one after another, and a stack holds one condition of several trials."""
    return not cfg.rewind_biases


def condition_pieces(cfg: ExperimentConfig, stack_size: int) -> list[tuple[str, list[ModelPlan]]]:
    """(name, models) of each condition stack, in training order.

    Normally a trial's models are cut into even stacks that share one data order (the fast
    path). Chained runs stack one condition across trials instead, in the plan's order.
    """
    plans = condition_plan(cfg)
    out = []
    if chained(cfg):
        labels = list(dict.fromkeys(p.label for p in plans))
        for i, name in enumerate(labels):
            own = [p for p in plans if p.label == name]
            out += [(f"train-c{i:02d}-{g:02d}", group) for g, group in enumerate(chunks(own, stack_size))]
        return out
    for t in range(cfg.trials):
        own = [p for p in plans if p.trial == t]
        out += [(f"train-t{t:03d}-{g:02d}", group) for g, group in enumerate(chunks(own, stack_size))]
    return out


def previous_in_chain(cfg: ExperimentConfig, plan: ModelPlan) -> ModelPlan | None:
    """The condition model of the same trial that ran just before `plan` (None: the first)."""
    own = [p for p in condition_plan(cfg) if p.trial == plan.trial]
    i = own.index(plan)
    return own[i - 1] if i else None


def condition_start(cfg: ExperimentConfig, seed: int, layers: list, plan: ModelPlan,
                    theta0: dict[str, torch.Tensor], mask: dict[str, torch.Tensor],
                    pool_weights: dict[str, torch.Tensor] | None = None,
                    biases: dict[str, torch.Tensor] | None = None,
                    fitted_model: Any = None) -> tuple[dict, dict]:
    """A condition model's starting (weights, mask): a function of the ticket and names only.

    `pool_weights` are the trained ticket weights when the protocol samples D_n from them;
    `biases` replace θ0's when they are carried over from the previous run; `fitted_model` is
    the trial's saved DnModel when `fitted` draws from it (train/fitted.py).
    """
    ticket = Ticket(layers, theta0, mask, cfg.reinit_pool, cfg.init, cfg.fitted_sampler, pool_weights,
                    plan.round, fitted_model)
    gen = generator(seed, cfg.name, "condition", plan.label, plan.trial)
    weights, start_mask = CONDITIONS[plan.condition].build(ticket, gen)
    weights = {k: v * start_mask[k] if k in start_mask else v for k, v in weights.items()}
    if biases is not None:
        weights.update({k: v.clone() for k, v in biases.items()})
    return weights, start_mask


def start_digest(weights: dict[str, torch.Tensor], mask: dict[str, torch.Tensor]) -> str:
    """sha256 of a start's weights and mask (sorted keys, float32/uint8 bytes): checks re-derivation."""
    digest = hashlib.sha256()
    for name in sorted(weights):
        digest.update(name.encode() + weights[name].to(torch.float32).contiguous().numpy().tobytes())
    for name in sorted(mask):
        digest.update(name.encode() + mask[name].to(torch.uint8).contiguous().numpy().tobytes())
    return digest.hexdigest()


def needs_dn_model(cfg: ExperimentConfig) -> bool:
    """Does the `fitted` condition draw from a DnModel fitted to each trial's pruning rounds?"""
    return "fitted" in cfg.conditions and cfg.fitted_sampler == "model"
