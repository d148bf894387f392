"""Statistical tests of the shape of D_n: symmetry, number of modes, two-sample comparison.

Every test returns a `TestResult` (scipy-style `.statistic`, `.pvalue`, plus `.method`,
`.summary` and `.details`). Calibration by simulation: `python -m dn_analysis.stats.calibrate`.
"""

from dn_analysis.stats.compare import compare_distributions
from dn_analysis.stats.dip import dip_test
from dn_analysis.stats.modes import count_modes, hall_york_lambda, mode_pvalues, mode_test
from dn_analysis.stats.result import TestResult
from dn_analysis.stats.shape import ShapeVerdict, shape_verdict
from dn_analysis.stats.symmetry import midquantile, symmetry_test

__all__ = [
    "ShapeVerdict",
    "TestResult",
    "compare_distributions",
    "count_modes",
    "dip_test",
    "hall_york_lambda",
    "midquantile",
    "mode_pvalues",
    "mode_test",
    "shape_verdict",
    "symmetry_test",
]
