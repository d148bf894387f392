"""Number formats of the report: one place, so the tables, the sentences and the tests agree."""

from __future__ import annotations

import math


def finite(v: float | None) -> bool:
    return v is not None and isinstance(v, int | float) and math.isfinite(v)


def acc(v: float | None) -> str:
    """An accuracy (fraction), 4 decimals."""
    return f"{v:.4f}" if finite(v) else "n/a"


def loss(v: float | None) -> str:
    """A loss, 4 significant digits, never in e-notation (the PDF must not split a number)."""
    if not finite(v):
        return "n/a"
    if v == 0:
        return "0"
    digits = max(0, 3 - int(math.floor(math.log10(abs(v)))))
    return f"{v:.{digits}f}"


def points(v: float | None, signed: bool = True) -> str:
    """An accuracy difference in percentage points (v is a fraction)."""
    if not finite(v):
        return "n/a"
    return f"{100 * v:+.2f}" if signed else f"{100 * v:.2f}"


def interval(mean: float | None, lo: float | None, hi: float | None, scale: float = 100.0,
             digits: int = 2, signed: bool = True) -> str:
    """'+1.23 [+0.45, +2.01]' (scale 100: fractions as points); no interval when lo/hi are missing."""
    if not finite(mean):
        return "n/a"
    spec = f"{'+' if signed else ''}.{digits}f"

    def num(v: float) -> str:
        v = scale * v
        text = format(0.0 if abs(v) < 1e-9 else v, spec)  # no '-0.000' for a float-noise zero
        # unsigned quantities (ratios): a bound that rounds to zero prints as 0; signed keep their side
        return text[1:] if not signed and text.startswith("-") and float(text) == 0 else text

    text = num(mean)
    if finite(lo) and finite(hi):
        text += f" [{num(lo)}, {num(hi)}]"
    else:
        text += " (no interval: one trial)"
    return text


def ci_of(row: dict, scale: float = 100.0, digits: int = 2, signed: bool = True, key: str = "mean") -> str:
    """interval() of a dict with mean (or mean_diff), ci_low, ci_high."""
    mean = row.get(key, row.get("mean_diff"))
    return interval(mean, row.get("ci_low"), row.get("ci_high"), scale, digits, signed)


def pvalue(p: float | None, n_resamples: int | None = None) -> str:
    """A p-value; a Monte-Carlo p-value at its floor 1/(B+1) as '< 1/(B+1)'."""
    if not finite(p):
        return "n/a"
    if n_resamples and p <= 1.0 / (n_resamples + 1) * (1 + 1e-9):
        return f"< 1/{n_resamples + 1}"
    if p < 1e-300:
        return "< 1e-300"
    if p < 1e-3:
        mant, exp = f"{p:.1e}".split("e")
        return f"{mant}e{int(exp)}"
    return f"{p:.3g}"


def pct(v: float | None, digits: int = 1) -> str:
    return f"{100 * v:.{digits}f}%" if finite(v) else "n/a"


def join(items: list[str], word: str = "and") -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]
