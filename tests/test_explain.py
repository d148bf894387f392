"""The layer-threshold model of D_n: exact when pruning keeps the largest |θ0|, poor for random masks."""

import numpy as np
import pytest

from dn_analysis.explain import explain_dn


def _layers():
    rng = np.random.default_rng(0)
    specs = [("a", (300, 200), 0.1), ("b", (100, 300), 0.2)]
    layers, theta = [], {}
    for name, shape, bound in specs:
        layers.append({"name": name, "param": f"{name}.weight", "init_bound": bound})
        theta[f"{name}.weight"] = rng.uniform(-bound, bound, size=shape)
    return layers, theta, rng


def test_magnitude_masks_are_explained_and_random_masks_are_not():
    layers, theta, rng = _layers()
    top, rand = {}, {}
    for layer, keep in zip(layers, (0.2, 0.5), strict=True):
        w = theta[layer["param"]]
        k = int(keep * w.size)
        cut = np.sort(np.abs(w).ravel())[-k]
        top[layer["param"]] = np.abs(w) >= cut
        rand[layer["param"]] = rng.permutation(top[layer["param"]].ravel()).reshape(w.shape)
    good = explain_dn(theta, top, layers)
    bad = explain_dn(theta, rand, layers)
    assert good.overlap == pytest.approx(1.0) and good.ks_distance < 0.02
    assert bad.overlap == pytest.approx(bad.chance_overlap, abs=0.03) and bad.ks_distance > 0.2
    grid = np.linspace(-0.25, 0.25, 5001)
    assert np.trapezoid(good.pdf(grid), grid) == pytest.approx(1.0, abs=1e-2)
    assert good.cdf(np.array([-1.0, 0.0, 1.0])) == pytest.approx([0.0, 0.5, 1.0])


def test_needs_uniform_init():
    layers, theta, _ = _layers()
    layers[0]["init_bound"] = None
    with pytest.raises(ValueError, match="uniform init"):
        explain_dn(theta, {k: np.ones_like(v, bool) for k, v in theta.items()}, layers)
