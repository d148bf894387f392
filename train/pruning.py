"""Magnitude pruning (the step inside Algorithm 1): drop s% of the remaining weights.

Two rules: `rank` (the text's: drop exactly round(s·k) of the k remaining weights, ties broken by
position with a stable sort) and `percentile` (the authors' code: drop the weights whose |w| lies
below numpy's linearly interpolated 100·s-th percentile of the remaining |w|, so ceil(s·(k-1))
go and ties at the threshold survive). Biases are never pruned.
"""

from __future__ import annotations

import numpy as np
import torch

from train.models.base import LayerSpec


def _prune_flat(scores: torch.Tensor, kept: torch.Tensor, rate: float) -> torch.Tensor:
    """New 0/1 mask: among the `kept` entries, zero the round(rate * kept) smallest `scores`."""
    remaining = int(kept.sum())
    k = int(round(rate * remaining))
    ranked = torch.where(kept.bool(), scores, torch.full_like(scores, -1.0))
    order = torch.sort(ranked, stable=True).indices
    already = kept.numel() - remaining
    new = kept.clone()
    new[order[already : already + k]] = 0
    return new


def _prune_percentile(scores: torch.Tensor, kept: torch.Tensor, rate: float) -> torch.Tensor:
    """New 0/1 mask: among the `kept` entries, zero those below the 100·rate-th percentile."""
    alive = kept.bool()
    if not alive.any():
        return kept.clone()
    threshold = np.percentile(scores[alive].double().numpy(), 100.0 * rate)
    return (alive & (scores.double() >= threshold)).to(kept.dtype)


RULES = {"rank": _prune_flat, "percentile": _prune_percentile}


def prune_masks(
    layers: list[LayerSpec],
    weights: dict[str, torch.Tensor],
    masks: dict[str, torch.Tensor],
    rate: float,
    scope: str = "global",
    rule: str = "rank",
    rates: dict[str, float] | None = None,
) -> dict[str, torch.Tensor]:
    """Masks after one pruning step, for one model (no stack dimension).

    `scope="global"` ranks all prunable weights together (the default); `"layerwise"` prunes
    each layer on its own, by `rate` or by its entry of `rates` ({layer name: rate},
    results/rates.py: Frankle & Carbin's per-layer rates).
    """
    names = [layer.param for layer in layers]
    step = RULES[rule]
    if rates is not None and scope != "layerwise":
        raise ValueError("per-layer rates prune each layer on its own: scope must be layerwise")
    if scope == "layerwise":
        own = {layer.param: rate if rates is None else rates[layer.name] for layer in layers}
        return {
            n: step(weights[n].abs().flatten(), masks[n].flatten(), own[n]).view_as(masks[n])
            for n in names
        }
    scores = torch.cat([weights[n].abs().flatten() for n in names])
    kept = torch.cat([masks[n].flatten() for n in names])
    flat = step(scores, kept, rate)
    out, start = {}, 0
    for n in names:
        size = masks[n].numel()
        out[n] = flat[start : start + size].view_as(masks[n])
        start += size
    return out


def density(masks: dict[str, torch.Tensor]) -> float:
    """Fraction of prunable weights kept."""
    kept = sum(int(m.sum()) for m in masks.values())
    total = sum(m.numel() for m in masks.values())
    return kept / total
