"""Conditions of the paper (Section 2): how a network is initialized from a ticket.

Each condition is a registered, seeded function of the ticket that returns (weights, mask);
a new condition is one small function plus a decorator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from train.models.base import LayerSpec


@dataclass(frozen=True)
class Ticket:
    """A trial's θ0 and the mask after some pruning round, with the surviving weights θ_LT."""

    layers: list[LayerSpec]
    theta0: dict[str, torch.Tensor]
    mask: dict[str, torch.Tensor]
    reinit_pool: str = "pooled"

    def theta_lt(self, layer: str | None = None) -> torch.Tensor:
        """Nonzero-mask θ0 values: pooled over layers, or of one weight `layer`."""
        names = [layer] if layer else [spec.param for spec in self.layers]
        return torch.cat([self.theta0[n][self.mask[n].bool()] for n in names])


@dataclass(frozen=True)
class Condition:
    name: str
    build: Callable[[Ticket, torch.Generator], tuple[dict, dict]]
    uses_ticket: bool  # False: trained once per trial (dense), True: once per ticket round


CONDITIONS: dict[str, Condition] = {}


def register(name: str, uses_ticket: bool = True):
    def wrap(fn: Callable[[Ticket, torch.Generator], tuple[dict, dict]]):
        CONDITIONS[name] = Condition(name, fn, uses_ticket)
        return fn

    return wrap


def _draw_weights(ticket: Ticket, mask: dict[str, torch.Tensor], gen: torch.Generator) -> dict:
    """θ0's biases, and weights drawn uniformly with replacement from θ_LT at the mask's ones."""
    theta = dict(ticket.theta0)
    pooled = ticket.theta_lt()
    for spec in ticket.layers:
        pool = ticket.theta_lt(spec.param) if ticket.reinit_pool == "layer" else pooled
        where = mask[spec.param].bool()
        values = torch.zeros(spec.shape)
        picks = torch.randint(pool.numel(), (int(where.sum()),), generator=gen)
        values[where] = pool[picks]
        theta[spec.param] = values
    return theta


@register("full", uses_ticket=False)
def full(ticket: Ticket, gen: torch.Generator) -> tuple[dict, dict]:
    """The dense network at θ0."""
    return dict(ticket.theta0), {n: torch.ones_like(m) for n, m in ticket.mask.items()}


@register("pruned")
def pruned(ticket: Ticket, gen: torch.Generator) -> tuple[dict, dict]:
    """The lottery ticket m ⊙ θ0."""
    return dict(ticket.theta0), dict(ticket.mask)


@register("reinit")
def reinit(ticket: Ticket, gen: torch.Generator) -> tuple[dict, dict]:
    """The ticket's mask, weights drawn from θ_LT (the paper's sampling of D_n)."""
    return _draw_weights(ticket, ticket.mask, gen), dict(ticket.mask)


@register("remask")
def remask(ticket: Ticket, gen: torch.Generator) -> tuple[dict, dict]:
    """Each layer's mask permuted at random (same count per layer), weights drawn from θ_LT."""
    mask = {}
    for name, m in ticket.mask.items():
        flat = m.flatten()
        mask[name] = flat[torch.randperm(flat.numel(), generator=gen)].view_as(m)
    return _draw_weights(ticket, mask, gen), mask


def label(condition: str, density: float) -> str:
    """Output name: `full`, or e.g. `reinit-26` for density 0.262 (floor of the percentage)."""
    if not CONDITIONS[condition].uses_ticket:
        return condition
    return f"{condition}-{int(density * 100 + 1e-9)}"
