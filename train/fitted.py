"""The `fitted` condition's densities: a smooth D_n fitted to one layer's θ_LT.

The samplers live in `dn_analysis.samplers` (scipy.stats-style objects); training only asks
them for draws. KDE uses Silverman's bandwidth: the data-driven rules (ISJ, CV) undersmooth
D_n's hard edges and would hand back θ_LT's own values with little noise.
"""

from __future__ import annotations

import numpy as np

from train.errors import DnError

FITTED_SAMPLERS = ("kde", "gmm")


def fitted_sampler(name: str, values: np.ndarray):
    """A fitted `dn_analysis` sampler of `values` (KDE or Gaussian mixture), ready for `rvs`."""
    if name == "kde":
        from dn_analysis.samplers import KDEDn

        return KDEDn(bandwidth="silverman").fit(values)
    if name == "gmm":
        from dn_analysis.samplers import GMMDn

        return GMMDn().fit(values)
    raise DnError(f"unknown fitted sampler {name!r}; choose one of: {', '.join(FITTED_SAMPLERS)}")
