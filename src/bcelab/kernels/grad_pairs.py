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
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from .constants import INLINE
from .scalar import output_value

__all__ = ["hard_prob_grad_block"]

_F1 = np.float32(1.0)
_INF = float("inf")


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
