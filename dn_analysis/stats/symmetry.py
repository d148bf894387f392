"""Is D_n symmetric about 0 (or about its own center)?

Under symmetry about a KNOWN center c, the signs of x - c are fair coin flips independent of
|x - c|. So flipping signs at random gives the exact null distribution of any statistic, with
no density estimate anywhere. That matters for D_n: the classical asymptotic symmetry tests
standardize by the density at the center, which is ~0 for D_n (pruning leaves a hole at 0).

With an ESTIMATED center the signs are no longer exchangeable, so the null is calibrated by the
symmetric bootstrap (Schuster & Barker 1987): resample from the sample reflected about its
center, re-estimate the center in every draw, recompute the statistic. Two centers:
"median" (the sample median; unstable when the density vanishes at the median, as in D_n,
where it jumps to one edge of the hole) and "midquantile" (median of the quantile midpoints
(q_p + q_{1-p}) / 2, p = 0.05..0.45), which equals the center of any symmetric law and only
uses quantiles where the density is positive, so it is stable with a hole at the center.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats

from dn_analysis._validate import as_sample
from dn_analysis.stats.result import TestResult, fmt_p, mc_pvalue

SYMMETRY_METHODS = ("sign", "flip-ks", "flip-cvm", "skewness")
CENTERS = ("median", "midquantile")
_MID_P = np.arange(0.05, 0.4501, 0.05)
_CHUNK = 2_000_000


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def midquantile(x: np.ndarray, axis: int = -1) -> np.ndarray | float:
    """Median of (q_p + q_{1-p}) / 2 over p = 0.05..0.45: a center that tolerates a hole at it."""
    q = np.quantile(x, np.concatenate([_MID_P, 1.0 - _MID_P]), axis=axis)
    mids = 0.5 * (q[: _MID_P.size] + q[_MID_P.size :])
    return np.median(mids, axis=0)


def _center_fn(center: str) -> Callable[[np.ndarray], np.ndarray]:
    if center == "median":
        return lambda z: np.median(z, axis=-1)
    return lambda z: midquantile(z, axis=-1)


def _cumsign_stats(signs_desc: np.ndarray, method: str) -> np.ndarray:
    """KS / CvM distance between F(c+t) and 1-F(c-t), from signs ordered by decreasing |x-c|.

    S_k (running sum of the k largest-|y| signs) / n is exactly #{y > r} - #{y < -r} over n
    at r = the k-th largest |y|, i.e. the gap between the two tails at that radius.
    """
    n = signs_desc.shape[-1]
    s = np.cumsum(signs_desc, axis=-1, dtype=np.int64)
    if method == "flip-ks":
        return np.abs(s).max(axis=-1) / n
    return (s.astype(np.float64) ** 2).sum(axis=-1) / float(n) ** 2


def _stat_rows(y: np.ndarray, methods: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Statistics of each row of centered values y (B, n); sorts each row by |y| once."""
    out: dict[str, np.ndarray] = {}
    if "skewness" in methods:
        m2 = np.mean(y**2, axis=-1)
        out["skewness"] = np.abs(np.mean(y**3, axis=-1)) / np.maximum(m2, 1e-300) ** 1.5
    flips = [m for m in methods if m != "skewness"]
    if flips:
        order = np.argsort(-np.abs(y), axis=-1, kind="stable")
        signs = np.sign(np.take_along_axis(y, order, axis=-1)).astype(np.int8)
        for m in flips:
            out[m] = _cumsign_stats(signs, m)
    return out


def _flip_null(
    y: np.ndarray, methods: tuple[str, ...], n_resamples: int, rng: np.random.Generator
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Observed statistics and their exact random-sign-flip null (known center), same flips for all."""
    n = y.size
    order = np.argsort(-np.abs(y), kind="stable")
    a = np.abs(y[order])
    signs = np.sign(y[order]).astype(np.int8)
    nonzero = (signs != 0).astype(np.int8)
    a3 = a**3
    norm = max(float(np.mean(a**2)), 1e-300) ** 1.5 * n
    obs: dict[str, float] = {}
    null: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    for m in methods:
        obs[m] = (abs(float(signs @ a3)) / norm if m == "skewness"
                  else float(_cumsign_stats(signs[None, :], m)[0]))
    step = max(1, _CHUNK // n)
    for start in range(0, n_resamples, step):
        r = rng.integers(0, 2, size=(min(step, n_resamples - start), n), dtype=np.int8) * 2 - 1
        r *= nonzero
        for m in methods:
            null[m].append(np.abs(r @ a3) / norm if m == "skewness" else _cumsign_stats(r, m))
    return obs, {m: np.concatenate(v) for m, v in null.items()}


def _symmetric_bootstrap(
    x: np.ndarray, center: str, methods: tuple[str, ...], n_resamples: int, rng: np.random.Generator
) -> tuple[dict[str, float], float, dict[str, np.ndarray]]:
    """Observed statistics about the estimated center and their symmetric-bootstrap null."""
    est = _center_fn(center)
    c = float(est(x))
    y = x - c
    obs = {m: float(v[0]) for m, v in _stat_rows(y[None, :], methods).items()}
    pool = np.concatenate([y, -y])
    n = x.size
    null: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    step = max(1, _CHUNK // n)
    for start in range(0, n_resamples, step):
        z = pool[rng.integers(0, pool.size, size=(min(step, n_resamples - start), n))]
        z -= est(z)[:, None]
        for m, v in _stat_rows(z, methods).items():
            null[m].append(v)
    return obs, c, {m: np.concatenate(v) for m, v in null.items()}


def symmetry_pvalues(
    x: np.ndarray,
    center: float | str,
    methods: tuple[str, ...],
    n_resamples: int,
    rng: np.random.Generator,
) -> dict[str, float]:
    """p-values of several flip/bootstrap methods from ONE set of null draws (for calibration)."""
    if isinstance(center, str):
        obs, _, null = _symmetric_bootstrap(x, center, methods, n_resamples, rng)
    else:
        obs, null = _flip_null(x - float(center), methods, n_resamples, rng)
    return {m: _pvalue(obs[m], null[m]) for m in methods}


def _pvalue(obs: float, null: np.ndarray) -> float:
    return mc_pvalue(int(np.count_nonzero(null >= obs * (1 - 1e-12))), null.size)


def _median_at_gap(x: np.ndarray) -> bool:
    """True when a gap wider than 10% of the IQR lies among the 20% of values around the median.

    Then the density near the median is ~0 (a hole, as in D_n) and the sample median sits on
    one edge of it, chosen by the sign imbalance: a poor center.
    """
    xs = np.sort(x)
    n, m = xs.size, max(2, xs.size // 10)
    mid = xs[max(0, n // 2 - m) : min(n, n // 2 + m + 1)]
    iqr = xs[(3 * n) // 4] - xs[n // 4]
    return bool(iqr > 0 and np.max(np.diff(mid)) > 0.1 * iqr)


def symmetry_test(
    x: np.ndarray,
    center: float | str = 0.0,
    method: str = "flip-cvm",
    *,
    n_resamples: int = 999,
    random_state: int | np.random.Generator | None = None,
) -> TestResult:
    """Test H0: x is symmetric about `center` (a number, "median" or "midquantile").

    Methods: "sign" (exact binomial test of #positive vs #negative about a known center; power
    against a sign imbalance), "flip-ks" / "flip-cvm" (sup / integrated squared gap between
    F(c+t) and 1-F(c-t); power against any asymmetry), "skewness" (|third standardized moment|;
    power against skew). Known center: random-sign-flip null (exact). Estimated center:
    symmetric-bootstrap null with the center re-estimated in every draw.
    """
    x = as_sample(x, min_size=10)
    if method not in SYMMETRY_METHODS:
        raise ValueError(f"method must be one of {SYMMETRY_METHODS}, got {method!r}.")
    if isinstance(center, str):
        if center not in CENTERS:
            raise ValueError(f"center must be a number or one of {CENTERS}, got {center!r}.")
        if method == "sign":
            raise ValueError(
                "the sign test needs a known center; about an estimated center (median) the "
                "counts are balanced by construction, so use a number or another method."
            )
    elif not np.isfinite(float(center)):
        raise ValueError(f"center must be finite, got {center}.")
    if n_resamples < 19 and method != "sign":
        raise ValueError(f"n_resamples must be at least 19 for a p-value below 0.05, got {n_resamples}.")
    rng = _rng(random_state)
    n = x.size
    details: dict = {"n": n, "center": center}

    if method == "sign":
        c = float(center)
        pos = int(np.count_nonzero(x > c))
        neg = int(np.count_nonzero(x < c))
        if pos + neg == 0:
            raise ValueError("every value equals the center; the sign test has nothing to count.")
        res = stats.binomtest(pos, pos + neg, 0.5)
        frac = pos / (pos + neg)
        details.update(n_positive=pos, n_negative=neg, n_at_center=n - pos - neg, null="exact binomial(m, 1/2)")
        verdict = "a sign imbalance" if res.pvalue <= 0.05 else "no evidence of a sign imbalance"
        summary = (
            f"{100 * frac:.1f}% of the {pos + neg} values off the center {c:g} lie above it; exact "
            f"binomial p = {fmt_p(res.pvalue)}: {verdict} at the 5% level."
        )
        return TestResult(frac, float(res.pvalue), "sign", summary, details)

    if isinstance(center, str):
        obs_d, c, null_d = _symmetric_bootstrap(x, center, (method,), n_resamples, rng)
        null_name = f"symmetric bootstrap about the {center}, re-estimated in each of {n_resamples} draws"
        details.update(estimated_center=c)
        if center == "median" and _median_at_gap(x):
            details["warning"] = "the median sits at the edge of a gap (density ~0 at the center)"
    else:
        c = float(center)
        obs_d, null_d = _flip_null(x - c, (method,), n_resamples, rng)
        null_name = f"{n_resamples} random sign flips about {c:g} (exact randomization test)"
    obs, null = obs_d[method], null_d[method]
    p = _pvalue(obs, null)
    details.update(null=null_name, n_resamples=null.size)
    what = {"flip-ks": "max tail gap |F(c+t) - (1 - F(c-t))|", "flip-cvm": "integrated squared tail gap",
            "skewness": "|skewness| about the center"}[method]
    verdict = "evidence of asymmetry" if p <= 0.05 else "no evidence against symmetry"
    summary = f"Symmetry about {c:.4g}" + (f" (the {center})" if isinstance(center, str) else "")
    summary += f": {what} = {obs:.4g}, p = {fmt_p(p)} ({null_name}): {verdict} at the 5% level."
    if "warning" in details:
        summary += " Caution: " + details["warning"] + "; prefer center='midquantile'."
    return TestResult(obs, p, method, summary, details)
