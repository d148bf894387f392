"""KS distance against a distribution given by its quantiles (the authors' pooled θ_LT)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from reports.authors_match import _quantiles, _reference, ks_to_quantiles


def test_ks_to_quantiles_equals_the_exact_ks_up_to_the_grid():
    rng = np.random.default_rng(0)
    x = rng.normal(size=5000)
    probs = np.linspace(0, 1, 2001)
    quantiles = stats.norm.ppf(np.clip(probs, 1e-9, 1 - 1e-9))
    exact = stats.kstest(x, stats.norm.cdf).statistic
    # linear interpolation between quantiles 1/2000 apart moves the CDF by at most 1/2000 inside
    assert abs(ks_to_quantiles(x, probs, quantiles) - exact) <= 1 / 2000 + 1e-12
    shifted = ks_to_quantiles(x + 0.5, probs, quantiles)
    assert shifted > 0.15  # a real difference is seen


def test_the_shipped_reference_tables_hold_the_papers_numbers():
    ref = _reference("fc1-mnist")
    best = max(v["test_acc_mean"] for v in ref["full"].values())
    assert round(best, 4) == 0.9068  # the paper's Figure 1, FC-1 full
    probs, quantiles = _quantiles("fc1-mnist", 6)
    assert probs.size == 2001 and np.all(np.diff(quantiles) >= 0)
