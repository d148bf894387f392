"""EmpiricalDn: D_n quantized by θ_LT itself, as the paper samples it (Sec. 2).

Drawing uniformly with replacement from θ_LT can only reproduce values that survived pruning;
it is the baseline every smooth model (KDE, mixture) is compared against.

pdf: an empirical distribution is discrete and has no density. Rather than refuse, ``pdf``
returns the density of a histogram of θ_LT (``bins``, default Freedman-Diaconis), a descriptive
step function for plots and overlays, zero outside [min, max]. ``rvs`` and ``cdf`` are the
exact discrete distribution (cdf = the ECDF), so ``pdf`` is NOT the derivative of ``cdf``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dn_analysis._validate import as_sample
from dn_analysis.density.modes import grid_modes
from dn_analysis.samplers._base import DnSampler


class EmpiricalDn(DnSampler):
    """Uniform draws with replacement from the observed θ_LT values.

    ``EmpiricalDn(values)`` fits at once (the paper's usage); ``EmpiricalDn().fit(values)``
    works too. Fitted: ``values_`` (as given, float64), ``n_values_``, ``bin_edges_`` and
    ``hist_density_`` (the histogram behind ``pdf``).
    """

    kind = "EmpiricalDn"

    def __init__(self, values: Any = None, *, bins: int | str = "fd") -> None:
        self.values = values
        self.bins = bins
        if values is not None:
            self.fit(values)

    def fit(self, values: Any) -> EmpiricalDn:
        """Store θ_LT (1-D, finite, >= 2 values, not constant) and its histogram."""
        x = as_sample(values, min_size=2, name="values")
        self._set_state({}, {"values": x})
        return self

    def _set_state(self, scalars: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        x = np.asarray(arrays["values"], dtype=np.float64)
        self.values_ = x
        self.n_values_ = int(x.size)
        self._sorted = np.sort(x)
        try:
            self.bin_edges_ = np.histogram_bin_edges(x, bins=self.bins)
        except (ValueError, TypeError) as err:
            raise ValueError(
                f"bins must be an int or a numpy histogram rule, got {self.bins!r} ({err})."
            ) from None
        self.hist_density_, _ = np.histogram(x, bins=self.bin_edges_, density=True)

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {}, {"values": self.values_}

    @property
    def support(self) -> tuple[float, float]:
        """(min, max) of θ_LT: no draw falls outside."""
        self._check_fitted()
        return float(self._sorted[0]), float(self._sorted[-1])

    def _rvs(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.values_[rng.integers(0, self.n_values_, size=n)]

    def _pdf(self, x: np.ndarray) -> np.ndarray:
        edges = self.bin_edges_
        i = np.searchsorted(edges, x, side="right") - 1
        i[x == edges[-1]] = edges.size - 2  # the last bin is closed
        inside = (i >= 0) & (i < edges.size - 1)
        out = np.zeros_like(x)
        out[inside] = self.hist_density_[i[inside]]
        return out

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        return np.searchsorted(self._sorted, x, side="right") / self.n_values_

    def mean(self) -> float:
        """Mean of θ_LT."""
        self._check_fitted()
        return float(self.values_.mean())

    def var(self) -> float:
        """Variance of the uniform distribution on θ_LT (ddof=0)."""
        self._check_fitted()
        return float(self.values_.var())

    def modes(self) -> np.ndarray:
        """Centres of the histogram's local-maximum bins (a discrete law has no modes of its own)."""
        self._check_fitted()
        centres = 0.5 * (self.bin_edges_[1:] + self.bin_edges_[:-1])
        if centres.size < 3:
            return centres[[int(np.argmax(self.hist_density_))]]
        return grid_modes(centres, self.hist_density_)
