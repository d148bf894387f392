"""KDEDn: a Gaussian kernel density estimate of D_n, the smooth version of EmpiricalDn.

Sampling is exact: pick a value of θ_LT uniformly, add N(0, h^2) noise. That is precisely a
draw from the KDE, with no grid involved, so ``rvs`` is EmpiricalDn's draw blurred by the
bandwidth. ``pdf``/``cdf`` interpolate the density tabulated once on a fine grid
(:mod:`dn_analysis.density.kde`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dn_analysis._validate import as_sample
from dn_analysis.density.bandwidth import RULES, select_bandwidth
from dn_analysis.density.kde import GridDensity, kde_grid_density
from dn_analysis.samplers._base import DnSampler


class KDEDn(DnSampler):
    """Gaussian KDE of θ_LT.

    Parameters: ``bandwidth`` is a rule (``isj`` default, ``scott``, ``silverman``,
    ``sheather-jones``, ``cv``; see :mod:`dn_analysis.density.bandwidth`) or a positive float
    (the kernel's standard deviation, in the values' units); ``grid_size`` is the minimum
    number of grid points for pdf/cdf (raised so the spacing is at most h/4).

    Fitted: ``values_``, ``n_values_``, ``bandwidth_`` (float), ``grid_`` and ``density_`` (the
    tabulated pdf), ``modes_``.
    """

    kind = "KDEDn"

    def __init__(self, bandwidth: str | float = "isj", grid_size: int = 2048) -> None:
        self.bandwidth = bandwidth
        self.grid_size = grid_size

    def _resolve_bandwidth(self, x: np.ndarray) -> float:
        bw = self.bandwidth
        if isinstance(bw, str):
            if bw.lower().replace("_", "-") not in RULES:
                raise ValueError(
                    f"unknown bandwidth rule {bw!r}; choose one of {', '.join(RULES)}, or a number."
                )
            return select_bandwidth(x, bw)
        if isinstance(bw, bool) or not isinstance(bw, int | float | np.floating | np.integer):
            raise ValueError(f"bandwidth must be a rule name or a positive number, got {bw!r}.")
        if not (np.isfinite(bw) and bw > 0):
            raise ValueError(f"bandwidth must be a positive finite number, got {bw!r}.")
        return float(bw)

    def fit(self, values: Any) -> KDEDn:
        """Choose the bandwidth and tabulate the density of θ_LT (1-D, finite, >= 3 values)."""
        x = as_sample(values, min_size=3, name="values")
        if not (isinstance(self.grid_size, int | np.integer) and self.grid_size >= 16):
            raise ValueError(f"grid_size must be an int >= 16, got {self.grid_size!r}.")
        h = self._resolve_bandwidth(x)
        dens = kde_grid_density(x, h, grid_size=int(self.grid_size))
        self._set_state(
            {"bandwidth": h}, {"values": x, "grid": dens.grid, "density": dens.raw_density}
        )
        return self

    def _set_state(self, scalars: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.values_ = np.asarray(arrays["values"], dtype=np.float64)
        self.n_values_ = int(self.values_.size)
        self.bandwidth_ = float(scalars["bandwidth"])
        self._density = GridDensity(arrays["grid"], arrays["density"])
        self.grid_ = self._density.grid
        self.density_ = self._density.density
        self.modes_ = self._density.modes()

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"bandwidth": self.bandwidth_}, {
            "values": self.values_,
            "grid": self.grid_,
            "density": self._density.raw_density,
        }

    @property
    def support(self) -> tuple[float, float]:
        """Where the tabulated pdf lives: [min - 6h, max + 6h] (a draw beyond has p ~ 1e-9)."""
        self._check_fitted()
        return self._density.support

    def _rvs(self, n: int, rng: np.random.Generator) -> np.ndarray:
        idx = rng.integers(0, self.n_values_, size=n)
        return self.values_[idx] + self.bandwidth_ * rng.standard_normal(n)

    def _pdf(self, x: np.ndarray) -> np.ndarray:
        return self._density.pdf(x)

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        return self._density.cdf(x)

    def mean(self) -> float:
        """Mean of the KDE = mean of θ_LT."""
        self._check_fitted()
        return float(self.values_.mean())

    def var(self) -> float:
        """Variance of the KDE = var(θ_LT, ddof=0) + h^2."""
        self._check_fitted()
        return float(self.values_.var() + self.bandwidth_**2)

    def modes(self) -> np.ndarray:
        """Modes of the fitted KDE (local maxima of the tabulated density, refined)."""
        self._check_fitted()
        return self.modes_.copy()
