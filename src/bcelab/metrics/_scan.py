"""The validation pass of ``update``: counts of excluded, clipped and invalid rows (numba).

It runs before anything is added to a state, so that an error leaves the state unchanged.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
from numba import njit

from . import _drive
from ._drive import N_SCAN

__all__ = ["N_SCAN", "scan"]

_JIT: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy"}


@njit(**_JIT)
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


@njit(**_JIT)
def _count_range(
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
    """The counts, branch-free (LLVM vectorises it); ``w`` is read but ignored without
    weights (the caller passes ``p`` in its place)."""
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
    out[0] += n_nan
    out[1] += n_bad_y
    out[2] += n_excl
    out[3] += n_clip if clip else 0
    out[4] += n_bad_p if probs else 0
    out[6] += n_bad_w if has_w else 0


@njit(**_JIT)
def _first_bad(y: Any, p: Any, w: Any, has_w: bool, logits: bool, out: np.ndarray) -> None:
    """Rows of the first bad probability and the first bad weight (only run when some are)."""
    for i in range(y.shape[0]):
        yi = y[i]
        pi = p[i]
        excl = (pi != pi) | (not ((yi >= 0) & (yi <= 1)))
        if out[5] < 0 and not logits and not excl and not ((pi >= 0) & (pi <= 1)):
            out[5] = i
        if out[7] < 0 and has_w and not ((w[i] >= 0) & (w[i] < np.inf)):
            out[7] = i


def scan(
    y: np.ndarray,
    p: np.ndarray,
    w: np.ndarray | None,
    *,
    logits: bool,
    eps: float,
    n_threads: int = 0,
) -> np.ndarray:
    """Counts ``[nan_pred, invalid_target, excluded, clipped, bad_prob, first_bad_prob,
    bad_weight, first_bad_weight]`` (first_* = -1 when none), with the JIT loops."""
    return _drive.scan(_LOOPS, y, p, w, logits=logits, eps=eps, n_threads=n_threads)


_LOOPS = SimpleNamespace(count_range=_count_range, first_bad=_first_bad)
