"""Loop 1 of the metric ``update`` kernel (:mod:`bcelab.kernels.stats_update`): per-row values.

For each row of a block of at most :data:`~bcelab.kernels.constants.STATS_BLOCK` rows:
the probability (NaN for an excluded row), the loss in float64 and the fine histogram
bin, plus H(y) for soft labels.  No branches and no libm calls, so LLVM vectorises
every loop here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from .constants import INLINE, JIT, NOCT, SIDE, SMALLEST_WEIGHT, STATS_BLOCK, K
from .fastmath import exp_nonpos, f64_to_bits, log1p_any, log1p_unit, log_pos
from .scalar import cross_entropy, entropy_soft, sigmoid_from_exp, softplus_pair

__all__ = [
    "all_hard",
    "base_bin",
    "entropies",
    "logits_bins",
    "probs_bins",
    "row_values",
    "rows_block",
]

_LOW44 = (1 << 44) - 1
_OFF = ((1022 - NOCT) << 8) if K == 256 else -1  # (biased exponent - 982) * 256 = o * K


@njit(**INLINE)
def base_bin(p: float) -> int:
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


@njit(**INLINE)
def row_weight(w: Any, j: int, has_w: bool) -> float:
    """The weight that row ``j`` adds to a state: ``w[j]`` in float64 (1 without
    weights), a subnormal one raised to :data:`~bcelab.kernels.constants.SMALLEST_WEIGHT`."""
    wi = np.float64(w[j]) if has_w else 1.0
    return SMALLEST_WEIGHT if 0.0 < wi < SMALLEST_WEIGHT else wi


@njit(**JIT)
def all_hard(y: Any) -> bool:
    """Whether every label in the block ``y`` is exactly 0 or 1 (a vectorised count)."""
    soft = 0
    for i in range(y.shape[0]):
        yi = y[i]
        soft += 0 if (yi == 0) | (yi == 1) else 1
    return soft == 0


@njit(**JIT)
def rows_block(
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

    The loss is :func:`bcelab.kernels.scalar.cross_entropy` of the two terms (the two
    softplus terms, or ``-log p`` and ``-log1p(-p)``), the formulas of
    :mod:`bcelab._core.formulas` transcribed to scalars.  It has no branches and no libm
    calls (``log``/``exp`` from :mod:`bcelab.kernels.fastmath`, about 1 ulp), so LLVM
    vectorises it.  The fine bin of an excluded row is 0 (never used).
    """
    n = y.shape[0]
    for j in range(n):
        yi = np.float64(y[j])
        zi = np.float64(p[j])
        valid = (yi >= 0.0) & (yi <= 1.0) & (zi == zi)
        y1 = yi == 1.0
        if logits:
            e = exp_nonpos(-abs(zi))
            a, b = softplus_pair(zi, log1p_unit(e))
            prob = sigmoid_from_exp(zi, e)
            bloss[j] = cross_entropy(yi, a, b, 1.0)
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
                bloss[j] = cross_entropy(yi, -log_pos(prob), -log1p_any(-prob), 1.0)
        bprob[j] = prob if valid else np.nan
        bfine[j] = base_bin(prob) if valid else 0
    _cut_points(n, cut_val, cut_off, bprob, bfine)


@njit(**JIT)
def probs_bins(
    p: Any, cut_val: np.ndarray, cut_off: np.ndarray, bprob: np.ndarray, bfine: np.ndarray
) -> None:
    """:func:`rows_block` for a block of valid probabilities whose loss is summed
    elsewhere (:mod:`bcelab.kernels.stats_loss`): the probability and fine bin of each row."""
    n = p.shape[0]
    for j in range(n):
        prob = np.float64(p[j])
        bprob[j] = prob
        bfine[j] = base_bin(prob)
    _cut_points(n, cut_val, cut_off, bprob, bfine)


@njit(**JIT)
def logits_bins(
    x: Any,
    cut_val: np.ndarray,
    cut_off: np.ndarray,
    bprob: np.ndarray,
    bfine: np.ndarray,
    ta: np.ndarray,
) -> None:
    """:func:`probs_bins` for logits: the probability (as :func:`rows_block` computes it)
    and fine bin of each row, and ``ta[j] = exp(-|x_j|)`` for the loss sum.  The bin of a
    NaN logit is 0 (the block then goes through :func:`rows_block`)."""
    n = x.shape[0]
    for j in range(n):
        xj = np.float64(x[j])
        e = exp_nonpos(-abs(xj))
        ta[j] = e
        prob = sigmoid_from_exp(xj, e)
        bprob[j] = prob
        bfine[j] = base_bin(prob) if prob == prob else 0
    _cut_points(n, cut_val, cut_off, bprob, bfine)


@njit(**INLINE)
def _cut_points(
    n: int, cut_val: np.ndarray, cut_off: np.ndarray, bprob: np.ndarray, bfine: np.ndarray
) -> None:
    """From base bins to fine bins: the cut points (two gathers, vectorised too)."""
    for j in range(n):
        bb = bfine[j]
        bfine[j] = bb + cut_off[bb] + (1 if bprob[j] >= cut_val[bb] else 0)


@njit(**JIT)
def entropies(y: Any, bprob: np.ndarray, bent: np.ndarray) -> None:
    """H(y) of every valid row of a block with soft labels (0 for hard labels)."""
    for j in range(y.shape[0]):
        yi = np.float64(y[j])
        soft = (yi > 0.0) & (yi < 1.0) & (bprob[j] == bprob[j])
        bent[j] = entropy_soft(yi if soft else 0.5) if soft else 0.0


@njit(**JIT)
def row_values_loop(
    y: Any, p: Any, logits: bool, cut_val: np.ndarray, cut_off: np.ndarray, out: np.ndarray
) -> None:
    """The loop of :func:`row_values`."""
    n = y.shape[0]
    bprob = np.empty(STATS_BLOCK, dtype=np.float64)
    bloss = np.empty(STATS_BLOCK, dtype=np.float64)
    bfine = np.empty(STATS_BLOCK, dtype=np.int64)
    for b0 in range(0, n, STATS_BLOCK):
        b1 = min(b0 + STATS_BLOCK, n)
        yb = y[b0:b1]
        hard = all_hard(yb)
        rows_block(yb, p[b0:b1], logits, 0.0, 1.0, hard, cut_val, cut_off, bprob, bloss, bfine)
        for j in range(b1 - b0):
            yi = np.float64(yb[j])
            out[b0 + j, 0] = bloss[j]
            out[b0 + j, 1] = bprob[j]
            out[b0 + j, 2] = 0.0 if (yi == 0) | (yi == 1) else entropy_soft(yi)
            out[b0 + j, 3] = base_bin(bprob[j])
            out[b0 + j, 4] = bfine[j]


def row_values(
    y: np.ndarray, p: np.ndarray, *, logits: bool, cut_val: np.ndarray, cut_off: np.ndarray
) -> np.ndarray:
    """Per-row ``[loss, probability, H(y), base bin, fine bin]`` as the kernel computes them
    (``cut_val``, ``cut_off``: the cut points of :func:`bcelab.metrics.histogram.layout`)."""
    out = np.empty((y.shape[0], 5), dtype=np.float64)
    row_values_loop(y, p, logits, cut_val, cut_off, out)
    return out
