"""The one result type every test in `dn_analysis.stats` returns.

scipy's tests return objects with `.statistic` and `.pvalue`; ours do too, so code written for
scipy reads ours unchanged, and add the method name, a sentence saying what the number means
for D_n, and a dict of everything else a report may want (null sizes, centers, bandwidths).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class TestResult:
    """Outcome of one hypothesis test: statistic, p-value, method, a one-sentence summary."""

    __test__: ClassVar[bool] = False  # not a pytest test class despite the name

    statistic: float
    pvalue: float
    method: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)

    def __iter__(self):
        """Unpack like scipy: `stat, p = symmetry_test(x)`."""
        return iter((self.statistic, self.pvalue))

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly copy (for reports and calibration tables)."""
        return {
            "statistic": float(self.statistic),
            "pvalue": float(self.pvalue),
            "method": self.method,
            "summary": self.summary,
            "details": dict(self.details),
        }


def mc_pvalue(exceed: int, n_resamples: int) -> float:
    """Monte-Carlo p-value (1 + #{T* >= T}) / (B + 1): valid (never anti-conservative) at any B."""
    return (1.0 + float(exceed)) / (n_resamples + 1.0)


def fmt_p(p: float) -> str:
    """p-value for a sentence: 3 significant digits, or '< 1e-300'."""
    if p < 1e-300:
        return "< 1e-300"
    return f"{p:.3g}"
