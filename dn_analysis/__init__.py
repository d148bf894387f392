"""dn_analysis: density models, samplers and statistical tests of D_n."""

from dn_analysis.stats import TestResult as TestResult
from dn_analysis.stats import compare_distributions as compare_distributions
from dn_analysis.stats import count_modes as count_modes
from dn_analysis.stats import dip_test as dip_test
from dn_analysis.stats import mode_test as mode_test
from dn_analysis.stats import shape_verdict as shape_verdict
from dn_analysis.stats import symmetry_test as symmetry_test
