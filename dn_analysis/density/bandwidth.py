"""Bandwidth selectors for the Gaussian KDE of D_n.

D_n is not normal: it has a hole at 0 and two to four peaks, so the normal-reference rules
(Scott, Silverman) oversmooth it and can erase the very modes we want to study. The
data-driven rules (ISJ, Sheather-Jones, likelihood cross-validation) adapt to that shape. All
of them work on binned data, so 60,000 weights cost milliseconds, and all are scale-equivariant:
``h(a * x) == a * h(x)`` (KDEpy's ISJ is not, see KDEpy issue #201).

Rules (``select_bandwidth(x, rule)``):

- ``scott``: ``(4/3)^(1/5) * sd * n^(-1/5)`` (= 1.059 sd n^-1/5), the AMISE-optimal
  bandwidth when the data are normal. Note that ``scipy.stats.gaussian_kde``'s "scott" factor
  omits the 1.059.
- ``silverman``: ``0.9 * min(sd, IQR / 1.349) * n^(-1/5)``, Silverman's (1986) robust
  rule of thumb; smaller than Scott's, and the fallback of the data-driven rules.
- ``isj``: Botev, Grotowski & Kroese (2010) "improved Sheather-Jones", a plug-in rule with no
  normal reference at all: the fixed point ``t = xi * gamma^[7](t)`` solved on the DCT of the
  linearly binned data (2^14 bins). See :func:`isj_bandwidth` for the details that matter.
- ``sheather-jones`` (alias ``sj``): the classic Sheather & Jones (1991) solve-the-equation
  rule, as R's ``bw.SJ(method="ste")``, with the density functionals psi_4 and psi_6 computed
  from the binned data's autocorrelation. It is NOT an alias of ISJ.
- ``cv``: likelihood cross-validation (leave-one-out log-likelihood maximized over a log grid
  of bandwidths, then refined), computed on the binned grid.

The data-driven rules raise :class:`BandwidthError` (a ValueError) when they have no solution;
``select_bandwidth`` then warns and falls back to Silverman's rule unless ``fallback=None``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from scipy import fft, optimize

from dn_analysis._validate import as_sample
from dn_analysis.density.binned import kde_on_grid, linear_bin

RULES = ("scott", "silverman", "isj", "sheather-jones", "sj", "cv")
_SQRT_2PI = float(np.sqrt(2.0 * np.pi))


class BandwidthError(ValueError):
    """A data-driven bandwidth rule found no solution for this sample."""


def select_bandwidth(
    x: np.ndarray, rule: str = "isj", *, fallback: str | None = "silverman"
) -> float:
    """Return the Gaussian-kernel bandwidth (the kernel's standard deviation) for sample `x`.

    `rule` is one of ``scott``, ``silverman``, ``isj``, ``sheather-jones`` (or ``sj``), ``cv``.
    If a data-driven rule has no solution, warn (RuntimeWarning) and use `fallback`; with
    ``fallback=None`` the :class:`BandwidthError` propagates.
    """
    x = as_sample(x, min_size=2, name="x")
    key = str(rule).lower().replace("_", "-")
    funcs: dict[str, Callable[[np.ndarray], float]] = {
        "scott": scott_bandwidth,
        "silverman": silverman_bandwidth,
        "isj": isj_bandwidth,
        "sheather-jones": sj_bandwidth,
        "sj": sj_bandwidth,
        "cv": cv_bandwidth,
    }
    if key not in funcs:
        raise ValueError(f"unknown bandwidth rule {rule!r}; choose one of {', '.join(RULES)}.")
    try:
        return funcs[key](x)
    except BandwidthError as err:
        if fallback is None or key == fallback:
            raise
        warnings.warn(f"{err} Falling back to the {fallback} rule.", RuntimeWarning, stacklevel=2)
        return select_bandwidth(x, fallback, fallback=None)


def _scale(x: np.ndarray) -> float:
    """Robust spread min(sd, IQR/1.349); the sd alone if the IQR is 0 (heavily tied data)."""
    sd = float(np.std(x, ddof=1))
    q75, q25 = np.percentile(x, [75, 25])
    iqr = float(q75 - q25) / 1.349
    return min(sd, iqr) if iqr > 0 else sd


def scott_bandwidth(x: np.ndarray) -> float:
    """Normal-reference rule 1.059 * sd * n^(-1/5): optimal for normal data, oversmooths D_n."""
    x = as_sample(x, name="x")
    return float((4.0 / 3.0) ** 0.2 * np.std(x, ddof=1) * x.size**-0.2)


def silverman_bandwidth(x: np.ndarray) -> float:
    """Silverman's rule 0.9 * min(sd, IQR/1.349) * n^(-1/5): robust to tails and bimodality."""
    x = as_sample(x, name="x")
    return float(0.9 * _scale(x) * x.size**-0.2)


# --------------------------------------------------------------------------------------- ISJ
def isj_bandwidth(x: np.ndarray, *, grid_size: int = 2**14, pad: float = 0.1) -> float:
    """Botev et al. (2010) improved Sheather-Jones bandwidth.

    Implementation notes (each one is a known way to get ISJ wrong):

    - The data are mapped to [0, 1] by a grid padded by ``pad * range`` on each side, a
      padding RELATIVE to the data's range. KDEpy pads by an absolute 6 units, which squeezes
      narrow data (like initial weights, range ~0.15) into a few bins and returns bandwidths
      8-50x too small (KDEpy issue #201).
    - The root ``t*`` lives on that unit interval, so the bandwidth is ``sqrt(t*) * (grid
      width)``, not ``* (data range)`` (the bug fixed in arviz-stats PR #360).
    - The bins are linearly binned onto bin midpoints, matching the DCT-II basis.
    - ``N`` in the fixed point is the sample size.
    - No root in ``(0, 1]``, a non-finite functional, or a root below two bins (the data are
      discretized or too few) raise :class:`BandwidthError` instead of returning nonsense.
    """
    x = as_sample(x, min_size=2, name="x")
    n = x.size
    lo, hi = float(x.min()), float(x.max())
    span = hi - lo
    lo, hi = lo - pad * span, hi + pad * span
    width = hi - lo
    delta = width / grid_size
    counts = linear_bin(x, lo + delta / 2, hi - delta / 2, grid_size) / n
    a = fft.dct(counts, type=2)
    a2 = (a[1:] / 2.0) ** 2
    k2 = np.arange(1, grid_size, dtype=np.float64) ** 2

    def fixed_point(t: float) -> float:
        with np.errstate(all="ignore"):
            ell = 7
            f = 2.0 * np.pi ** (2 * ell) * np.sum(k2**ell * a2 * np.exp(-k2 * np.pi**2 * t))
            for s in range(ell - 1, 1, -1):
                k0 = np.prod(np.arange(1, 2 * s, 2, dtype=np.float64)) / _SQRT_2PI
                const = (1.0 + 0.5 ** (s + 0.5)) / 3.0
                time = (2.0 * const * k0 / n / f) ** (2.0 / (3.0 + 2.0 * s))
                f = 2.0 * np.pi ** (2 * s) * np.sum(k2**s * a2 * np.exp(-k2 * np.pi**2 * time))
            return float(t - (2.0 * n * np.sqrt(np.pi) * f) ** (-0.4))

    t_star = None
    lower = 0.0
    for upper in (0.1, 0.2, 0.5, 1.0):  # Botev brackets (0, 0.1]; widen before giving up
        f_lo, f_hi = fixed_point(lower), fixed_point(upper)
        if not (np.isfinite(f_lo) and np.isfinite(f_hi)):
            break
        if f_lo * f_hi < 0:
            t_star = optimize.brentq(fixed_point, lower, upper, xtol=1e-14, rtol=1e-10)
            break
        lower = upper
    if t_star is None:
        raise BandwidthError(
            f"ISJ found no root of its fixed-point equation for these {n} values "
            "(too few values, or a shape it cannot resolve)."
        )
    h = float(np.sqrt(t_star) * width)
    if not np.isfinite(h) or h < 2.0 * delta:
        raise BandwidthError(
            f"ISJ bandwidth collapsed to {h:.3g}, below the grid resolution {2 * delta:.3g} "
            "(the values are probably discretized or tied)."
        )
    return h


# ---------------------------------------------------------------------- classic Sheather-Jones
def _psi_from_autocorr(acf: np.ndarray, delta: float, n: int, g: float, order: int) -> float:
    """Binned estimate of psi_r = E f^(r)(X) with a Gaussian kernel of bandwidth g (r = 4, 6)."""
    u = (np.arange(acf.size) * delta / g) ** 2
    phi = np.exp(-0.5 * u) / _SQRT_2PI
    if order == 4:
        herm = u**2 - 6.0 * u + 3.0
    elif order == 6:
        herm = u**3 - 15.0 * u**2 + 45.0 * u - 15.0
    else:  # pragma: no cover - internal use only
        raise ValueError(f"order must be 4 or 6, got {order}")
    terms = acf * herm * phi
    total = terms[0] + 2.0 * terms[1:].sum()  # lags +d and -d contribute alike
    return float(total / (n * (n - 1.0) * g ** (order + 1)))


def sj_bandwidth(x: np.ndarray, *, grid_size: int = 4096) -> float:
    """Classic Sheather & Jones (1991) solve-the-equation bandwidth (R's ``bw.SJ``, "ste").

    Solves ``h = [R(K) / (n psi_4(g(h)))]^(1/5)`` with the pilot ``g(h) = 1.357 (psi_4(a) /
    -psi_6(b))^(1/7) h^(5/7)``; pilots ``a, b`` come from a normal reference on
    min(sd, IQR/1.349). Pairwise sums are the autocorrelation of the binned counts (one FFT),
    so each psi costs O(grid_size) regardless of n.
    """
    x = as_sample(x, min_size=3, name="x")
    n = x.size
    lo, hi = float(x.min()), float(x.max())
    counts = linear_bin(x, lo, hi, grid_size)
    delta = (hi - lo) / (grid_size - 1)
    n_fft = 2 * grid_size
    spec = np.fft.rfft(counts, n_fft)
    acf = np.fft.irfft(spec * np.conj(spec), n_fft)[:grid_size]

    scale = _scale(x)
    a = 1.24 * scale * n ** (-1.0 / 7.0)
    b = 1.23 * scale * n ** (-1.0 / 9.0)
    c1 = 1.0 / (2.0 * np.sqrt(np.pi) * n)
    td = -_psi_from_autocorr(acf, delta, n, b, 6)
    sd = _psi_from_autocorr(acf, delta, n, a, 4)
    if not (np.isfinite(td) and td > 0 and np.isfinite(sd) and sd > 0):
        raise BandwidthError(
            f"Sheather-Jones: these {n} values are too sparse to estimate psi_4/psi_6."
        )
    alpha2 = 1.357 * (sd / td) ** (1.0 / 7.0)

    def equation(h: float) -> float:
        psi4 = _psi_from_autocorr(acf, delta, n, alpha2 * h ** (5.0 / 7.0), 4)
        if not psi4 > 0:
            return -h  # psi_4 must be positive; treat as "h too large"
        return float((c1 / psi4) ** 0.2 - h)

    hmax = 1.144 * scale * n**-0.2
    lower, upper = 0.1 * hmax, hmax
    for i in range(100):
        if equation(lower) * equation(upper) < 0:
            h = float(optimize.brentq(equation, lower, upper, xtol=1e-6 * hmax))
            if h < 2.0 * delta:
                raise BandwidthError(
                    f"Sheather-Jones bandwidth {h:.3g} is below the grid resolution "
                    f"{2 * delta:.3g} (a few outliers dominate the range, or the values are tied)."
                )
            return h
        if i % 2 == 0:
            upper *= 1.2
        else:
            lower /= 1.2
    raise BandwidthError(f"Sheather-Jones found no solution of its equation for these {n} values.")


# --------------------------------------------------------------------- likelihood CV
def cv_loglik(x: np.ndarray, bandwidths: np.ndarray, *, grid_size: int = 2**14) -> np.ndarray:
    """Mean leave-one-out log-likelihood of the Gaussian KDE for each bandwidth.

    The KDE is evaluated at each point by linear interpolation on the binned grid; the point's
    own contribution to that binned value is known exactly (its two binning weights times the
    kernel at lags 0 and 1 bin) and is subtracted, so the leave-one-out estimate is consistent
    with the binned estimator even when h is only a few bins wide. Isolated points (tails),
    whose binned value is ~0 because the kernel is truncated at 5h, get their exact value from
    their 2 x 16 nearest neighbours instead: otherwise one such point costs the mean
    log-likelihood ~690/n and makes the curve jump.
    """
    x = np.sort(as_sample(x, min_size=3, name="x"))
    n = x.size
    lo, hi = float(x[0]), float(x[-1])
    pad = 1e-9 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    delta = (hi - lo) / (grid_size - 1)
    pos = (x - lo) / delta
    left = np.clip(np.floor(pos).astype(np.int64), 0, grid_size - 2)
    frac = np.clip(pos - left, 0.0, 1.0)
    offsets = np.concatenate([np.arange(-16, 0), np.arange(1, 17)])
    out = np.empty(len(bandwidths))
    for j, h in enumerate(np.asarray(bandwidths, dtype=np.float64)):
        grid, dens = kde_on_grid(x, h, size=grid_size, lo=lo, hi=hi)
        at_x = (1.0 - frac) * dens[left] + frac * dens[left + 1]
        k0 = 1.0 / (h * _SQRT_2PI)
        k1 = k0 * np.exp(-0.5 * (delta / h) ** 2)
        self_term = ((1.0 - frac) ** 2 + frac**2) * k0 + 2.0 * frac * (1.0 - frac) * k1
        loo = (n * at_x - self_term) / (n - 1.0)
        log_loo = np.log(np.maximum(loo, 1e-300))
        # Points with less mass nearby than ~10 neighbours at 4h: compute exactly.
        isolated = np.flatnonzero(loo * (n - 1.0) < 10.0 * k0 * np.exp(-8.0))
        if isolated.size:
            nb = isolated[:, None] + offsets[None, :]
            valid = (nb >= 0) & (nb < n)
            z = (x[np.clip(nb, 0, n - 1)] - x[isolated, None]) / h
            logk = np.where(valid, -0.5 * z**2, -np.inf)
            log_loo[isolated] = np.logaddexp.reduce(logk, axis=1) - np.log(
                (n - 1.0) * h * _SQRT_2PI
            )
        out[j] = np.mean(log_loo)
    return out


def cv_bandwidth(x: np.ndarray, *, n_grid: int = 40, grid_size: int = 2**14) -> float:
    """Likelihood cross-validation: the bandwidth maximizing the leave-one-out log-likelihood.

    Searches ``n_grid`` log-spaced bandwidths from 3 grid bins (range / 5,461 with the default
    2^14 bins) to 2 x Scott, then a finer log grid between the best point's neighbours. D_n's
    hard edges (the ends of a uniform init, a sharp pruning hole) make the optimum small, so the
    search goes down to the grid resolution. Raises :class:`BandwidthError` if the optimum sits
    on that lower edge (tied or discretized values make the likelihood grow without bound as
    h -> 0).
    """
    x = as_sample(x, min_size=3, name="x")
    delta = float(np.ptp(x)) / (grid_size - 1)
    h_hi = 2.0 * scott_bandwidth(x)
    h_lo = 3.0 * delta
    if h_lo >= h_hi:
        h_lo = h_hi / 10.0
    hs = np.geomspace(h_lo, h_hi, n_grid)
    ll = cv_loglik(x, hs, grid_size=grid_size)
    best = int(np.argmax(ll))
    if best == 0:
        raise BandwidthError(
            f"likelihood cross-validation prefers the smallest bandwidth tried ({h_lo:.3g}); "
            "the values are probably tied or discretized."
        )
    fine = np.geomspace(hs[best - 1], hs[min(best + 1, n_grid - 1)], 17)
    ll_fine = cv_loglik(x, fine, grid_size=grid_size)
    return float(fine[int(np.argmax(ll_fine))])
