"""Training lengths in iterations or epochs (``500it``, ``2ep``), as the literature counts them.

Frankle & Carbin state training in iterations at batch 60, the D_n paper in epochs. A length is
cut into segments for the engine: whole epochs, then the first batches of one more epoch's data
order. Each segment is one row of the metrics tables (its `epoch` column counts segments).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

UNITS = {"it": "iterations", "ep": "epochs"}


@dataclass(frozen=True)
class Steps:
    """`count` iterations (unit "it") or epochs (unit "ep")."""

    count: int
    unit: str

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"

    def batches(self, examples: int, batch_size: int) -> int:
        """Minibatch steps in all; an epoch is ceil(examples / batch_size) of them (the last one partial)."""
        per_epoch = math.ceil(examples / batch_size)
        return self.count * per_epoch if self.unit == "ep" else self.count

    def segments(self, examples: int, batch_size: int) -> list[int]:
        """Minibatches per segment: whole epochs, then the remainder (the start of one more epoch)."""
        per_epoch = math.ceil(examples / batch_size)
        total = self.batches(examples, batch_size)
        whole, rest = divmod(total, per_epoch)
        return [per_epoch] * whole + ([rest] if rest else [])


def parse_steps(text: str) -> Steps:
    """``"500it"`` / ``"2ep"`` / ``"0"`` -> Steps; ValueError saying what a length looks like."""
    text = str(text).strip()
    if text == "0":
        return Steps(0, "it")
    match = re.fullmatch(r"(\d+)\s*(it|ep)", text)
    if not match:
        raise ValueError(f"a training length is a whole number of iterations or epochs, e.g. 500it or 2ep; "
                         f"got {text!r}")
    return Steps(int(match.group(1)), match.group(2))
