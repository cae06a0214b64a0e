r"""Block sums of hard-target losses with one logarithm per block instead of one per element.

For 0/1 targets and no per-element weight, the sum of a block's losses needs only the sum
of the logarithms in it, and a sum of logarithms is the logarithm of a product:

.. math::

    \sum_i \log f_i = \log \prod_i f_i .

So the per-element work is a multiplication, and ``math.log`` runs once per block per
class (512 elements), which is what makes the forward pass of the fused kernel 1.6-1.9x
cheaper per element for float32 inputs (``bench/results/kernel.md``).

Accuracy.  The product loses about one float64 rounding (1.1e-16, relative) per factor,
which is an *absolute* error of 1.1e-16 on the sum of logarithms.  That is negligible
for terms of at least :data:`SMALL` = :math:`2^{-7}` (relative error below 3e-14 per
term), but not for tiny terms (a confident, correct prediction has a loss near 1e-9 or
smaller), so terms below :data:`SMALL` never enter the product: they are summed directly
from their series, :math:`\log(1 + t) = t - t^2/2 + \dots` (logits) or
:math:`-\log(1 - u) = u + u^2/2 + \dots` (probabilities), truncated after 8 terms
(truncation below :math:`2^{-56}` relative).  The sum is thus within ~3e-14 relative of
the sum of exact per-element losses, far inside the 1e-12 budget of the mean, and
independent of the thread count (the order is fixed by the compiled code).

Only the loss *sum* is produced: gradients, per-element losses, weights, soft targets,
label smoothing and the floor/excess decomposition keep the per-element path of
:mod:`bcelab.kernels.fused`, which calls these functions only for blocks whose targets
are all exactly 0 or 1.  Both functions are compiled with ``reassoc`` (so that LLVM
keeps SIMD partial sums and products) and no other fast-math flag: NaN and infinity
keep their IEEE meaning.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from .fastmath import bits_to_f64, f64_to_bits

__all__ = ["SMALL", "hard_logits_block", "hard_probs_block"]

SMALL = 2.0**-7  # terms below this are summed from their series, not through the product
_LN2 = 0.6931471805599453
_MANT = 0x000FFFFFFFFFFFFF
_ONE_BITS = 0x3FF0000000000000
_MAGIC = 6755399441055744.0  # 1.5 * 2**52: int -> float without a conversion instruction
_MAGIC_BITS = 0x4338000000000000
_INF = float("inf")
_SUM: dict[str, Any] = {
    "cache": True,
    "nogil": True,
    "error_model": "numpy",
    "fastmath": {"reassoc", "contract"},
}


@njit(**_SUM)
def hard_logits_block(pb: Any, tb: Any, ta: Any, m: int) -> tuple[float, float, float]:
    """Loss sums of one block of logits with 0/1 targets: ``(sum over y=1, sum over y=0, NaNs)``.

    ``ta[j]`` must hold ``exp(-|x_j|)``.  The loss is ``max(∓x, 0) + log1p(exp(-|x|))``
    (upper sign for y = 1); the caller multiplies the y = 1 sum by ``pos_weight``.
    The NaN count covers NaN logits (whose sums are then meaningless).
    """
    lin1 = 0.0
    lin0 = 0.0
    prod1 = 1.0
    prod0 = 1.0
    bad = 0.0
    for j in range(m):
        x = np.float64(pb[j])
        t = ta[j]
        pos = tb[j] == 1.0
        small = t < SMALL
        # log1p(t) for t < 2^-7: alternating series, 8 terms
        ser = t * (
            1.0
            + t
            * (
                -0.5
                + t
                * (
                    1.0 / 3.0
                    + t * (-0.25 + t * (0.2 + t * (-1.0 / 6.0 + t * (1.0 / 7.0 - 0.125 * t))))
                )
            )
        )
        lin = (-x if x < 0.0 else 0.0) if pos else (x if x > 0.0 else 0.0)
        v = lin + (ser if small else 0.0)
        f = 1.0 if small else 1.0 + t
        lin1 += v if pos else 0.0
        lin0 += 0.0 if pos else v
        prod1 *= f if pos else 1.0
        prod0 *= 1.0 if pos else f
        bad += 0.0 if x == x else 1.0
    # 512 factors of at most 2 stay below 2^512: no overflow
    return lin1 + np.log(prod1), lin0 + np.log(prod0), bad


@njit(**_SUM)
def hard_probs_block(pb: Any, tb: Any, m: int) -> tuple[float, float, float]:
    """Loss sums of one block of probabilities with 0/1 targets: ``(y=1 sum, y=0 sum, invalid)``.

    The loss is ``-log z`` with ``z = p`` (y = 1) or ``1 - p`` (y = 0); ``1 - p`` is exact
    in float64 for a float32 ``p``.  Each ``z = 2^e m`` (``m`` in [1, 2)) enters as its
    exponent, summed exactly, and its mantissa, multiplied in.  ``z = 0`` gives ``inf``.
    The invalid count covers probabilities outside [0, 1] and NaN.
    """
    ser1 = 0.0
    ser0 = 0.0
    exp1 = 0.0
    exp0 = 0.0
    prod1 = 1.0
    prod0 = 1.0
    zero1 = 0.0
    zero0 = 0.0
    bad = 0.0
    for j in range(m):
        p = np.float64(pb[j])
        pos = tb[j] == 1.0
        z = p if pos else 1.0 - p
        u = 1.0 - p if pos else p  # 1 - z, exact
        small = u < SMALL
        # -log(1 - u) for u < 2^-7: 8 terms of u^k / k
        ser = u * (
            1.0
            + u
            * (
                0.5
                + u
                * (
                    1.0 / 3.0
                    + u * (0.25 + u * (0.2 + u * (1.0 / 6.0 + u * (1.0 / 7.0 + 0.125 * u))))
                )
            )
        )
        bits = f64_to_bits(z)
        e = bits_to_f64((bits >> 52) + (_MAGIC_BITS - 1023)) - _MAGIC
        mant = bits_to_f64((bits & _MANT) | _ONE_BITS)
        zero = z == 0.0
        skip = small or zero
        s = ser if small else 0.0
        f = 1.0 if skip else mant
        ex = 0.0 if skip else e
        zc = 1.0 if zero else 0.0
        ser1 += s if pos else 0.0
        ser0 += 0.0 if pos else s
        exp1 += ex if pos else 0.0
        exp0 += 0.0 if pos else ex
        prod1 *= f if pos else 1.0
        prod0 *= 1.0 if pos else f
        zero1 += zc if pos else 0.0
        zero0 += 0.0 if pos else zc
        bad += 0.0 if (0.0 <= p <= 1.0) else 1.0
    # -log z = -(e ln 2 + log m); 512 mantissas below 2 stay below 2^512
    s1 = ser1 - (exp1 * _LN2 + np.log(prod1))
    s0 = ser0 - (exp0 * _LN2 + np.log(prod0))
    return (_INF if zero1 > 0.0 else s1), (_INF if zero0 > 0.0 else s0), bad
