"""dn_analysis.signs: survivor-sign lean per layer and by input mean (calibration: docs/calibration.md)."""

from __future__ import annotations

import numpy as np
import pytest

from dn_analysis.signs import input_mean_trend, layer_lean
from dn_analysis.stats.calibrate import _pruned_nets


def test_layer_lean_finds_a_planted_lean_and_its_direction():
    rng = np.random.default_rng(0)
    thetas, masks, _ = _pruned_nets(rng, 5, drift=0.05, trend=0.0)
    row = layer_lean(thetas, masks, ["w"])[0]
    assert row["positive"] > row["positive_at_init"] + 0.02 and row["pvalue"] < 1e-3
    thetas, masks, _ = _pruned_nets(rng, 5, drift=-0.05, trend=0.0)
    row = layer_lean(thetas, masks, ["w"])[0]
    assert row["positive"] < row["positive_at_init"] - 0.02 and row["pvalue"] < 1e-3


def test_null_pvalues_are_not_small_on_average():
    rng = np.random.default_rng(1)
    p = [layer_lean(*_pruned_nets(rng, 5, 0.0, 0.0)[:2], ["w"])[0]["pvalue"] for _ in range(40)]
    assert 0.02 <= np.mean(np.array(p) <= 0.05) <= 0.2 and 0.3 < np.mean(p) < 0.7


def test_input_mean_trend_orders_bins_and_detects_a_planted_trend():
    rng = np.random.default_rng(2)
    thetas, masks, mean = _pruned_nets(rng, 5, drift=0.0, trend=0.08)
    res = input_mean_trend(thetas, masks, "w", mean, bins=4)
    assert res["bin_mean"] == sorted(res["bin_mean"]) and len(res["positive"]) == 4
    assert res["positive"][-1] > res["positive"][0] and res["pvalue"] < 1e-3
    flipped = input_mean_trend(thetas, masks, "w", -mean, bins=4)
    assert flipped["positive"][-1] < flipped["positive"][0]


def test_input_mean_trend_rejects_wrong_feature_count():
    thetas, masks, mean = _pruned_nets(np.random.default_rng(3), 2, 0.0, 0.0)
    with pytest.raises(ValueError, match="feature means"):
        input_mean_trend(thetas, masks, "w", mean[:-1])
