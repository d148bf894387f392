"""Per-layer pruning rates: the text of a run's `prune_rates` setting, and what it means per layer.

Frankle & Carbin prune each layer on its own at a rate that depends on the layer's kind: e.g.
conv layers 10%, hidden fully connected layers 20% and the output layer 10% per round. A run
states that as ``prune_rates = "conv=0.1,fc=0.2,output=0.1"``; a key may also name one layer
(``"fc1=0.2,fc3=0.1"``), which wins over its kind. An empty text means one rate for every layer
(the run's `prune_rate`). Kept here, at the bottom, because training, the reader (labels of
each round's density) and the analysis (DnModel's simulation) all read it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

KINDS = ("conv", "fc", "output")  # a 4-D weight; a Linear before the last layer; the last layer


def parse_rates(text: str) -> dict[str, float]:
    """``"conv=0.1,fc=0.2"`` -> {"conv": 0.1, "fc": 0.2}; ValueError naming what is wrong."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"prune_rates: {part!r} is not KEY=RATE (e.g. conv=0.1,fc=0.2,output=0.1)")
        try:
            rate = float(value)
        except ValueError:
            raise ValueError(f"prune_rates: {key}'s rate {value.strip()!r} is not a number") from None
        if not (math.isfinite(rate) and 0.0 <= rate < 1.0):
            raise ValueError(f"prune_rates: {key}'s rate must be a fraction in [0, 1), got {value.strip()}")
        if key in out:
            raise ValueError(f"prune_rates: {key} is given twice")
        out[key] = rate
    return out


def layer_kind(index: int, count: int, shape: Sequence[int]) -> str:
    """conv (4-D weight), output (the last layer) or fc (any other)."""
    if len(shape) == 4:
        return "conv"
    return "output" if index == count - 1 else "fc"


def layer_rates(prune_rates: str, prune_rate: float, layers: Sequence[tuple[str, Sequence[int]]]) -> dict[str, float]:
    """{layer name: its rate per round}: `prune_rates` by name, then by kind, else `prune_rate`.

    `layers` are (name, weight shape) in the network's order. A key that names neither a kind
    nor a layer is an error, so a typo never silently falls back to the global rate.
    """
    given = parse_rates(prune_rates)
    names = [name for name, _ in layers]
    unknown = [k for k in given if k not in KINDS and k not in names]
    if unknown:
        raise ValueError(f"prune_rates: {', '.join(unknown)} is neither a layer kind ({', '.join(KINDS)}) "
                         f"nor a layer of this network ({', '.join(names)})")
    out = {}
    for i, (name, shape) in enumerate(layers):
        kind = layer_kind(i, len(layers), shape)
        out[name] = given.get(name, given.get(kind, prune_rate))
    return out


def nominal_density(entry: Mapping, round: int, layers: Sequence[tuple[str, Sequence[int]]] | None = None) -> float:
    """The density a round's labels are named by: (1 - s)^round, or with per-layer rates the
    weight-weighted mean of each layer's (1 - s_l)^round (which needs `layers`)."""
    rates_text = str(entry.get("prune_rates") or "")
    rate = float(entry["prune_rate"])
    if not rates_text:
        return (1.0 - rate) ** round
    if layers is None:
        raise ValueError("per-layer prune_rates: the nominal density needs the network's layers")
    rates = layer_rates(rates_text, rate, layers)
    sizes = {name: math.prod(shape) for name, shape in layers}
    return sum(sizes[n] * (1.0 - rates[n]) ** round for n in sizes) / sum(sizes.values())
