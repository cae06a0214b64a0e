"""Loop 1 of the ``update`` kernel (:mod:`bcelab.metrics._kernel`): per-row values of a block.

For each row of a block of at most ``BLOCK`` rows: the probability (NaN for an excluded
row), the loss in float64 and the fine histogram bin, plus H(y) for soft labels.  No
branches and no libm calls, so LLVM vectorises every loop here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from ..kernels.fastmath import exp_nonpos, f64_to_bits, log1p_any, log1p_unit, log_pos
from .histogram import NOCT, SIDE, K

__all__: list[str] = []  # private to the kernel

_JIT: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy"}
_LOG2 = math.log(2.0)


@njit(inline="always", **_JIT)
def _entropy(y: float) -> float:
    """``bcelab._core.formulas.entropy`` for one soft label (0 < y < 1): both terms are needed."""
    return y * -log_pos(y) + (1.0 - y) * -log1p_any(-y)


_LOW44 = (1 << 44) - 1
_OFF = ((1022 - NOCT) << 8) if K == 256 else -1  # (biased exponent - 982) * 256 = o * K


@njit(inline="always", **_JIT)
def _base_bin(p: float) -> int:
    """:func:`bcelab.metrics.histogram.base_index` from the bits of ``q = min(p, 1 - p)``.

    With K = 256 the key ``bits >> 44`` is (biased exponent) * 256 + (top 8 mantissa
    bits); for p >= 1/2 a q exactly on an edge borrows into the bin below (key - 1).
    Written with selects only: the side of 1/2 is unpredictable in real data.
    """
    upper = p >= 0.5
    qb: int = f64_to_bits(min(p, 1.0 - p))
    key = (qb >> 44) - _OFF
    key -= 1 if (upper and (qb & _LOW44) == 0) else 0
    lo_idx = 0 if key < 0 else 1 + key
    hi_idx = 2 * SIDE - 1 if key < 0 else SIDE + (NOCT * K - 1 - key)
    return hi_idx if upper else lo_idx


# Every loop below runs over a block *view* (``y[b0:b1]``) from index 0: numba cannot
# prove that ``range(b0, b1)`` indices are >= 0, so it checks each for wraparound and
# LLVM turns the loads into gathers (about 4x slower than contiguous vector loads).


@njit(**_JIT)
def _all_hard(y: Any) -> bool:
    """Whether every label in the block ``y`` is exactly 0 or 1 (a vectorised count)."""
    soft = 0
    for i in range(y.shape[0]):
        yi = y[i]
        soft += 0 if (yi == 0) | (yi == 1) else 1
    return soft == 0


@njit(**_JIT)
def _rows_block(
    y: Any,
    p: Any,
    logits: bool,
    lo_c: float,
    hi_c: float,
    hard: bool,
    cut_val: np.ndarray,
    cut_off: np.ndarray,
    bprob: np.ndarray,
    bloss: np.ndarray,
    bfine: np.ndarray,
) -> None:
    """Loop 1 of a block: per-row probability (NaN = excluded row), loss and fine bin.

    This is :func:`bcelab._core.formulas.cross_entropy` of :func:`bcelab._core.formulas.neglog_terms_probs`
    (or :func:`~bcelab._core.formulas.neglog_terms_logits`) transcribed to scalars, with the same
    stand-in input where a coefficient is 0, and ``softplus(t) = max(t, 0) +
    log1p(exp(-|t|))`` (the two branches of :func:`bcelab._core.formulas.softplus` in one line).
    It has no branches and no libm calls (``log``/``exp`` from
    :mod:`bcelab.kernels.fastmath`, about 1 ulp), so LLVM vectorises it.  The fine bin
    of an excluded row is 0 (never used).
    """
    n = y.shape[0]
    for j in range(n):
        yi = np.float64(y[j])
        zi = np.float64(p[j])
        valid = (yi >= 0.0) & (yi <= 1.0) & (zi == zi)
        y0 = yi == 0.0
        y1 = yi == 1.0
        if logits:
            e = exp_nonpos(-abs(zi))
            lg = log1p_unit(e)  # shared by softplus(x) and softplus(-x)
            a = _LOG2 if y0 else max(-zi, 0.0) + lg  # stand-in x = 0 where y == 0
            b = _LOG2 if y1 else max(zi, 0.0) + lg
            prob = 1.0 / (1.0 + e) if zi >= 0 else e / (1.0 + e)
            bloss[j] = yi * a + (1.0 - yi) * b
        else:
            prob = min(max(zi, lo_c), hi_c)  # clip (lo_c = 0, hi_c = 1 without clip)
            if hard:
                # every label of the block is 0 or 1: only the term with coefficient 1 is
                # evaluated, -log(p) or -log1p(-p) = -(log(w) + c / w) with w = 1 - p and
                # c = -p - (w - 1) the rounding error of w (log1p_any's correction), one
                # log per row.  c is 0 for p >= 1/2 (Sterbenz) and for float32 p >= 2**-30,
                # and c / w = c * (2 - w) * (1 + O((1 - w)**2)): the error, below
                # 2**-53 * p**2 / w, stays under half an ulp of the loss (>= p), and the
                # division is saved
                w = 1.0 - prob
                c = (-prob - (w - 1.0)) * (2.0 - w)
                bloss[j] = -(log_pos(prob if y1 else w) + (0.0 if y1 else c))
            else:
                a = -log_pos(1.0 if y0 else prob)
                b = -log1p_any(-(0.0 if y1 else prob))
                bloss[j] = yi * a + (1.0 - yi) * b
        bprob[j] = prob if valid else np.nan
        bfine[j] = _base_bin(prob) if valid else 0
    for j in range(n):  # the cut points: two gathers, vectorised too
        bb = bfine[j]
        bfine[j] = bb + cut_off[bb] + (1 if bprob[j] >= cut_val[bb] else 0)


@njit(**_JIT)
def _entropies(y: Any, bprob: np.ndarray, bent: np.ndarray) -> None:
    """H(y) of every valid row of a block with soft labels (0 for hard labels)."""
    for j in range(y.shape[0]):
        yi = np.float64(y[j])
        soft = (yi > 0.0) & (yi < 1.0) & (bprob[j] == bprob[j])
        bent[j] = _entropy(yi if soft else 0.5) if soft else 0.0
