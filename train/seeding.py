"""Seeds derived from names, so every model's randomness is independent of how models are stacked.

A model trained alone or in a stack of 35 must see the same θ0, data order and condition draws;
deriving each seed from (run seed, experiment, purpose, trial, ...) by hashing makes that true
and keeps runs reproducible bit for bit.
"""

from __future__ import annotations

import hashlib

import torch


def derive_seed(seed: int, *keys: object) -> int:
    """A 63-bit seed determined by `seed` and the `keys` (order matters)."""
    text = repr((int(seed),) + tuple(str(k) for k in keys)).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little") >> 1


def generator(seed: int, *keys: object) -> torch.Generator:
    """A CPU torch.Generator seeded by :func:`derive_seed`."""
    gen = torch.Generator()
    gen.manual_seed(derive_seed(seed, *keys))
    return gen
