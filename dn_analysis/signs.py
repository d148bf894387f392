"""Why θ_LT is not sign-symmetric: survivors lean toward the sign of their layer's mean input.

A weight's gradient is E[x_in * delta]. Adam moves a weight whose gradient keeps one sign by
about lr per step, so where a layer's inputs keep one sign its weights drift one way during
training, and the initial weights already on that side end up larger and survive magnitude
pruning more often. ReLU outputs are >= 0, so hidden layers fed by ReLUs lean one way; MNIST
normalized with one global mean has background pixels at -0.42, so FC-1's first layer leans
the other way, most strongly on the background pixels. Two controls lean neither way: the
output layer (softmax gradients sum to zero over the classes) and a first layer whose inputs
have mean zero (CIFAR-10 normalized per channel, for LeNet5's conv1).

The tests treat trials as the replicates (survivors within one network are not independent):
a one-sample t-test across trials of the survivors' positive share minus the layer's share at
initialization, and for the first layer a t-test across trials of the difference in positive
share between the inputs of highest and lowest mean.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats


def _ttest(values: Sequence[float]) -> tuple[float, float]:
    """Two-sided one-sample t-test of mean 0; (nan, nan) when it is undefined."""
    v = np.asarray(values, dtype=np.float64)
    if v.size < 2 or np.allclose(v, v[0]):
        return float("nan"), float("nan")
    res = stats.ttest_1samp(v, 0.0)
    return float(res.statistic), float(res.pvalue)


def layer_lean(theta0s: Sequence[dict[str, np.ndarray]], masks: Sequence[dict[str, np.ndarray]],
               layers: Sequence[str]) -> list[dict]:
    """Per layer: the positive share of survivors against that of all initial weights, per trial."""
    rows = []
    for name in layers:
        shares, base, kept = [], [], 0
        for theta, mask in zip(theta0s, masks, strict=True):
            w, m = np.asarray(theta[name]), np.asarray(mask[name]).astype(bool)
            if m.sum() == 0:
                continue
            shares.append(float(np.mean(w[m] > 0)))
            base.append(float(np.mean(w > 0)))
            kept += int(m.sum())
        diff = np.subtract(shares, base)
        t, p = _ttest(diff)
        rows.append({"layer": name, "positive": float(np.mean(shares)) if shares else float("nan"),
                     "positive_at_init": float(np.mean(base)) if base else float("nan"),
                     "per_trial": shares, "n": kept, "t": t, "pvalue": p})
    return rows


def input_mean_trend(theta0s: Sequence[dict[str, np.ndarray]], masks: Sequence[dict[str, np.ndarray]],
                     layer: str, feature_mean: np.ndarray, bins: int = 5) -> dict:
    """Positive share of a dense first layer's survivors by the mean of the input they read.

    `feature_mean` is the normalized training-set mean of each input feature (the layer's
    columns). Inputs are split into `bins` groups of equal size by that mean.
    """
    mean = np.asarray(feature_mean, dtype=np.float64).ravel()
    order = np.argsort(mean, kind="stable")
    groups = np.array_split(order, bins)
    centers = [float(np.mean(mean[g])) for g in groups]
    per_trial = []
    for theta, mask in zip(theta0s, masks, strict=True):
        w, m = np.asarray(theta[layer]), np.asarray(mask[layer]).astype(bool)
        if w.shape[1] != mean.size:
            raise ValueError(f"{layer} reads {w.shape[1]} inputs but {mean.size} feature means were given")
        row = []
        for g in groups:
            kept = w[:, g][m[:, g]]
            row.append(float(np.mean(kept > 0)) if kept.size else float("nan"))
        per_trial.append(row)
    shares = np.asarray(per_trial)
    t, p = _ttest(shares[:, -1] - shares[:, 0])
    return {"layer": layer, "bin_mean": centers, "positive": np.nanmean(shares, axis=0).tolist(),
            "per_trial": shares.tolist(), "t": t, "pvalue": p}
