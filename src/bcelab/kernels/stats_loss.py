"""The loss sum of a block of the metric ``update`` kernel with one logarithm per lane.

A block with 0/1 labels, no weights and no clipping (the common case of ``bcelab
eval``) needs only the sum of its losses, not each of them, and a sum of logarithms is
the logarithm of a product.  With the per-element terms of the loss kernel's block sums
(:mod:`bcelab.kernels.logfactor`):

* probabilities (:func:`block_loss`): ``-log z`` (``z = p`` for y = 1, ``1 - p`` for
  y = 0), each ``z`` as its exponent (summed exactly) and its mantissa (multiplied in),
  or the series of ``-log1p(-u)`` when ``u = 1 - z`` is small;
* logits (:func:`block_loss_logits`): ``max(-+x, 0) + log1p(t)`` with ``t = exp(-|x|)``
  (computed with the row's probability), ``1 + t`` multiplied in, or the series of
  ``log1p(t)`` when ``t`` is small;

so a logarithm runs once per lane instead of once per row.

Unlike the loss kernel it does not let LLVM reassociate the sums and products (whose
order would then depend on the machine's vector width): row ``j`` of the block goes to
lane ``j % LANES``, in a fixed order, as in the kernel's other sums
(:func:`bcelab.kernels.stats_update._sums` and its docstring), so a state's bits do not
depend on the machine.  Each lane multiplies at most 32 factors below 2 (no overflow),
and the logarithm is :func:`bcelab.kernels.fastmath.log_pos` (no libm call).

Accuracy: each factor and product rounds once or twice per row, an absolute error of at
most about 2.2e-16 per row on the sum.  The plain product multiplies every row in and
is kept when the block's sum is at least :data:`PLAIN_MIN` (below 1.4e-14 relative);
otherwise the block is summed again with the series for the rows whose ``u`` or ``t``
is below 2**-7 (4e-17 relative), so that each row multiplied in has a loss of at least
``log1p(2**-7)`` = 7.8e-3: below 3e-14 relative per block.  Tested against
``math.fsum`` of the exact losses, in both regimes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from .constants import INLINE, LANES
from .fastmath import log_pos
from .logfactor import EXP_BIAS, SMALL, log1p_series, prob_factor

__all__ = ["PLAIN_MIN", "block_loss", "block_loss_logits"]

_LN2 = 0.6931471805599453
#: A block sum from the plain product (every row multiplied in) is kept when at least
#: this: its roundings, one per row from probabilities and two from logits, are an
#: absolute error below 2.3e-13 for 1024 rows (1.4e-14 relative); a smaller sum is taken
#: again with the series.
PLAIN_MIN = 16.0


@njit(**INLINE)
def _lane(
    y: Any,
    p: Any,
    j: int,
    k: int,
    plain: bool,
    ser: np.ndarray,
    expo: np.ndarray,
    prod: np.ndarray,
    chk: np.ndarray,
) -> None:
    s, ex, f, bits, ubits = prob_factor(np.float64(p[j]), y[j] == 1, plain)
    ser[k] += s
    expo[k] += ex  # an integer: the biased exponent
    prod[k] *= f
    # the sign or top exponent bit: p outside [0, 1] or NaN, or (bits - 1 < 0) z = 0
    chk[k] |= bits | ubits | (bits - 1)


@njit(**INLINE)
def _lanes_sum(
    y: Any, p: Any, plain: bool, lanes: np.ndarray, marks: np.ndarray
) -> tuple[float, bool]:
    """:func:`block_loss` with (``plain``) or without the series (a constant per call)."""
    n = y.shape[0]
    ser, prod = lanes[0], lanes[1]  # 1-D views: faster loops than lanes[i, k]
    chk, expo = marks[0], marks[1]
    ser[:] = 0.0
    prod[:] = 1.0
    chk[:] = 0
    expo[:] = 0
    full = n - n % LANES
    for g in range(n // LANES):
        for k in range(LANES):
            _lane(y, p, g * LANES + k, k, plain, ser, expo, prod, chk)
    for k in range(n % LANES):
        _lane(y, p, full + k, k, plain, ser, expo, prod, chk)
    total_ser = 0.0
    total_exp = 0  # biased exponents: each row added EXP_BIAS
    logs = 0.0
    flags = 0
    for k in range(LANES):
        total_ser += ser[k]
        total_exp += expo[k]
        logs += log_pos(prod[k])
        flags |= chk[k]
    if (flags >> 62) != 0:
        return 0.0, False
    return total_ser - ((total_exp - EXP_BIAS * n) * _LN2 + logs), True


@njit(**INLINE)
def block_loss(y: Any, p: Any, lanes: np.ndarray, marks: np.ndarray) -> tuple[float, bool]:
    """``(sum of the losses, whether it holds)`` of a block of at most ``LANES**2`` rows
    whose labels are all 0 or 1.  It does not hold (the sum is meaningless; the caller
    goes row by row) when a probability is NaN or outside [0, 1], or a loss is infinite
    (``z = 0``).  ``lanes`` (float64) and ``marks`` (int64) are scratch arrays of at
    least 2 rows of ``LANES`` each.  The plain product first; below :data:`PLAIN_MIN`
    the block again with the series."""
    total, ok = _lanes_sum(y, p, True, lanes, marks)
    if ok and total < PLAIN_MIN:
        total, ok = _lanes_sum(y, p, False, lanes, marks)
    return total, ok


@njit(**INLINE)
def _logit_lane(
    y: Any, x: Any, t: Any, j: int, k: int, plain: bool, lin: np.ndarray, prod: np.ndarray
) -> None:
    xj = np.float64(x[j])
    tj = t[j]
    xs = -xj if y[j] == 1 else xj  # the loss is max(xs, 0) + log1p(t)
    small = tj < SMALL and not plain
    lin[k] += (xs if xs > 0.0 else 0.0) + (log1p_series(tj) if small else 0.0)
    prod[k] *= 1.0 if small else 1.0 + tj  # NaN for a NaN logit


@njit(**INLINE)
def _logit_lanes_sum(y: Any, x: Any, t: Any, plain: bool, lanes: np.ndarray) -> tuple[float, bool]:
    """:func:`block_loss_logits` with (``plain``) or without the series."""
    n = y.shape[0]
    lin, prod = lanes[0], lanes[1]
    lin[:] = 0.0
    prod[:] = 1.0
    full = n - n % LANES
    for g in range(n // LANES):
        for k in range(LANES):
            _logit_lane(y, x, t, g * LANES + k, k, plain, lin, prod)
    for k in range(n % LANES):
        _logit_lane(y, x, t, full + k, k, plain, lin, prod)
    total = 0.0
    logs = 0.0
    nan = False
    for k in range(LANES):
        total += lin[k]
        nan |= prod[k] != prod[k]
        logs += log_pos(prod[k])
    if nan:
        return 0.0, False
    return total + logs, True


@njit(**INLINE)
def block_loss_logits(y: Any, x: Any, t: Any, lanes: np.ndarray) -> tuple[float, bool]:
    """:func:`block_loss` for logits ``x`` with ``t[j] = exp(-|x_j|)``: the loss
    ``max(-+x, 0) + log1p(t)`` (upper sign for y = 1), the logarithms through products of
    ``1 + t`` (or the series of ``log1p(t)`` for a small ``t``).  It does not hold when a
    logit is NaN; an infinite logit gives its (0 or infinite) loss.  ``lanes``: at least
    2 rows of ``LANES``."""
    total, ok = _logit_lanes_sum(y, x, t, True, lanes)
    if ok and total < PLAIN_MIN:
        total, ok = _logit_lanes_sum(y, x, t, False, lanes)
    return total, ok
