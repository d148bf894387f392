"""dn_analysis: density models, samplers and statistical tests of D_n."""

# DnModel (dn_analysis/model/): a generative model of θ_LT through the pruning rounds
from dn_analysis.model import DnModel as DnModel
from dn_analysis.model import SoftThresholdDn as SoftThresholdDn
from dn_analysis.samplers import EmpiricalDn as EmpiricalDn
from dn_analysis.samplers import GMMDn as GMMDn
from dn_analysis.samplers import KDEDn as KDEDn
from dn_analysis.samplers import init_from_dn_ as init_from_dn_
from dn_analysis.samplers import init_scaled_from_dn_ as init_scaled_from_dn_
from dn_analysis.samplers import load_dn as load_dn
from dn_analysis.stats import TestResult as TestResult
from dn_analysis.stats import compare_distributions as compare_distributions
from dn_analysis.stats import count_modes as count_modes
from dn_analysis.stats import dip_test as dip_test
from dn_analysis.stats import mode_test as mode_test
from dn_analysis.stats import shape_verdict as shape_verdict
from dn_analysis.stats import symmetry_test as symmetry_test
