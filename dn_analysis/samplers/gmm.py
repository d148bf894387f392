"""GMMDn: a Gaussian mixture model of D_n, its number of components chosen by BIC.

A mixture is a parametric summary of D_n (a few numbers instead of 60,000 values) with an
exact pdf, cdf and sampler. ``symmetric=True`` ties components into ± pairs, building in
D_n's rough symmetry (paper Sec. 4.4); see :mod:`dn_analysis.density.mixture` for the EM.
Mixture components are not modes: a flat stretch of D_n takes several overlapping
components, so the shape is read from ``modes()``, the local maxima of the fitted density.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dn_analysis._validate import as_sample
from dn_analysis.density.mixture import Mixture1D, SymmetricPairs, select_gmm
from dn_analysis.samplers._base import DnSampler


class GMMDn(DnSampler):
    """Gaussian mixture of θ_LT.

    Parameters: ``n_components`` = ``"bic"`` (try 1..``max_components``, keep the smallest
    BIC) or an int; ``symmetric`` = fit ± pairs (then K counts pairs, i.e. 2K Gaussians);
    ``random_state`` seeds the k-means starts; ``n_init`` starts per K; ``engine`` = ``binned``
    (default, fast) or ``sklearn`` (GaussianMixture on the raw values; free mixture only).

    Fitted: ``n_components_`` (K chosen), ``weights_``, ``means_``, ``sds_`` (all Gaussians,
    sorted by mean), ``bic_`` ({K: BIC}), ``loglik_`` (total, raw values), ``modes_``, and
    when symmetric ``pair_weights_``, ``pair_means_`` (>= 0), ``pair_sds_``.
    """

    kind = "GMMDn"

    def __init__(
        self,
        n_components: int | str = "bic",
        max_components: int = 10,
        symmetric: bool = False,
        random_state: int = 0,
        n_init: int = 1,
        engine: str = "binned",
    ) -> None:
        self.n_components = n_components
        self.max_components = max_components
        self.symmetric = symmetric
        self.random_state = random_state
        self.n_init = n_init
        self.engine = engine

    def _k_max(self) -> int:
        k = self.n_components
        if isinstance(k, str):
            if k != "bic":
                raise ValueError(f"n_components must be 'bic' or a positive int, got {k!r}.")
            k = self.max_components
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(f"the number of components must be a positive int, got {k!r}.")
        return int(k)

    def fit(self, values: Any) -> GMMDn:
        """Fit K = 1..max_components (or n_components) mixtures to θ_LT; keep the best BIC.

        Needs at least 3 values per parameter-triple of the largest K (3 * K_max, >= 10).
        """
        k_max = self._k_max()
        x = as_sample(values, min_size=max(10, 3 * k_max), name="values")
        if self.engine not in ("binned", "sklearn"):
            raise ValueError(f"engine must be 'binned' or 'sklearn', got {self.engine!r}.")
        if self.symmetric and self.engine == "sklearn":
            raise ValueError("the symmetric mixture has its own EM; use engine='binned'.")
        mix, pairs, k, scores = select_gmm(
            x,
            n_components=self.n_components,
            max_components=k_max,
            symmetric=bool(self.symmetric),
            random_state=int(self.random_state),
            n_init=int(self.n_init),
            engine=self.engine,
        )
        arrays = {"weights": mix.weights, "means": mix.means, "sds": mix.sds}
        if pairs is not None:
            arrays.update(pair_weights=pairs.weights, pair_means=pairs.means, pair_sds=pairs.sds)
        scalars = {
            "n_components": int(k),
            "bic": {str(kk): float(v) for kk, v in scores.items()},
            "loglik": float(mix.logpdf(x).sum()),
            "n_values": int(x.size),
        }
        self._set_state(scalars, arrays)
        return self

    def _set_state(self, scalars: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.mixture_ = Mixture1D(
            weights=np.asarray(arrays["weights"], dtype=np.float64),
            means=np.asarray(arrays["means"], dtype=np.float64),
            sds=np.asarray(arrays["sds"], dtype=np.float64),
        )
        self.weights_, self.means_, self.sds_ = (
            self.mixture_.weights,
            self.mixture_.means,
            self.mixture_.sds,
        )
        if "pair_weights" in arrays:
            self.pairs_ = SymmetricPairs(
                weights=np.asarray(arrays["pair_weights"], dtype=np.float64),
                means=np.asarray(arrays["pair_means"], dtype=np.float64),
                sds=np.asarray(arrays["pair_sds"], dtype=np.float64),
            )
            self.pair_weights_, self.pair_means_, self.pair_sds_ = (
                self.pairs_.weights,
                self.pairs_.means,
                self.pairs_.sds,
            )
        self.n_components_ = int(scalars["n_components"])
        self.bic_ = {int(k): float(v) for k, v in scalars["bic"].items()}
        self.loglik_ = float(scalars["loglik"])
        self.n_values_ = int(scalars["n_values"])
        self.modes_ = self.mixture_.modes()

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        scalars = {
            "n_components": self.n_components_,
            "bic": {str(k): v for k, v in self.bic_.items()},
            "loglik": self.loglik_,
            "n_values": self.n_values_,
        }
        arrays = {"weights": self.weights_, "means": self.means_, "sds": self.sds_}
        if hasattr(self, "pairs_"):
            arrays.update(
                pair_weights=self.pair_weights_,
                pair_means=self.pair_means_,
                pair_sds=self.pair_sds_,
            )
        return scalars, arrays

    @property
    def support(self) -> tuple[float, float]:
        """(-inf, inf): every Gaussian has unbounded support."""
        return (-np.inf, np.inf)

    def _rvs(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.mixture_.rvs(n, rng)

    def _pdf(self, x: np.ndarray) -> np.ndarray:
        return self.mixture_.pdf(x)

    def _logpdf(self, x: np.ndarray) -> np.ndarray:
        return self.mixture_.logpdf(x)

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        return self.mixture_.cdf(x)

    def mean(self) -> float:
        """Mixture mean."""
        self._check_fitted()
        return self.mixture_.mean()

    def var(self) -> float:
        """Mixture variance."""
        self._check_fitted()
        return self.mixture_.var()

    def modes(self, *, min_rel_height: float = 1e-6) -> np.ndarray:
        """Modes of the fitted mixture DENSITY (local maxima on a fine grid), not its means."""
        self._check_fitted()
        if min_rel_height == 1e-6:
            return self.modes_.copy()
        return self.mixture_.modes(min_rel_height=min_rel_height)
