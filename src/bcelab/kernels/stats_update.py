r"""The metric ``update`` kernel (numba): one pass over the rows, on every core.

The rows are processed in blocks of :data:`~bcelab.kernels.constants.STATS_BLOCK`
(1024), in three loops per block:

1. :func:`bcelab.kernels.stats_rows.rows_block` evaluates each row's probability and
   loss in float64 with the scalar formulas of :mod:`bcelab.kernels.scalar` (the
   ``-log p`` / ``-log1p(-p)`` terms or the two softplus terms, then
   ``cross_entropy``) and its fine bin (:mod:`bcelab.metrics.histogram`, from the bits
   of ``min(p, 1 - p)``, identical to the NumPy twin).  It has no branches and no libm
   calls, so LLVM vectorises it.  The test suite checks every row against
   :func:`bcelab.bce` / :func:`bcelab.bce_with_logits`.  A block with 0/1 labels, no
   weights and no clipping (the common case) skips the per-row loss:
   :func:`_summed_block` sums it with one logarithm per lane
   (:mod:`bcelab.kernels.stats_loss`), and ``probs_bins`` / ``logits_bins`` of
   :mod:`bcelab.kernels.stats_rows` give the probabilities and bins.
2. :mod:`bcelab.kernels.stats_scatter` adds each row to its histogram bin (the only
   scalar loop): blocks of 0/1 labels without weights go through a scratch of packed
   counts (``counts``, given by the driver, zero between calls) when the call has at
   least :data:`COUNTS_FROM` rows.
3. :func:`_sums` adds the block's rows into ``LANES`` partial sums per quantity
   (row ``j`` of the block goes to lane ``j % LANES``): a fixed order that LLVM
   vectorises without any fast-math reassociation, so the result is the same on
   every machine.

Summation stays exact at scale: each block is summed in plain float64 (lanes of 32
rows, then the lanes in order), then the block sum is added into a Neumaier-compensated
(hi, lo) pair.  The error is about :math:`64\,\epsilon` relative per block (3e-14
for a loss summed through products) plus :math:`O(\epsilon)` overall, whatever the
number of rows (a plain running sum of 1e9 positive terms drifts by ~1e-12 to 1e-8).

Threads: :mod:`bcelab.kernels.stats_driver` splits the rows into contiguous ranges, one
per thread of :mod:`bcelab.kernels.threads` (the kernels release the GIL), and merges
the partial states with :func:`into`; it runs either these JIT loops (:data:`LOOPS`) or
their precompiled twins (:mod:`bcelab.kernels.aot`).

Import this module only when numba is installed; :class:`bcelab.metrics.BinaryStats`
falls back to the NumPy reference path (:mod:`bcelab.metrics.reference`) otherwise.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np
from numba import njit

from .constants import COUNTS_FROM, FOLD_EVERY, INLINE, JIT, LANES, STATS_BLOCK, StatsSum
from .fastmath import borrowed
from .histogram_loops import coarse_sums, pav_blocks
from .stats_loss import block_loss, block_loss_logits
from .stats_rows import all_hard, entropies, logits_bins, probs_bins, row_weight, rows_block
from .stats_scan import count_range, first_bad
from .stats_scatter import discard_counts, empty_span, fold_counts, scatter, scatter_counts

__all__ = ["LOOPS", "accum_range", "into"]

N_SUMS = len(StatsSum)
_MIN_ROW = N_SUMS  # rows of the lane array after the sums: the lanes' min and max
_MAX_ROW = N_SUMS + 1


@njit(**INLINE)
def _two_add(hi: np.ndarray, lo: np.ndarray, j: int, v: float) -> None:
    """Neumaier: hi[j] + lo[j] += v, with the rounding error of the add kept in lo[j]."""
    s = hi[j]
    t = s + v
    if math.isfinite(t):
        if abs(s) >= abs(v):
            lo[j] += (s - t) + v
        else:
            lo[j] += (v - t) + s
    hi[j] = t


# Like the loops of bcelab.kernels.stats_rows, every loop below runs over a block view from 0.


@njit(**JIT)
def _sums(
    y: Any,
    w: Any,
    has_w: bool,
    hard: bool,
    loss_rows: bool,
    bprob: np.ndarray,
    bloss: np.ndarray,
    bent: np.ndarray,
    acc: np.ndarray,
) -> None:
    """Loop 3: the block's rows into the lane sums ``acc[k, j % LANES]``, min and max.

    Written as an outer loop over groups of ``LANES`` rows and an inner loop over the
    lanes, so that LLVM vectorises the inner loop without reordering any addition.
    Without weights and with 0/1 labels every weight is 1 or 0 (excluded row), so the
    sums of w**2 equal those of w and the entropies are 0: :func:`_lane_hard` adds the
    other five, the same values in the same order (bit for bit the general sums).
    ``loss_rows=False`` (such a block whose loss :func:`_summed_block` summed): the lanes
    of the loss are left at 0.
    """
    n = y.shape[0]
    full = n - n % LANES
    if hard and not has_w:
        if loss_rows:  # a literal per call: each compiles to its own loop
            _hard_lanes(y, bprob, bloss, acc, True)
        else:
            _hard_lanes(y, bprob, bloss, acc, False)
    else:
        for g in range(n // LANES):
            for k in range(LANES):
                _lane(y, w, has_w, hard, g * LANES + k, k, bprob, bloss, bent, acc)
        for k in range(n % LANES):
            _lane(y, w, has_w, hard, full + k, k, bprob, bloss, bent, acc)
    for g in range(n // LANES):  # min and max in a loop of their own (vectorised too)
        for k in range(LANES):
            _minmax(bprob[g * LANES + k], k, acc)
    for k in range(n % LANES):
        _minmax(bprob[full + k], k, acc)


@njit(**INLINE)
def _minmax(prob: float, k: int, acc: np.ndarray) -> None:
    # an excluded row's NaN leaves both as they are: no comparison with NaN holds.  The
    # same selects as the builtin min(a, prob) and max(a, prob), written out because
    # LLVM vectorises this form of the loop and not the builtin's
    lo = acc[_MIN_ROW, k]
    acc[_MIN_ROW, k] = prob if prob < lo else lo
    hi = acc[_MAX_ROW, k]
    acc[_MAX_ROW, k] = prob if prob > hi else hi


@njit(**INLINE)
def _hard_lanes(y: Any, bprob: np.ndarray, bloss: np.ndarray, acc: np.ndarray, loss: bool) -> None:
    """The lane sums of :func:`_sums` for a weight of 1 and 0/1 labels (``loss``: with the
    per-row losses)."""
    n = y.shape[0]
    full = n - n % LANES
    for g in range(n // LANES):
        for k in range(LANES):
            _lane_hard(y, g * LANES + k, k, bprob, bloss, acc, loss)
    for k in range(n % LANES):
        _lane_hard(y, full + k, k, bprob, bloss, acc, loss)
    acc[StatsSum.W2] = acc[StatsSum.W]


@njit(**INLINE)
def _lane_hard(
    y: Any, j: int, k: int, bprob: np.ndarray, bloss: np.ndarray, acc: np.ndarray, loss: bool
) -> None:
    """:func:`_lane` for a weight of 1 (0 for an excluded row) and a 0/1 label; the loss
    only when ``loss`` (a constant at each call, so the other branch compiles away)."""
    prob = bprob[j]
    ok = prob == prob
    yi = np.float64(y[j]) if ok else 0.0
    pr = prob if ok else 0.0
    d = pr - yi
    acc[StatsSum.W, k] += 1.0 if ok else 0.0
    acc[StatsSum.WY, k] += yi
    acc[StatsSum.WP, k] += pr
    if loss:
        acc[StatsSum.WBCE, k] += bloss[j] if ok else 0.0
    acc[StatsSum.WSQ, k] += d * d


@njit(**INLINE)
def _block_loss(yb: Any, pb: Any, lanes: np.ndarray, marks: np.ndarray) -> tuple[float, bool]:
    """The loss sum of a block of probabilities with 0/1 labels, no weights and no
    clipping (:func:`bcelab.kernels.stats_loss.block_loss`), and whether it holds.

    It holds when every probability is in [0, 1] and a float32 value (``1 - p`` is then
    exact in float64): so float64 arrays of float32 values give the same sums as float32
    arrays, and a float64 block of other values (or with NaN) goes row by row."""
    if pb.itemsize == 8:
        inexact = 0
        for j in range(pb.shape[0]):
            v = pb[j]
            inexact += 0 if np.float64(np.float32(v)) == v else 1
        if inexact != 0:
            return 0.0, False
    return block_loss(yb, pb, lanes, marks)


@njit(**INLINE)
def _summed_block(
    yb: Any,
    pb: Any,
    logits: bool,
    cut_val: np.ndarray,
    cut_off: np.ndarray,
    bprob: np.ndarray,
    bfine: np.ndarray,
    ta: np.ndarray,
    lanes: np.ndarray,
    marks: np.ndarray,
) -> tuple[float, bool]:
    """A block with 0/1 labels, no weights and no clipping: its loss sum through products
    (:mod:`bcelab.kernels.stats_loss`) and its rows' probabilities and bins, and whether
    the sum holds (if not, the caller evaluates the block row by row)."""
    if logits:
        logits_bins(pb, cut_val, cut_off, bprob, bfine, ta)
        return block_loss_logits(yb, pb, ta, lanes)
    loss_sum, ok = _block_loss(yb, pb, lanes, marks)
    if ok:
        probs_bins(pb, cut_val, cut_off, bprob, bfine)
    return loss_sum, ok


@njit(**INLINE)
def _lane(
    y: Any,
    w: Any,
    has_w: bool,
    hard: bool,
    j: int,
    k: int,
    bprob: np.ndarray,
    bloss: np.ndarray,
    bent: np.ndarray,
    acc: np.ndarray,
) -> None:
    prob = bprob[j]
    ok = prob == prob  # excluded rows (NaN, or a target outside [0, 1]) add exactly 0
    yi = np.float64(y[j]) if ok else 0.0
    wi = row_weight(w, j, has_w)
    wi = wi if ok else 0.0
    nz = wi != 0.0  # a zero weight contributes exactly 0 (0 * inf must not be NaN)
    pr = prob if ok else 0.0
    d = pr - yi
    hy = 0.0 if hard else bent[j]
    acc[StatsSum.W, k] += wi
    acc[StatsSum.W2, k] += wi * wi
    acc[StatsSum.WY, k] += wi * yi
    acc[StatsSum.WP, k] += wi * pr
    acc[StatsSum.WBCE, k] += wi * bloss[j] if nz else 0.0
    acc[StatsSum.WH, k] += wi * hy if nz else 0.0
    acc[StatsSum.WSQ, k] += wi * (d * d)


@njit(**INLINE)
def _add_block(
    yb: Any,
    wb: Any,
    has_w: bool,
    hard: bool,
    summed: bool,
    loss_sum: float,
    bprob: np.ndarray,
    bloss: np.ndarray,
    bent: np.ndarray,
    acc: np.ndarray,
    hi: np.ndarray,
    lo: np.ndarray,
    pmin: float,
    pmax: float,
) -> tuple[float, float]:
    """Loop 3 for one block: its lane sums (:func:`_sums`; with ``summed``, the loss sum
    ``loss_sum`` in place of the rows') added to the compensated pairs ``hi``/``lo``, in
    :class:`StatsSum` order; returns the new running min and max of the probabilities."""
    acc[:N_SUMS] = 0.0
    acc[_MIN_ROW] = np.inf
    acc[_MAX_ROW] = -np.inf
    _sums(yb, wb, has_w, hard, not summed, bprob, bloss, bent, acc)
    if summed:
        acc[StatsSum.WBCE, 0] = loss_sum
    for k in range(N_SUMS):
        s = 0.0
        for lane in range(LANES):
            s += acc[k, lane]
        _two_add(hi, lo, k, s)
    for lane in range(LANES):
        pmin = min(pmin, acc[_MIN_ROW, lane])
        pmax = max(pmax, acc[_MAX_ROW, lane])
    return pmin, pmax


@njit(**JIT)
def accum_range(
    y: Any,
    p: Any,
    w: Any,
    has_w: bool,
    logits: bool,
    eps: float,
    cut_val: np.ndarray,
    cut_off: np.ndarray,
    start: int,
    stop: int,
    hist: np.ndarray,
    hist_n: np.ndarray,
    hi: np.ndarray,
    lo: np.ndarray,
    mm: np.ndarray,
    counts: np.ndarray,
    clean_only: bool,
) -> bool:
    """Add rows ``start:stop`` to the state arrays: the histogram (``hist``, ``hist_n``),
    the compensated sums (``hi``, ``lo``, in :class:`StatsSum` order) and ``mm`` =
    [min, max] of the probabilities.  ``counts`` is a float64 scratch of
    ``(len(hist_n), 2)`` zeros, left at zero (:mod:`bcelab.kernels.stats_scatter`).

    ``clean_only`` (rows not validated): add them only if every block has 0/1 labels and
    sums through products, which holds only when the validation pass would count nothing;
    else (or unless the call has :data:`COUNTS_FROM` to :data:`FOLD_EVERY` rows without
    weights or clipping) return False, the state and scratch as they were.  The rows it
    adds, it adds with the same operations in the same order as ``clean_only=False``."""
    # the caller keeps the arrays alive: per-block views of them count no references
    y, p, w, hist, hist_n = borrowed(y), borrowed(p), borrowed(w), borrowed(hist), borrowed(hist_n)
    hi, lo, mm, counts = borrowed(hi), borrowed(lo), borrowed(mm), borrowed(counts)
    bprob = np.empty(STATS_BLOCK, dtype=np.float64)
    bloss = np.empty(STATS_BLOCK, dtype=np.float64)
    bfine = np.empty(STATS_BLOCK, dtype=np.int64)
    bent = np.zeros(STATS_BLOCK, dtype=np.float64)
    acc = np.zeros((N_SUMS + 2, LANES), dtype=np.float64)
    lo_c, hi_c = (eps, 1.0 - eps) if eps > 0 else (0.0, 1.0)
    pmin, pmax = mm[0], mm[1]
    by_product = not (has_w or eps > 0)  # a 0/1-label block's loss: _summed_block
    ta = np.empty(STATS_BLOCK, dtype=np.float64)
    lanes = np.empty((3, LANES), dtype=np.float64)
    marks = np.empty((2, LANES), dtype=np.int64)
    use_counts = not has_w and stop - start >= COUNTS_FROM
    if clean_only and not (use_counts and by_product and stop - start < FOLD_EVERY):
        return False
    # staged until the last block (clean_only), so that a stop leaves the state as it was
    t_hi = hi.copy() if clean_only else hi
    t_lo = lo.copy() if clean_only else lo
    span = empty_span(counts)
    b0 = start
    while b0 < stop:
        b1 = min(b0 + STATS_BLOCK, stop)
        yb, pb, wb = y[b0:b1], p[b0:b1], w[b0:b1]
        hard = all_hard(yb)
        summed, loss_sum = False, 0.0
        if hard and by_product:
            loss_sum, summed = _summed_block(
                yb, pb, logits, cut_val, cut_off, bprob, bfine, ta, lanes, marks
            )
        if clean_only and not summed:
            discard_counts(counts, span)
            return False
        if not summed:
            rows_block(yb, pb, logits, lo_c, hi_c, hard, cut_val, cut_off, bprob, bloss, bfine)
            if not hard:
                entropies(yb, bprob, bent)
        if hard and use_counts:
            scatter_counts(yb, bprob, bfine, counts, span, hist, hist_n)
        else:
            scatter(yb, wb, has_w, bprob, bfine, hist, hist_n)
        pmin, pmax = _add_block(
            yb, wb, has_w, hard, summed, loss_sum, bprob, bloss, bent, acc, t_hi, t_lo, pmin, pmax
        )
        b0 = b1
    fold_counts(counts, span, hist, hist_n)
    hi[:] = t_hi  # the same array unless staged
    lo[:] = t_lo
    mm[0], mm[1] = pmin, pmax
    return True


@njit(**JIT)
def into(
    hist: np.ndarray,
    hist_n: np.ndarray,
    hi: np.ndarray,
    lo: np.ndarray,
    mm: np.ndarray,
    t_hist: np.ndarray,
    t_hist_n: np.ndarray,
    t_hi: np.ndarray,
    t_lo: np.ndarray,
    t_mm: np.ndarray,
) -> None:
    """Add the per-thread partial states (leading axis) into the state arrays, in place."""
    for t in range(t_hist.shape[0]):
        for b in range(t_hist.shape[1]):
            hist_n[b] += t_hist_n[t, b]
            for c in range(3):
                hist[b, c] += t_hist[t, b, c]
        for j in range(hi.shape[0]):
            _two_add(hi, lo, j, t_hi[t, j])
            lo[j] += t_lo[t, j]
        mm[0] = min(mm[0], t_mm[t, 0])
        mm[1] = max(mm[1], t_mm[t, 1])


#: the JIT loops, run by :mod:`bcelab.kernels.stats_driver` (the precompiled twins:
#: :mod:`bcelab.kernels.aot`)
LOOPS = SimpleNamespace(
    count_range=count_range,
    first_bad=first_bad,
    accum_range=accum_range,
    into=into,
    pav_blocks=pav_blocks,
    coarse_sums=coarse_sums,
)
