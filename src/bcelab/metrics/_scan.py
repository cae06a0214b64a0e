"""The validation pass of ``update``: counts of excluded, clipped and invalid rows (numba).

It runs before anything is added to a state, so that an error leaves the state unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from ._pool import run, threads

__all__ = ["N_SCAN", "scan"]

_JIT: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy"}

# nan_pred, invalid_target, excluded, clipped, bad_prob, first_bad_prob, bad_w, first_bad_w
N_SCAN = 8


@njit(**_JIT)
def _scan_range(
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
    lo_c = eps
    hi_c = 1.0 - eps
    for i in range(start, stop):
        yi = y[i]
        pi = p[i]
        bad_y = not (yi >= 0 and yi <= 1)
        nan_p = pi != pi
        if nan_p:
            out[0] += 1
        if bad_y:
            out[1] += 1
        if nan_p or bad_y:
            out[2] += 1
        elif not logits:
            if not (pi >= 0 and pi <= 1):
                out[4] += 1
                if out[5] < 0:
                    out[5] = i
            elif eps > 0 and (pi < lo_c or pi > hi_c):
                out[3] += 1
        if has_w:
            wi = w[i]
            if not (wi >= 0 and wi < np.inf):
                out[6] += 1
                if out[7] < 0:
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
    bad_weight, first_bad_weight]`` (first_* = -1 when none)."""
    has_w = w is not None
    ww = w if w is not None else p[:0]  # same dtype as p: one compiled signature per dtype
    n = y.shape[0]
    nt = threads(n, n_threads)
    parts = np.zeros((nt, N_SCAN), dtype=np.int64)
    parts[:, 5] = parts[:, 7] = -1
    run(
        nt,
        lambda t: _scan_range(
            y, p, ww, has_w, logits, eps, t * n // nt, (t + 1) * n // nt, parts[t]
        ),
    )
    out = parts.sum(axis=0)
    for col in (5, 7):
        found = parts[:, col][parts[:, col] >= 0]
        out[col] = found.min() if found.size else -1
    return out
