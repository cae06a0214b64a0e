"""The Python side of the compiled ``update`` kernels: thread split, partial states, merge.

The same driver runs either set of compiled loops: the numba JIT functions
(:mod:`bcelab.metrics._kernel`, :mod:`bcelab.metrics._scan`) or their ahead-of-time
compiled twins (:mod:`bcelab.metrics._aot`), which give bit-identical results.  This
module does not import numba, so that a process with the precompiled kernels never
pays for it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._pool import run, threads

__all__ = ["N_SCAN", "Loops", "accumulate", "scan"]

# nan_pred, invalid_target, excluded, clipped, bad_prob, first_bad_prob, bad_w, first_bad_w
N_SCAN = 8


#: Any object with the four compiled loops as attributes ``count_range``, ``first_bad``,
#: ``accum_range`` and ``into`` (the signatures of :mod:`bcelab.metrics._kernel`).
Loops = Any


def scan(
    k: Loops,
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
    ww = w if w is not None else p  # same dtype and length: one signature per dtype
    n = y.shape[0]
    nt = threads(n, n_threads)
    parts = np.zeros((nt, N_SCAN), dtype=np.int64)
    run(
        nt,
        lambda t: k.count_range(
            y, p, ww, has_w, logits, eps, t * n // nt, (t + 1) * n // nt, parts[t]
        ),
    )
    out = parts.sum(axis=0)
    out[5] = out[7] = -1
    if out[4] or out[6]:
        k.first_bad(y, p, ww, has_w, logits, out)
    return out


def accumulate(
    k: Loops,
    y: np.ndarray,
    p: np.ndarray,
    w: np.ndarray | None,
    *,
    logits: bool,
    eps: float,
    cut_val: np.ndarray,
    cut_off: np.ndarray,
    hist: np.ndarray,
    hist_n: np.ndarray,
    hi: np.ndarray,
    lo: np.ndarray,
    mm: np.ndarray,
    n_threads: int = 0,
) -> None:
    """Add the rows to the state arrays in place (rows already validated by :func:`scan`)."""
    has_w = w is not None
    # without weights the kernel is given p in their place (same dtype and length: one
    # compiled signature per dtype, and branch-free loops may read it; it is never used)
    ww = w if w is not None else p
    n = y.shape[0]
    nt = threads(n, n_threads)
    if nt == 1:
        k.accum_range(
            y, p, ww, has_w, logits, eps, cut_val, cut_off, 0, n, hist, hist_n, hi, lo, mm
        )
        return
    t_hist = np.zeros((nt, *hist.shape))
    t_hist_n = np.zeros((nt, *hist_n.shape), dtype=np.int64)
    t_hi = np.zeros((nt, hi.shape[0]))
    t_lo = np.zeros((nt, hi.shape[0]))
    t_mm = np.empty((nt, 2))
    t_mm[:, 0], t_mm[:, 1] = np.inf, -np.inf
    run(
        nt,
        lambda t: k.accum_range(
            y,
            p,
            ww,
            has_w,
            logits,
            eps,
            cut_val,
            cut_off,
            t * n // nt,
            (t + 1) * n // nt,
            t_hist[t],
            t_hist_n[t],
            t_hi[t],
            t_lo[t],
            t_mm[t],
        ),
    )
    k.into(hist, hist_n, hi, lo, mm, t_hist, t_hist_n, t_hi, t_lo, t_mm)
