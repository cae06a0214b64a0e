r"""Loop 2 of the metric ``update`` kernel (:mod:`bcelab.kernels.stats_update`): each row
into its fine histogram bin.

Two forms, one per kind of block:

* :func:`scatter` adds a row's count, ``w * y``, ``w * (1 - y)`` and ``w * p`` to its bin
  of the state (``hist_n`` and the three columns of ``hist``): any weights and labels.
* :func:`scatter_counts`, for blocks of 0/1 labels without weights, adds each row to a
  scratch array of two float64 columns per bin instead: ``1 + 2**26 * y`` (the row count
  and the positives of the bin, packed into one exact integer) and ``p``: two
  read-modify-writes on one 16-byte record instead of four on two cache lines.
  :func:`fold_counts` then adds the scratch's bins in use to the state and leaves them
  at zero.  The counts are integers, so they reach the state exactly; each bin's sum of
  ``p`` is taken over the call's rows and then added to the state, as the NumPy
  reference (:mod:`bcelab.metrics.reference`) adds a ``bincount`` per slice of rows.

The packed count stays exact while each bin holds fewer than ``2**26`` rows (the packed
value is then below ``2**53``): the kernel folds the scratch every :data:`FOLD_EVERY`
rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from .constants import FOLD_EVERY, JIT
from .stats_rows import row_weight

__all__ = [
    "FOLD_EVERY",
    "discard_counts",
    "empty_span",
    "fold_counts",
    "scatter",
    "scatter_counts",
]

_SHIFT = 26
_LOW = (1 << _SHIFT) - 1
_POSITIVE = float(1 << _SHIFT)


@njit(**JIT)
def scatter(
    y: Any,
    w: Any,
    has_w: bool,
    bprob: np.ndarray,
    bfine: np.ndarray,
    hist: np.ndarray,
    hist_n: np.ndarray,
) -> None:
    """Add every valid row of the block to its bin of the state (a weight of 0 adds
    exactly 0)."""
    for j in range(y.shape[0]):
        prob = bprob[j]
        if prob != prob:
            continue
        fb = bfine[j]
        yi = np.float64(y[j])
        wi = row_weight(w, j, has_w)
        hist_n[fb] += 1
        hist[fb, 0] += wi * yi
        hist[fb, 1] += wi * (1.0 - yi)
        hist[fb, 2] += wi * prob


@njit(**JIT)
def empty_span(counts: np.ndarray) -> np.ndarray:
    """``[first, last, rows]``: the bins of ``counts`` in use (none) and the rows counted
    since the last fold (0)."""
    span = np.empty(3, dtype=np.int64)
    _clear(span, counts.shape[0])
    return span


@njit(**JIT)
def _clear(span: np.ndarray, bins: int) -> None:
    span[0] = bins  # first > last: no bin in use
    span[1] = -1
    span[2] = 0


@njit(**JIT)
def scatter_counts(
    y: Any,
    bprob: np.ndarray,
    bfine: np.ndarray,
    counts: np.ndarray,
    span: np.ndarray,
    hist: np.ndarray,
    hist_n: np.ndarray,
) -> None:
    """Add every valid row of a block of 0/1 labels without weights to the scratch
    ``counts`` (``1 + 2**26 * y`` and ``p``) and widen ``span``; every
    :data:`FOLD_EVERY` rows, fold the scratch into the state (``hist``, ``hist_n``)."""
    first = span[0]
    last = span[1]
    for j in range(y.shape[0]):
        prob = bprob[j]
        if prob != prob:
            continue
        fb = bfine[j]
        counts[fb, 0] += 1.0 + _POSITIVE * np.float64(y[j])
        counts[fb, 1] += prob
        first = min(first, fb)
        last = max(last, fb)
    span[0] = first
    span[1] = last
    span[2] += y.shape[0]
    if span[2] >= FOLD_EVERY:
        fold_counts(counts, span, hist, hist_n)


@njit(**JIT)
def fold_counts(counts: np.ndarray, span: np.ndarray, hist: np.ndarray, hist_n: np.ndarray) -> None:
    """Add the scratch's bins ``span[0]..span[1]`` to the state, zero them, and empty
    ``span`` (:func:`empty_span`)."""
    for fb in range(span[0], span[1] + 1):
        packed = counts[fb, 0]
        if packed != 0.0:
            bits = np.int64(packed)
            rows = bits & _LOW
            positives = bits >> _SHIFT
            hist_n[fb] += rows
            hist[fb, 0] += np.float64(positives)
            hist[fb, 1] += np.float64(rows - positives)
            hist[fb, 2] += counts[fb, 1]
            counts[fb, 0] = 0.0
            counts[fb, 1] = 0.0
    _clear(span, counts.shape[0])


@njit(**JIT)
def discard_counts(counts: np.ndarray, span: np.ndarray) -> None:
    """Zero the scratch's bins ``span[0]..span[1]`` without adding them to any state, and
    empty ``span`` (a call that adds nothing after all)."""
    for fb in range(span[0], span[1] + 1):
        counts[fb, 0] = 0.0
        counts[fb, 1] = 0.0
    _clear(span, counts.shape[0])
