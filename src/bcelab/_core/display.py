"""Numbers in sentences and tables: fixed decimals where they show the value."""

from __future__ import annotations

import math

__all__ = ["counted", "decimals_or_exponent"]


def counted(n: int, noun: str) -> str:
    """``n`` with its noun and verb: '1 value is', '3 values are' (a regular plural)."""
    return f"{n} {noun} is" if n == 1 else f"{n} {noun}s are"


def decimals_or_exponent(v: float, decimals: int) -> str:
    """``v`` with ``decimals`` decimals where that shows 3 significant digits, else 6
    significant digits with an exponent (3.72008e-44, not 0.0000; 1e+30, not thirty-one
    digits); 0, inf and NaN as fixed-point."""
    if v == 0 or not math.isfinite(v) or 10.0 ** (2 - decimals) <= abs(v) < 1e7:
        return f"{v:.{decimals}f}"
    return f"{v:.6g}"
