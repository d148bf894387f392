"""Conditions: how a network is started from a ticket (the paper's four, and the controls).

Each condition is a registered, seeded function of the ticket that returns (weights, mask);
a new condition is one small function plus a decorator. The paper (Section 2) trains `full`,
`pruned`, `reinit` and `remask`; the controls take apart what the ticket's start carries:
placement (`shuffle`, `random-mask`), sign (`keep-sign`, `keep-magnitude`), the layer's scale
(`layer-reinit`, `rand-init`), a smooth D_n (`fitted`) and the paper's Future Work question,
a dense network drawn from D_n (`dense-dn`). Three more take D_n's shape apart from its scale:
`dense-dn-scaled` (dense-dn at θ0's per-layer rms), `sign-dtheta` (θ0's signs with magnitudes
from |D_θ|, beside `keep-sign`'s from |θ_LT|) and `signed-constant` (θ0's signs times the
layer's init std, Zhou et al. 2019).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from results.errors import DnError
from results.labels import Label, check_condition_name
from train.models.base import LayerSpec


@dataclass(frozen=True)
class Ticket:
    """A trial's θ0 and the mask after some pruning round, with the surviving weights θ_LT.

    `pool` holds the weights that the sampling conditions draw from when the protocol draws
    from something else than θ_LT (the authors' code samples the trained ticket's weights);
    None means θ_LT itself, the paper's text.
    """

    layers: list[LayerSpec]
    theta0: dict[str, torch.Tensor]
    mask: dict[str, torch.Tensor]
    reinit_pool: str = "pooled"
    init: str = "xavier_uniform"
    fitted_sampler: str = "kde"
    pool_weights: dict[str, torch.Tensor] | None = None
    round: int = 0  # the pruning round of `mask`
    fitted_model: Any = None  # a DnModel (layer_sampler) for `fitted` with fitted_sampler="model"

    def theta_lt(self, layer: str | None = None) -> torch.Tensor:
        """Nonzero-mask θ0 values: pooled over layers, or of one weight `layer`."""
        names = [layer] if layer else [spec.param for spec in self.layers]
        return torch.cat([self.theta0[n][self.mask[n].bool()] for n in names])

    def pool(self, layer: str | None = None) -> torch.Tensor:
        """What D_n-sampling conditions draw from: θ_LT, or the protocol's `pool_weights`."""
        if self.pool_weights is None:
            return self.theta_lt(layer)
        names = [layer] if layer else [spec.param for spec in self.layers]
        return torch.cat([self.pool_weights[n][self.mask[n].bool()] for n in names])


Build = Callable[[Ticket, torch.Generator], tuple[dict, dict]]


@dataclass(frozen=True)
class Condition:
    name: str
    build: Build
    uses_ticket: bool  # False: trained once per trial (dense), True: once per ticket round
    summary: str


CONDITIONS: dict[str, Condition] = {}
PAPER_CONDITIONS = ("full", "pruned", "reinit", "remask")


def register(name: str, uses_ticket: bool = True):
    check_condition_name(name)

    def wrap(fn: Build) -> Build:
        CONDITIONS[name] = Condition(name, fn, uses_ticket, (fn.__doc__ or "").strip().splitlines()[0])
        return fn

    return wrap


def expand_conditions(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """`all` (every registered condition) and `paper` (the paper's four) as explicit names."""
    out: list[str] = []
    for name in names:
        group = list(CONDITIONS) if name == "all" else list(PAPER_CONDITIONS) if name == "paper" else [name]
        out += [n for n in group if n not in out]
    unknown = [c for c in out if c not in CONDITIONS]
    if unknown:
        raise DnError(f"unknown condition {unknown[0]!r}; choose from: all, paper, {', '.join(CONDITIONS)}")
    return tuple(out)


# ------------------------------------------------------------------ building blocks
def _ones(ticket: Ticket) -> dict[str, torch.Tensor]:
    return {n: torch.ones_like(m) for n, m in ticket.mask.items()}


def _permuted_masks(ticket: Ticket, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Each layer's mask with its ones moved to random positions (same count per layer)."""
    out = {}
    for name, m in ticket.mask.items():
        flat = m.flatten()
        out[name] = flat[torch.randperm(flat.numel(), generator=gen)].view_as(m)
    return out


def _fill(ticket: Ticket, mask: dict, values_for: Callable[[LayerSpec, torch.Tensor], torch.Tensor]) -> dict:
    """θ0's biases; each weight layer zero except at the mask's ones, filled by `values_for`.

    `values_for(spec, where)` returns the values at the ones of `where`, in row-major order.
    """
    theta = dict(ticket.theta0)
    for spec in ticket.layers:
        where = mask[spec.param].bool()
        values = torch.zeros(spec.shape)
        values[where] = values_for(spec, where).to(torch.float32)
        theta[spec.param] = values
    return theta


def _with_replacement(pool: torch.Tensor, count: int, gen: torch.Generator) -> torch.Tensor:
    return pool[torch.randint(pool.numel(), (count,), generator=gen)]


def _draw(ticket: Ticket, mask: dict, gen: torch.Generator, per_layer: bool) -> dict:
    """Weights drawn uniformly with replacement from D_n (pooled, or each layer's own)."""
    pooled = ticket.pool()
    return _fill(ticket, mask, lambda spec, where: _with_replacement(
        ticket.pool(spec.param) if per_layer else pooled, int(where.sum()), gen))


def _numpy_seed(gen: torch.Generator) -> int:
    return int(torch.randint(0, 2**62, (1,), generator=gen))


# ------------------------------------------------------------------ the paper's four
@register("full", uses_ticket=False)
def full(ticket: Ticket, gen: torch.Generator) -> tuple[dict, dict]:
    """The dense network at θ0."""
    return dict(ticket.theta0), _ones(ticket)


@register("pruned")
def pruned(ticket: Ticket, gen: torch.Generator) -> tuple[dict, dict]:
    """The lottery ticket m ⊙ θ0."""
    return dict(ticket.theta0), dict(ticket.mask)


@register("reinit")
def reinit(ticket: Ticket, gen: torch.Generator) -> tuple[dict, dict]:
    """The ticket's mask, weights drawn with replacement from the pooled θ_LT (the paper)."""
    return _draw(ticket, ticket.mask, gen, per_layer=ticket.reinit_pool == "layer"), dict(ticket.mask)


@register("remask")
def remask(ticket: Ticket, gen: torch.Generator) -> tuple[dict, dict]:
    """Each layer's mask permuted at random, weights drawn from the pooled θ_LT (the paper)."""
    mask = _permuted_masks(ticket, gen)
    return _draw(ticket, mask, gen, per_layer=ticket.reinit_pool == "layer"), mask


# ------------------------------------------------------------------ controls
@register("shuffle")
def shuffle(ticket: Ticket, gen: torch.Generator) -> tuple[dict, dict]:
    """The ticket's mask, each layer's θ_LT permuted among that layer's surviving positions."""
    def values(spec: LayerSpec, where: torch.Tensor) -> torch.Tensor:
        own = ticket.theta0[spec.param][where]
        return own[torch.randperm(own.numel(), generator=gen)]

    return _fill(ticket, ticket.mask, values), dict(ticket.mask)


@register("layer-reinit")
def layer_reinit(ticket: Ticket, gen: torch.Generator) -> tuple[dict, dict]:
    """The ticket's mask, weights drawn with replacement from the layer's own θ_LT."""
    return _draw(ticket, ticket.mask, gen, per_layer=True), dict(ticket.mask)


@register("keep-sign")
def keep_sign(ticket: Ticket, gen: torch.Generator) -> tuple[dict, dict]:
    """The ticket's mask, θ0's signs, magnitudes drawn from the layer's |θ_LT|."""
    def values(spec: LayerSpec, where: torch.Tensor) -> torch.Tensor:
        signs = torch.sign(ticket.theta0[spec.param][where])
        magnitudes = _with_replacement(ticket.theta_lt(spec.param).abs(), int(where.sum()), gen)
        return signs * magnitudes

    return _fill(ticket, ticket.mask, values), dict(ticket.mask)


@register("keep-magnitude")
def keep_magnitude(ticket: Ticket, gen: torch.Generator) -> tuple[dict, dict]:
    """The ticket's mask, |θ0| with a fair random sign."""
    def values(spec: LayerSpec, where: torch.Tensor) -> torch.Tensor:
        magnitudes = ticket.theta0[spec.param][where].abs()
        signs = torch.randint(2, magnitudes.shape, generator=gen).to(torch.float32) * 2 - 1
        return signs * magnitudes

    return _fill(ticket, ticket.mask, values), dict(ticket.mask)


@register("rand-init")
def rand_init(ticket: Ticket, gen: torch.Generator) -> tuple[dict, dict]:
    """The ticket's mask, a fresh draw from the network's init distribution D_θ."""
    from train.init import INITS

    fresh = {spec.param: INITS[ticket.init](spec, gen) for spec in ticket.layers}
    return _fill(ticket, ticket.mask, lambda spec, where: fresh[spec.param][where]), dict(ticket.mask)


@register("fitted")
def fitted(ticket: Ticket, gen: torch.Generator) -> tuple[dict, dict]:
    """The ticket's mask, weights drawn from a density fitted to the layer's D_n (KDE, GMM or DnModel)."""
    from train.fitted import fitted_sampler

    def values(spec: LayerSpec, where: torch.Tensor) -> torch.Tensor:
        if ticket.fitted_sampler == "model":
            if ticket.fitted_model is None:
                raise DnError("the fitted condition with fitted_sampler='model' needs the trial's DnModel")
            sampler = ticket.fitted_model.layer_sampler(spec.param, ticket.round)
        else:
            sampler = fitted_sampler(ticket.fitted_sampler, ticket.pool(spec.param).double().numpy())
        draws = sampler.rvs(size=int(where.sum()), random_state=np.random.default_rng(_numpy_seed(gen)))
        return torch.from_numpy(np.asarray(draws, dtype=np.float32))

    return _fill(ticket, ticket.mask, values), dict(ticket.mask)


@register("random-mask")
def random_mask(ticket: Ticket, gen: torch.Generator) -> tuple[dict, dict]:
    """Each layer's mask permuted at random, θ0 at the new positions (random pruning of θ0)."""
    mask = _permuted_masks(ticket, gen)
    return _fill(ticket, mask, lambda spec, where: ticket.theta0[spec.param][where]), mask


@register("dense-dn")
def dense_dn(ticket: Ticket, gen: torch.Generator) -> tuple[dict, dict]:
    """Dense, every weight drawn with replacement from its layer's θ_LT (the paper's Future Work)."""
    ones = _ones(ticket)
    return _draw(ticket, ones, gen, per_layer=True), ones


def _rms(values: torch.Tensor) -> torch.Tensor:
    """Root mean square in float64 (over every entry of a dense layer)."""
    return values.double().square().mean().sqrt()


@register("dense-dn-scaled")
def dense_dn_scaled(ticket: Ticket, gen: torch.Generator) -> tuple[dict, dict]:
    """Dense, drawn like dense-dn, each layer then rescaled to θ0's rms (D_n's shape at D_θ's scale)."""
    ones = _ones(ticket)
    theta = _draw(ticket, ones, gen, per_layer=True)
    for spec in ticket.layers:
        drawn = theta[spec.param]
        theta[spec.param] = (drawn.double() * (_rms(ticket.theta0[spec.param]) / _rms(drawn))).to(torch.float32)
    return theta, ones


@register("sign-dtheta")
def sign_dtheta(ticket: Ticket, gen: torch.Generator) -> tuple[dict, dict]:
    """The ticket's mask, θ0's signs, magnitudes from |D_θ| (a fresh draw of the layer's init)."""
    from train.init import INITS

    def values(spec: LayerSpec, where: torch.Tensor) -> torch.Tensor:
        signs = torch.sign(ticket.theta0[spec.param][where])
        return signs * INITS[ticket.init](spec, gen)[where].abs()

    return _fill(ticket, ticket.mask, values), dict(ticket.mask)


@register("signed-constant")
def signed_constant(ticket: Ticket, gen: torch.Generator) -> tuple[dict, dict]:
    """The ticket's mask, θ0's signs times the layer's init std (Zhou et al. 2019)."""
    from train.init import init_std

    def values(spec: LayerSpec, where: torch.Tensor) -> torch.Tensor:
        return torch.sign(ticket.theta0[spec.param][where]) * torch.tensor(init_std(ticket.init, spec),
                                                                           dtype=torch.float32)

    return _fill(ticket, ticket.mask, values), dict(ticket.mask)


def label(condition: str, round: int, density: float) -> str:
    """Output name of `condition` on the ticket of pruning round `round` (0 for a dense condition):
    `full`, or e.g. `reinit-26` for density 0.262 (results.labels.Label)."""
    return Label(condition, round if CONDITIONS[condition].uses_ticket else 0).text(density)
