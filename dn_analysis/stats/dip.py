"""Hartigan & Hartigan's (1985) dip test of unimodality, via the `diptest` package (C++).

The dip is the sup distance between the empirical CDF and the closest unimodal CDF. Its
p-value comes from the uniform null, the least favourable unimodal law, so for any other
unimodal law (a normal, say) the test is conservative by design: it rejects less than alpha.
On D_n, `absolute=True` tests |x|: if x is symmetric with four peaks, |x| has two, so a
rejection for |x| is a check for >= 4 modes in x that needs no bandwidth.
"""

from __future__ import annotations

import diptest
import numpy as np

from dn_analysis._validate import as_sample
from dn_analysis.stats.result import TestResult, fmt_p


def dip_test(
    x: np.ndarray,
    *,
    absolute: bool = False,
    n_boot: int | None = None,
    random_state: int | None = None,
) -> TestResult:
    """Test H0: x (or |x| when `absolute`) is unimodal; p from the uniform null.

    p is interpolated from the tabulated dip quantiles, or with `n_boot` simulated from
    n_boot uniform samples of the same size (seeded by `random_state`).
    """
    x = as_sample(x, min_size=4)
    values = np.abs(x) if absolute else x
    if absolute and np.ptp(values) == 0:
        raise ValueError("|x| is constant, so the dip test on |x| has nothing to test.")
    if n_boot is None:
        dip, p = diptest.diptest(values)
        null = "interpolated table of the uniform null (Hartigan & Hartigan; Maechler)"
    else:
        if n_boot < 19:
            raise ValueError(f"n_boot must be at least 19 for a p-value below 0.05, got {n_boot}.")
        seed = 0 if random_state is None else int(random_state)
        dip, p = diptest.diptest(values, boot_pval=True, n_boot=int(n_boot), seed=seed, n_threads=1)
        null = f"{n_boot} uniform samples of size {x.size}"
    what = "|x|" if absolute else "x"
    if p <= 0.05:
        verdict = "more than one mode" + (" in |x| (at least four in a symmetric x)" if absolute else "")
    else:
        verdict = "no evidence against unimodality"
    summary = (f"Dip test of unimodality of {what}: dip = {dip:.4g}, p = {fmt_p(p)} ({null}; "
               f"conservative for non-uniform nulls): {verdict} at the 5% level.")
    details = {"n": x.size, "absolute": absolute, "null": null, "n_boot": n_boot}
    return TestResult(float(dip), float(p), "dip", summary, details)
