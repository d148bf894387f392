"""Magnitude pruning (the step inside Algorithm 1): drop s% of the remaining weights.

Ties are broken by position (stable sort), so pruning is deterministic. Biases are never pruned.
"""

from __future__ import annotations

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


def prune_masks(
    layers: list[LayerSpec],
    weights: dict[str, torch.Tensor],
    masks: dict[str, torch.Tensor],
    rate: float,
    scope: str = "global",
) -> dict[str, torch.Tensor]:
    """Masks after one pruning step, for one model (no stack dimension).

    `scope="global"` ranks all prunable weights together (the default); `"layerwise"` prunes
    each layer by `rate` on its own.
    """
    names = [layer.param for layer in layers]
    if scope == "layerwise":
        return {
            n: _prune_flat(weights[n].abs().flatten(), masks[n].flatten(), rate).view_as(masks[n])
            for n in names
        }
    scores = torch.cat([weights[n].abs().flatten() for n in names])
    kept = torch.cat([masks[n].flatten() for n in names])
    flat = _prune_flat(scores, kept, rate)
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
