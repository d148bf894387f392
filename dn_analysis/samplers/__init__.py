"""Samplers of D_n with one scipy.stats-like interface (see ``_base.DnSampler``)."""

from dn_analysis.samplers._base import DnSampler
from dn_analysis.samplers.empirical import EmpiricalDn
from dn_analysis.samplers.gmm import GMMDn
from dn_analysis.samplers.io import load_dn
from dn_analysis.samplers.kde import KDEDn
from dn_analysis.samplers.torch_init import init_from_dn_, init_scale, init_scaled_from_dn_

__all__ = ["DnSampler", "EmpiricalDn", "GMMDn", "KDEDn", "init_from_dn_", "init_scale", "init_scaled_from_dn_",
           "load_dn"]
