"""init_scaled_from_dn_: a standardized D_n initializes a layer of any shape at its own scale."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dn_analysis import EmpiricalDn, init_scaled_from_dn_
from dn_analysis.samplers import init_scale


def test_scale_follows_torch_fans():
    assert init_scale((300, 784)) == pytest.approx(math.sqrt(2 / 1084))
    assert init_scale((16, 6, 5, 5)) == pytest.approx(math.sqrt(2 / (150 + 400)))
    assert init_scale((300, 784), "torch_default") == pytest.approx(1 / math.sqrt(3 * 784))
    with pytest.raises(ValueError, match="2 dimensions"):
        init_scale((10,))


@pytest.mark.parametrize("shape", [(300, 784), (16, 6, 5, 5)])
def test_draws_are_the_standardized_values_times_the_layers_scale(shape):
    standardized = np.array([-1.5, -1.0, 1.0, 1.5])
    dn = EmpiricalDn().fit(standardized)
    w = torch.empty(shape)
    init_scaled_from_dn_(w, dn, generator=torch.Generator().manual_seed(0))
    std = init_scale(shape)
    levels = torch.tensor(standardized, dtype=torch.float32) * torch.tensor(std, dtype=torch.float32)
    # every entry is one of the four levels, up to float32 rounding of the product
    nearest = (w.flatten()[:, None] - levels[None, :]).abs().min(dim=1).values
    assert nearest.max() <= 2 * torch.finfo(torch.float32).eps * levels.abs().max()
    assert set(torch.bucketize(w.flatten(), (levels[:-1] + levels[1:]) / 2).tolist()) == {0, 1, 2, 3}


def test_mask_fills_only_its_ones_and_the_generator_makes_it_repeatable():
    dn = EmpiricalDn().fit(np.array([-2.0, 2.0]))
    mask = torch.zeros(100, 50, dtype=torch.bool)
    mask[::3] = True
    a, b = torch.zeros(100, 50), torch.zeros(100, 50)
    init_scaled_from_dn_(a, dn, mask=mask, generator=torch.Generator().manual_seed(1))
    init_scaled_from_dn_(b, dn, mask=mask, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert (a[~mask] == 0).all() and (a[mask].abs() > 0).all()
