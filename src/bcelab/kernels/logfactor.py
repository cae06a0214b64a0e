"""Per-element parts of the one-logarithm-per-block loss sums (numba, inlined).

The block sums of :mod:`bcelab.kernels.logsum` (the loss kernel) and of
:mod:`bcelab.kernels.stats_loss` (the metric kernel) add a block's losses as sums of
simple terms plus the logarithm of one product.  The terms of each element are computed
here, once for both:

* a probability: ``-log z`` with ``z = p`` (y = 1) or ``1 - p`` (y = 0) is
  ``-(e ln 2 + log m)`` for ``z = 2^e m``, or the series of ``-log1p(-u)``,
  ``u = 1 - z``, when ``u`` is below :data:`SMALL` (:func:`prob_factor`);
* a logit: ``max(-+x, 0) + log1p(t)`` with ``t = exp(-|x|)``, the series of ``log1p(t)``
  when ``t`` is below :data:`SMALL` (:func:`log1p_series`).

The series are polynomials of degree 6 on :math:`[0, 2^{-7}]` with relative error below
4e-17 (coefficients fitted by ``bench/fit_fastmath.py``).
"""

from __future__ import annotations

from typing import Any

from numba import njit

from .constants import INLINE
from .fastmath import add_reassoc, bits_to_f64, f64_to_bits

__all__ = ["EXP_BIAS", "SMALL", "log1p_series", "prob_counts", "prob_factor"]

SMALL = 2.0**-7  # terms below this are summed from their series, not through the product
_MANT = 0x000FFFFFFFFFFFFF
_ONE_BITS = 0x3FF0000000000000
#: The bias of a float64 exponent: :func:`prob_factor` gives ``e + EXP_BIAS``.
EXP_BIAS = 1023
# log1p(t) = t (1 + t q(t)) and -log1p(-u) = u (1 + u r(u)) on [0, 2^-7], 3.2e-17 relative
_Q1, _Q2, _Q3 = -0.4999999999998568, 0.3333333331193481, -0.24999988301675685
_Q4, _Q5 = 0.19997106572735454, -0.16336092157242266
_R1, _R2, _R3 = 0.5000000000001492, 0.33333333311064983, 0.2500001214912752
_R4, _R5 = 0.19997006723290273, 0.17005825091049342


@njit(**INLINE)
def log1p_series(t: float) -> float:
    """``log1p(t)`` for ``0 <= t < SMALL`` (any ``t`` may be passed; used below SMALL)."""
    return t * (1.0 + t * (_Q1 + t * (_Q2 + t * (_Q3 + t * (_Q4 + t * _Q5)))))


@njit(**INLINE)
def prob_factor(p: float, pos: bool, plain: bool) -> tuple[float, int, float, int, int]:
    """One probability's part of a block sum of ``-log z`` (``z = p`` for y = 1, ``1 - p``
    for y = 0, exact in float64 for a float32 ``p``): ``(series term, biased exponent of
    z, factor for the product, bits of z, bits of 1 - z)``.

    ``z = 2^e m`` enters as its exponent and its mantissa ``m`` in [1, 2) (multiplied
    in), or, unless ``plain`` (a constant at each call), when ``u = 1 - z`` is below
    :data:`SMALL`, as the series ``-log1p(-u)`` (exponent 0, factor 1).  The exponent is
    the integer ``e + EXP_BIAS`` (the top bits of ``z``, one shift): the caller sums the
    integers and takes ``EXP_BIAS`` per element off the total, an exact sum as the
    float64 sum of the exponents it replaces, two instructions per element fewer.  The
    sign or top exponent bit of the two bit patterns is set exactly when ``p`` is outside
    [0, 1] or NaN; the bits of a zero ``z`` (an infinite loss) are 0, or negative for -0.0.
    """
    z = p if pos else 1.0 - p
    u = 1.0 - p if pos else p  # 1 - z, exact
    bits = f64_to_bits(z)
    ubits = f64_to_bits(u)
    e = bits >> 52
    mant = bits_to_f64((bits & _MANT) | _ONE_BITS)
    if plain:
        return 0.0, e, mant, bits, ubits
    small = u < SMALL
    ser = u * (1.0 + u * (_R1 + u * (_R2 + u * (_R3 + u * (_R4 + u * _R5)))))
    return (
        (ser if small else 0.0),
        (EXP_BIAS if small else e),
        (1.0 if small else mant),
        bits,
        ubits,
    )


@njit(**INLINE)
def prob_counts(pb: Any, tb: Any, m: int, flagged: bool, soft: bool) -> tuple[float, float]:
    """The exact counts of a block of probabilities whose sums flagged it: probabilities
    outside [0, 1] or NaN (when ``flagged``: a sign or top exponent bit of
    :func:`prob_factor`'s bit patterns was set) and targets other than 0 and 1 (when
    ``soft``).  Call it only for such a block: a call that takes the arrays makes numba
    count references to them, which every block would pay."""
    bad = 0.0
    if flagged:
        for j in range(m):
            bad = add_reassoc(bad, 0.0 if (0.0 <= pb[j] <= 1.0) else 1.0)
    nsoft = 0.0
    if soft:
        for j in range(m):
            nsoft = add_reassoc(nsoft, 0.0 if (tb[j] == 0.0 or tb[j] == 1.0) else 1.0)
    return bad, nsoft
