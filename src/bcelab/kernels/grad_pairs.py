r"""The float32 gradient of a block of probabilities with 0/1 targets, one division per pair.

For a hard target the gradient of the mean loss with respect to a probability is
:math:`g = c / z` with :math:`z = p` and :math:`c = -w_+ / D` (y = 1) or :math:`z = 1 - p`
and :math:`c = 1 / D` (y = 0).  A SIMD division is among the slowest instructions, so
the elements go in pairs :math:`(a, b)` that share one (about 5% faster for the whole
forward + gradient pass on an Intel Xeon, ``bench/results/kernel.md``):

.. math::

    r = \frac{1 / D}{z_a z_b}, \qquad g_a = n_a\,(r z_b), \qquad g_b = n_b\,(r z_a)

with :math:`n = -w_+` or 1.  Element ``j`` of a block pairs with element ``j + m/2`` (two
contiguous streams, so the loop vectorises); an odd block's last element is divided
alone.  The float64 value then has at most four roundings (about 4.4e-16 relative)
where a division per element has two: both are a hundred million times below the float32
ulp, so the float32 gradient stays within 1 ulp of the correctly rounded value (the
accuracy tests check it against mpmath).  :math:`z = 0` (a certain, wrong prediction)
gives an infinite gradient of the sign of :math:`n` as before, and its partner its own
finite one; :math:`n = 0` (``pos_weight = 0`` and y = 1) gives 0.

:func:`plain_probs_grad_block` computes the same gradient in the pass that sums the
block's losses (the plain product of :mod:`bcelab.kernels.logsum`, ``pos_weight = 1``),
so each probability and target is read and turned into ``z`` once for both: forward +
gradient from probabilities 6-20% faster on 2 threads at 1e7 and 1e8 on an Intel Xeon,
the same gradient bits (``bench/results/kernel.md``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from .constants import INLINE
from .fastmath import add_reassoc, mul_reassoc
from .logfactor import EXP_BIAS, prob_counts, prob_factor
from .scalar import output_value
from .vector_width import prefer_wide_vectors

__all__ = ["hard_prob_grad_block", "plain_probs_grad_block"]

_F0 = np.float32(0.0)
_F1 = np.float32(1.0)
_INF = float("inf")
_LN2 = 0.6931471805599453
_ONE_BITS = 0x3FF0000000000000


@njit(**INLINE)
def _one(p: float, pos: bool, pw: float) -> tuple[float, float, bool]:
    """``(n, z, z == 0)`` of one element, with ``z`` replaced by 1 where it is 0."""
    n = -pw if pos else 1.0
    z = p if pos else 1.0 - p
    zero = z == 0.0
    return n, (1.0 if zero else z), zero


@njit(**INLINE)
def _value(n: float, rz: float, zero: bool) -> float:
    """``n * rz`` (the gradient), ``n * inf`` for ``z = 0`` and 0 for ``n = 0``."""
    return 0.0 if n == 0.0 else n * (_INF if zero else rz) + 0.0


@njit(**INLINE)
def hard_prob_grad_block(
    pb: Any, tb: Any, ob: Any, m: int, pw: float, inv_den: float, gs: float, scaled: bool
) -> None:
    """Write ``ob[j]``, the float32 gradient of ``pb[j]`` (targets ``tb`` all 0 or 1), times
    ``gs`` after its rounding when ``scaled`` (a compile-time constant)."""
    h = m // 2
    for j in range(h):
        na, za, zero_a = _one(np.float64(pb[j]), tb[j] == _F1, pw)
        nb, zb, zero_b = _one(np.float64(pb[j + h]), tb[j + h] == _F1, pw)
        r = inv_den / (za * zb)
        ob[j] = output_value(_value(na, r * zb, zero_a), gs, True, scaled)
        ob[j + h] = output_value(_value(nb, r * za, zero_b), gs, True, scaled)
    for j in range(2 * h, m):
        n, z, zero = _one(np.float64(pb[j]), tb[j] == _F1, pw)
        ob[j] = output_value(_value(n, inv_den / z, zero), gs, True, scaled)


@njit(**INLINE)
def _sum_parts(p: float, yf: Any) -> tuple[Any, bool, int, float, int, int]:
    """One element's parts of the plain block sums: ``(|y - y^2|, y == 1, biased exponent,
    mantissa, check bits, bits of z)`` (:func:`~bcelab.kernels.logfactor.prob_factor`)."""
    pos = yf == _F1
    _, e, f, bits, ubits = prob_factor(p, pos, True)
    return abs(yf - yf * yf), pos, e, f, bits | ubits, bits


@njit(**INLINE)
def plain_probs_grad_block(
    pb: Any, tb: Any, ob: Any, m: int, inv_den: float, gs: float, scaled: bool
) -> tuple[float, float, float, float]:
    """:func:`bcelab.kernels.logsum.plain_probs_block` (``pos_weight = 1``) and
    :func:`hard_prob_grad_block` in one pass over the pairs ``(j, j + m/2)``: the block's
    sums, as that function returns them, and its float32 gradient, written whatever the
    sums (a caller that does not keep them writes it again, with the same values)."""
    prefer_wide_vectors()
    exp0 = 0
    prod0 = 1.0
    low0 = _ONE_BITS
    chk = 0
    soft = _F0
    h = m // 2
    for j in range(h):
        pa = np.float64(pb[j])
        pbb = np.float64(pb[j + h])
        sa, pos_a, ea, fa, ca, bits_a = _sum_parts(pa, tb[j])
        sb, pos_b, eb, fb, cb, bits_b = _sum_parts(pbb, tb[j + h])
        soft = add_reassoc(soft, sa)
        soft = add_reassoc(soft, sb)
        chk |= ca | cb
        exp0 += ea + eb
        prod0 = mul_reassoc(prod0, fa)
        prod0 = mul_reassoc(prod0, fb)
        low0 = min(low0, min(bits_a, bits_b))
        na, za, zero_a = _one(pa, pos_a, 1.0)
        nb, zb, zero_b = _one(pbb, pos_b, 1.0)
        r = inv_den / (za * zb)
        ob[j] = output_value(_value(na, r * zb, zero_a), gs, True, scaled)
        ob[j + h] = output_value(_value(nb, r * za, zero_b), gs, True, scaled)
    for j in range(2 * h, m):
        p = np.float64(pb[j])
        sj, pos, e, f, c, bits = _sum_parts(p, tb[j])
        soft = add_reassoc(soft, sj)
        chk |= c
        exp0 += e
        prod0 = mul_reassoc(prod0, f)
        low0 = min(low0, bits)
        n, z, zero = _one(p, pos, 1.0)
        ob[j] = output_value(_value(n, inv_den / z, zero), gs, True, scaled)
    s0 = -((exp0 - EXP_BIAS * m) * _LN2 + np.log(prod0))
    bad = nsoft = 0.0
    if (chk >> 62) != 0 or soft != _F0:  # exact counts only for a flagged block
        bad, nsoft = prob_counts(pb, tb, m, (chk >> 62) != 0, soft != _F0)
    return 0.0, (_INF if low0 <= 0 else s0), bad, nsoft
