"""One input check for every estimator and test in `dn_analysis`.

Samples of D_n arrive as numpy arrays, lists or torch tensors; every consumer needs the same
guarantees (1-D float64, finite, enough values, not constant), and every user mistake should
read as one clear sentence rather than a NaN deep inside an optimizer.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def as_sample(x: Any, *, min_size: int = 2, name: str = "x") -> np.ndarray:
    """Return `x` as a 1-D float64 array of finite, non-constant values, or raise ValueError.

    Accepts anything array-like (lists, numpy arrays, CPU torch tensors). A 2-D array with one
    row or one column is flattened; any other shape is refused so that a weight matrix is never
    pooled by accident (flatten it explicitly).
    """
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be an array of numbers ({err}).") from None
    if arr.ndim == 0:
        raise ValueError(f"{name} must be a 1-D array of values, got a scalar.")
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array of values, got shape {arr.shape} (flatten it first)."
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty; need at least {min_size} values.")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(
            f"{name} contains {int(bad.sum())} non-finite value(s) (NaN or inf) out of {arr.size}."
        )
    if arr.size < min_size:
        raise ValueError(f"{name} has {arr.size} value(s); need at least {min_size}.")
    if arr.size > 1 and np.ptp(arr) == 0:
        raise ValueError(
            f"{name} is constant (every value is {float(arr[0])!r}); it has no spread."
        )
    return np.ascontiguousarray(arr)
