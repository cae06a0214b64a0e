"""The validation pass of a metric ``update``: counts of excluded, clipped and invalid rows.

It runs before anything is added to a state, so that an error leaves the state unchanged.
The counts go to the :class:`~bcelab.kernels.constants.ScanSlot` places of ``out``.  Rows
with 0/1 labels and no NaN, weight or clipping (the usual case) skip it: the update's own
pass (``accum_range`` with ``clean_only``) finds that nothing needs counting and adds
them, or adds nothing and hands them to this pass first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from .cache_guard import clear_stale
from .constants import JIT, ScanSlot

clear_stale()  # before any kernel of this package loads from numba's cache

__all__ = ["count_range", "first_bad"]


@njit(**JIT)
def _clean(y: Any, p: Any, w: Any, has_w: bool, logits: bool, lo_c: float, hi_c: float) -> bool:
    """Whether no row needs counting: targets in [0, 1], probabilities in [eps, 1 - eps]
    (logits: not NaN) and weights finite and >= 0.  One counter, so it is cheap."""
    dirty = 0
    for i in range(y.shape[0]):
        yi = y[i]
        pi = p[i]
        wi = w[i]
        ok = (yi >= 0) & (yi <= 1)
        ok &= (pi == pi) if logits else (pi >= lo_c) & (pi <= hi_c)
        ok &= (wi >= 0) & (wi < np.inf) if has_w else True
        dirty += 0 if ok else 1
    return dirty == 0


@njit(**JIT)
def count_range(
    y: Any,
    p: Any,
    w: Any,
    has_w: bool,
    logits: bool,
    eps: float,
    start: int,
    stop: int,
    out: np.ndarray,
) -> None:
    """Add the counts of rows ``start:stop`` to ``out``, branch-free (LLVM vectorises it);
    ``w`` is read but ignored without weights (the caller passes ``p`` in its place)."""
    # a view from index 0: numba cannot prove range(start, stop) >= 0 and checks every
    # index for wraparound, which turns the vector loads into gathers
    y, p, w = y[start:stop], p[start:stop], w[start:stop]
    lo_c = eps
    hi_c = 1.0 - eps
    probs = not logits
    clip = probs and eps > 0
    if _clean(y, p, w, has_w, logits, lo_c, hi_c):
        return  # the usual case: every count is 0
    n_nan = n_bad_y = n_excl = n_clip = n_bad_p = n_bad_w = 0
    for i in range(y.shape[0]):
        yi = y[i]
        pi = p[i]
        wi = w[i]
        ok_y = (yi >= 0) & (yi <= 1)
        in_unit = (pi >= 0) & (pi <= 1)
        kept = ok_y & (pi == pi)
        n_nan += 1 if pi != pi else 0
        n_bad_y += 0 if ok_y else 1
        n_excl += 0 if kept else 1
        n_bad_p += 1 if kept & ~in_unit else 0
        n_clip += 1 if kept & in_unit & ((pi < lo_c) | (pi > hi_c)) else 0
        n_bad_w += 0 if (wi >= 0) & (wi < np.inf) else 1
    out[ScanSlot.NAN_PRED] += n_nan
    out[ScanSlot.INVALID_TARGET] += n_bad_y
    out[ScanSlot.EXCLUDED] += n_excl
    out[ScanSlot.CLIPPED] += n_clip if clip else 0
    out[ScanSlot.BAD_PROB] += n_bad_p if probs else 0
    out[ScanSlot.BAD_WEIGHT] += n_bad_w if has_w else 0


@njit(**JIT)
def first_bad(y: Any, p: Any, w: Any, has_w: bool, logits: bool, out: np.ndarray) -> None:
    """Rows of the first bad probability and the first bad weight (only run when some are;
    ``out``'s ``FIRST_*`` places must hold -1)."""
    for i in range(y.shape[0]):
        yi = y[i]
        pi = p[i]
        excl = (pi != pi) | (not ((yi >= 0) & (yi <= 1)))
        if (
            out[ScanSlot.FIRST_BAD_PROB] < 0
            and not logits
            and not excl
            and not ((pi >= 0) & (pi <= 1))
        ):
            out[ScanSlot.FIRST_BAD_PROB] = i
        if out[ScanSlot.FIRST_BAD_WEIGHT] < 0 and has_w and not ((w[i] >= 0) & (w[i] < np.inf)):
            out[ScanSlot.FIRST_BAD_WEIGHT] = i
