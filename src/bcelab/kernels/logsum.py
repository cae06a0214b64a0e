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

Each function comes in two compiled variants: ``split=True`` returns the sums over
y = 1 and y = 0 separately (the caller weights the first by ``pos_weight``), and
``split=False`` (``pos_weight = 1``, the common case) one sum, about 30% cheaper.

Only the loss *sum* is produced: gradients, per-element losses, weights, soft targets,
label smoothing and the floor/excess decomposition keep the per-element path of
:mod:`bcelab.kernels.loss`.  Each function also counts the targets that are not exactly
0 or 1; the kernel keeps the sums only when that count is 0 and otherwise evaluates the
block again per element (one pass over the targets instead of a check first).  Both functions are compiled with ``reassoc`` (so that LLVM
keeps SIMD partial sums and products) and no other fast-math flag: NaN and infinity
keep their IEEE meaning.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from .fastmath import bits_to_f64, f64_to_bits

__all__ = ["SMALL", "hard_logits_block", "hard_probs_block", "logits_block", "probs_block"]

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


def _make_logits(split: bool) -> Any:
    @njit(**_SUM)
    def block(pb: Any, tb: Any, ta: Any, m: int) -> tuple[float, float, float, float]:
        lin1 = 0.0
        lin0 = 0.0
        prod1 = 1.0
        prod0 = 1.0
        bad = 0.0
        soft = 0.0
        for j in range(m):
            x = np.float64(pb[j])
            t = ta[j]
            pos = tb[j] == 1.0
            soft += 0.0 if (pos or tb[j] == 0.0) else 1.0
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
            xs = -x if pos else x
            v = (xs if xs > 0.0 else 0.0) + (ser if small else 0.0)  # max(-+x, 0) + small term
            f = 1.0 if small else 1.0 + t
            if split:
                lin1 += v if pos else 0.0
                lin0 += 0.0 if pos else v
                prod1 *= f if pos else 1.0
                prod0 *= 1.0 if pos else f
            else:
                lin0 += v
                prod0 *= f
            bad += 0.0 if x == x else 1.0
        # 512 factors of at most 2 stay below 2^512: no overflow
        return lin1 + np.log(prod1), lin0 + np.log(prod0), bad, soft

    return block


def _make_probs(split: bool) -> Any:
    @njit(**_SUM)
    def block(pb: Any, tb: Any, m: int) -> tuple[float, float, float, float]:
        ser1 = 0.0
        ser0 = 0.0
        exp1 = 0.0
        exp0 = 0.0
        prod1 = 1.0
        prod0 = 1.0
        zero1 = 0.0
        zero0 = 0.0
        bad = 0.0
        soft = 0.0
        for j in range(m):
            p = np.float64(pb[j])
            pos = tb[j] == 1.0
            soft += 0.0 if (pos or tb[j] == 0.0) else 1.0
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
            if split:
                ser1 += s if pos else 0.0
                ser0 += 0.0 if pos else s
                exp1 += ex if pos else 0.0
                exp0 += 0.0 if pos else ex
                prod1 *= f if pos else 1.0
                prod0 *= 1.0 if pos else f
                zero1 += zc if pos else 0.0
                zero0 += 0.0 if pos else zc
            else:
                ser0 += s
                exp0 += ex
                prod0 *= f
                zero0 += zc
            bad += 0.0 if (0.0 <= p <= 1.0) else 1.0
        # -log z = -(e ln 2 + log m); 512 mantissas below 2 stay below 2^512
        s1 = ser1 - (exp1 * _LN2 + np.log(prod1))
        s0 = ser0 - (exp0 * _LN2 + np.log(prod0))
        return (_INF if zero1 > 0.0 else s1), (_INF if zero0 > 0.0 else s0), bad, soft

    return block


_LOGITS = {True: _make_logits(True), False: _make_logits(False)}
_PROBS = {True: _make_probs(True), False: _make_probs(False)}

#: ``hard_logits_block(pb, tb, ta, m)``: loss sums of one block of logits with 0/1 targets,
#: ``(sum over y=1, sum over y=0, NaN count, count of targets not 0 or 1)`` (the sums are
#: meaningless unless the last count is 0); ``ta[j]`` must hold ``exp(-|x_j|)``.  The
#: loss is ``max(-+x, 0) + log1p(exp(-|x|))`` (upper sign for y = 1).
hard_logits_block = _LOGITS[True]
#: ``hard_probs_block(pb, tb, m)``: the same for probabilities, ``-log z`` with ``z = p``
#: (y = 1) or ``1 - p`` (y = 0, exact in float64 for a float32 ``p``); each ``z = 2^e m``
#: enters as its exponent (summed exactly) and its mantissa (multiplied in); ``z = 0``
#: gives ``inf``.  The count covers probabilities outside [0, 1] and NaN.
hard_probs_block = _PROBS[True]
#: The ``pos_weight = 1`` variants: ``(0.0, sum over all, count, count)``.
logits_block = _LOGITS[False]
probs_block = _PROBS[False]
