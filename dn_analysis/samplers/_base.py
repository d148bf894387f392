"""The one interface every D_n sampler shares (scipy.stats-like methods, sklearn-like fitting).

Experiments swap the sampler (empirical, KDE, mixture) without touching the code that draws
from it or evaluates it, so all of them answer the same calls: ``rvs(size, random_state)``,
``pdf``, ``logpdf``, ``cdf``, ``mean``, ``std``, ``var``, ``support``, ``modes`` and ``save``.
Hyperparameters live in ``__init__``; ``fit`` returns self; fitted attributes end in ``_``.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dn_analysis.samplers.format import write_state

SeedLike = int | np.random.Generator | np.random.SeedSequence | np.random.RandomState | None


def as_generator(random_state: SeedLike) -> np.random.Generator:
    """numpy Generator from None / int / SeedSequence / Generator (used as is) / RandomState."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(int(random_state.randint(0, 2**63 - 1, dtype=np.int64)))
    try:
        return np.random.default_rng(random_state)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"random_state must be None, an int, a SeedSequence or a numpy Generator ({err})."
        ) from None


def as_shape(size: int | tuple[int, ...]) -> tuple[int, ...]:
    """Validate an rvs `size` (an int >= 0 or a tuple of them) and return it as a shape."""
    shape = (size,) if np.isscalar(size) else tuple(size)
    if not all(
        isinstance(s, int | np.integer) and not isinstance(s, bool) and s >= 0 for s in shape
    ):
        raise ValueError(f"size must be a non-negative int or a tuple of them, got {size!r}.")
    return tuple(int(s) for s in shape)


def _same_kind(x: Any, out: np.ndarray) -> np.ndarray | float:
    """scipy's convention: a scalar in gives a float out, an array in gives an array out."""
    return float(out) if np.ndim(x) == 0 else out


class DnSampler:
    """Base class: subclasses implement ``fit``, ``_rvs``, ``_pdf``/``_logpdf``, ``_cdf``,
    ``mean``, ``var``, ``support``, ``modes`` and the state round-trip for ``save``/``load_dn``."""

    kind: ClassVar[str] = ""
    _fitted_attr: ClassVar[str] = "n_values_"

    # ------------------------------------------------------------------ sklearn-style params
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Hyperparameters as passed to ``__init__`` (scikit-learn's convention)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> DnSampler:
        """Set hyperparameters; refit afterwards."""
        for name, value in params.items():
            if name not in self._param_names():
                raise ValueError(f"{type(self).__name__} has no parameter {name!r}.")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if k != "values")
        return f"{type(self).__name__}({args})"

    def _check_fitted(self) -> None:
        if not hasattr(self, self._fitted_attr):
            raise ValueError(f"{type(self).__name__} is not fitted yet; call .fit(values) first.")

    # ------------------------------------------------------------------ scipy-style methods
    def rvs(self, size: int | tuple[int, ...] = 1, random_state: SeedLike = None) -> np.ndarray:
        """Draw an array of shape `size` from D_n; the same seed gives the same draws."""
        self._check_fitted()
        shape = as_shape(size)
        n = int(np.prod(shape))
        return self._rvs(n, as_generator(random_state)).reshape(shape)

    def pdf(self, x: Any) -> np.ndarray | float:
        """Density at `x` (float for a scalar, array of x's shape otherwise)."""
        self._check_fitted()
        arr = np.asarray(x, dtype=np.float64)
        return _same_kind(x, self._pdf(arr.ravel()).reshape(arr.shape))

    def logpdf(self, x: Any) -> np.ndarray | float:
        """log density at `x` (-inf where the density is 0)."""
        self._check_fitted()
        arr = np.asarray(x, dtype=np.float64)
        return _same_kind(x, self._logpdf(arr.ravel()).reshape(arr.shape))

    def cdf(self, x: Any) -> np.ndarray | float:
        """P(X <= x)."""
        self._check_fitted()
        arr = np.asarray(x, dtype=np.float64)
        return _same_kind(x, self._cdf(arr.ravel()).reshape(arr.shape))

    def std(self) -> float:
        """Standard deviation of the fitted distribution (the one rvs draws from)."""
        return float(np.sqrt(self.var()))

    def _logpdf(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self._pdf(x))

    # ------------------------------------------------------------------ subclass hooks
    def _rvs(self, n: int, rng: np.random.Generator) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _pdf(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _cdf(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def mean(self) -> float:  # pragma: no cover
        """Mean of the fitted distribution."""
        raise NotImplementedError

    def var(self) -> float:  # pragma: no cover
        """Variance of the fitted distribution."""
        raise NotImplementedError

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:  # pragma: no cover
        """(JSON-able fitted scalars, float arrays) that restore the fitted sampler exactly."""
        raise NotImplementedError

    def _set_state(
        self, scalars: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> None:  # pragma: no cover
        raise NotImplementedError

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the fitted sampler to `path` (``.json`` or ``.npz``; never pickle); returns it.

        A sampler loaded with :func:`dn_analysis.load_dn` draws the same values for the same
        seed and has the same pdf/cdf.
        """
        self._check_fitted()
        scalars, arrays = self._get_state()
        params = self.get_params()
        params.pop("values", None)  # EmpiricalDn's values are stored as an array
        return write_state(path, self.kind, params, scalars, arrays)
