"""Numbers in sentences and tables: fixed decimals where they show the value."""

from __future__ import annotations

import math

__all__ = ["count_of", "counted", "decimals_or_exponent", "exact_digits", "probability_digits"]


def exact_digits(v: float, digits: int = 6) -> str:
    """``v`` in ``digits`` significant digits where they give it back exactly, else in the
    shortest digits that do: an input shown as the user typed it (0.1234567, 5e-324), and
    0.9999999999999999 never shown as 1."""
    exact = repr(float(v))
    short = f"{v:.{digits}g}"
    return short if float(short) == v and len(short) <= len(exact) else exact


def count_of(n: int, noun: str, *, grouped: bool = False) -> str:
    """``n`` with its noun: '1 row', '3 rows' (a regular plural); ``grouped``: with
    thousands separators, '20,000 rows'."""
    digits = f"{n:,}" if grouped else f"{n}"
    return f"{digits} {noun}" if n == 1 else f"{digits} {noun}s"


def counted(n: int, noun: str) -> str:
    """``n`` with its noun and verb: '1 value is', '3 values are' (a regular plural)."""
    return f"{count_of(n, noun)} {'is' if n == 1 else 'are'}"


def decimals_or_exponent(v: float, decimals: int) -> str:
    """``v`` with ``decimals`` decimals where that shows 3 significant digits, else 6
    significant digits with an exponent (3.72008e-44, not 0.0000; 1e+30, not thirty-one
    digits); 0, inf and NaN as fixed-point."""
    if v == 0 or not math.isfinite(v) or 10.0 ** (2 - decimals) <= abs(v) < 1e7:
        return f"{v:.{decimals}f}"
    return f"{v:.6g}"


def probability_digits(p: float, digits: int = 6) -> str:
    """A probability in ``digits`` significant digits, or all it needs where those would
    read 0 or 1 while it is not (0.9999999999999998 is not 1: its loss for a negative is
    finite)."""
    short = f"{p:.{digits}g}"
    return exact_digits(p) if short in ("0", "1") and p not in (0.0, 1.0) else short
