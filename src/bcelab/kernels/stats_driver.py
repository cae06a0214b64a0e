"""The Python side of the compiled metric ``update`` loops: thread split, partial states, merge.

The same driver runs either set of compiled loops: the numba JIT functions
(:data:`bcelab.kernels.stats_update.LOOPS`) or their ahead-of-time compiled twins
(:mod:`bcelab.kernels.aot`), which give bit-identical results; :func:`compiled_loops`
picks one.  This module does not import numba, so that a process with the precompiled
loops never pays for it.

Where the rows are split between threads changes the last bits of the sums (not the
counts or bins): :func:`split_threads` says how many threads an update of ``n`` rows uses.
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple

import numpy as np

from . import aot
from .constants import COUNTS_FROM, FOLD_EVERY, STATS_SERIAL_BELOW, ScanSlot
from .threads import run_threads, thread_count

__all__ = [
    "NO_COUNTS",
    "Loops",
    "ScanCounts",
    "accumulate",
    "compiled_loops",
    "scan",
    "split_threads",
]

_SCRATCH = threading.local()
_MAX_FAILS = 6  # the one-pass attempts of accumulate(clean_only=True): see _clean_may_hold

#: Any object with the four compiled loops as attributes ``count_range``, ``first_bad``,
#: ``accum_range`` and ``into`` (the signatures of :mod:`bcelab.kernels.stats_update`).
Loops = Any


class ScanCounts(NamedTuple):
    """What the validation pass found (the :class:`ScanSlot` counts, by name)."""

    nan_pred: int  # NaN predictions (excluded rows)
    invalid_target: int  # targets outside [0, 1] or NaN (excluded rows)
    excluded: int  # rows excluded for either reason
    clipped: int  # probabilities clipped to [eps, 1 - eps]
    bad_prob: int  # probabilities outside [0, 1] (an error)
    first_bad_prob: int  # the row of the first, or -1
    bad_weight: int  # negative, infinite or NaN weights (an error)
    first_bad_weight: int  # the row of the first, or -1

    @classmethod
    def from_array(cls, counts: np.ndarray) -> ScanCounts:
        """From an int64 array in :class:`ScanSlot` order."""
        return cls._make(counts.tolist())


#: What the validation pass finds in rows that need no counting.
NO_COUNTS = ScanCounts(0, 0, 0, 0, 0, -1, 0, -1)


def compiled_loops() -> Loops | None:
    """The precompiled loops when they can be had (no numba import), else numba's JIT
    loops; None when numba is not installed (then use :mod:`bcelab.metrics.reference`)."""
    found = aot.loops()
    if found is not None:
        return found
    try:
        from . import stats_update  # numba: an optional extra, and slow to import
    except ImportError:  # pragma: no cover - numba is an optional extra
        return None
    return stats_update.LOOPS


def split_threads(n: int, threads: int | None) -> int:
    """Threads for ``n`` rows: 1 below 65536 rows, else one per 32768 rows, at most
    ``threads`` (None: :func:`bcelab.kernels.threads.thread_count`)."""
    if n < STATS_SERIAL_BELOW:
        return 1
    return max(1, min(thread_count(threads), n // (STATS_SERIAL_BELOW // 2)))


def scan(
    loops: Loops,
    y: np.ndarray,
    p: np.ndarray,
    w: np.ndarray | None,
    *,
    logits: bool,
    eps: float,
    threads: int | None = None,
) -> ScanCounts:
    """Count the rows that are excluded, clipped or invalid (see :class:`ScanCounts`)."""
    has_w = w is not None
    ww = w if w is not None else p  # same dtype and length: one signature per dtype
    n = y.shape[0]
    nt = split_threads(n, threads)
    parts = np.zeros((nt, len(ScanSlot)), dtype=np.int64)
    run_threads(
        nt,
        lambda t: loops.count_range(
            y, p, ww, has_w, logits, eps, t * n // nt, (t + 1) * n // nt, parts[t]
        ),
    )
    out = parts[0] if nt == 1 else parts.sum(axis=0)
    out[ScanSlot.FIRST_BAD_PROB] = out[ScanSlot.FIRST_BAD_WEIGHT] = -1
    if out[ScanSlot.BAD_PROB] or out[ScanSlot.BAD_WEIGHT]:
        loops.first_bad(y, p, ww, has_w, logits, out)
    return ScanCounts.from_array(out)


def accumulate(
    loops: Loops,
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
    threads: int | None = None,
    clean_only: bool = False,
) -> bool:
    """Add the rows to the state arrays in place (rows already validated by :func:`scan`).

    ``clean_only``: rows not validated yet; add them only if the validation pass would
    count nothing in them (see ``accum_range``), so that the pass can be skipped, and
    return whether they were added (if not, the state is as it was).  A call for which
    this cannot hold (weights, clipping, too few or too many rows per thread) returns
    False at once, and so does the next one of this thread after a call that found a
    block the pass would count: such data often has more of them.
    """
    has_w = w is not None
    # without weights the kernel is given p in their place (same dtype and length: one
    # compiled signature per dtype, and branch-free loops may read it; it is never used)
    ww = w if w is not None else p
    n = y.shape[0]
    nt = split_threads(n, threads)
    if clean_only and not _clean_may_hold(n, nt, has_w, eps):
        return False
    head = (y, p, ww, has_w, logits, eps, cut_val, cut_off)
    bins = hist_n.shape[0]
    if nt == 1:
        added = loops.accum_range(*head, 0, n, hist, hist_n, hi, lo, mm, _counts(bins), clean_only)
        return _note_clean(bool(added)) if clean_only else True
    t_hist = np.zeros((nt, *hist.shape))
    t_hist_n = np.zeros((nt, *hist_n.shape), dtype=np.int64)
    t_hi = np.zeros((nt, hi.shape[0]))
    t_lo = np.zeros((nt, hi.shape[0]))
    t_mm = np.empty((nt, 2))
    t_mm[:, 0], t_mm[:, 1] = np.inf, -np.inf
    added = np.zeros(nt, dtype=bool)

    def part(t: int) -> None:
        lo_t, hi_t = t * n // nt, (t + 1) * n // nt
        state = (t_hist[t], t_hist_n[t], t_hi[t], t_lo[t], t_mm[t], _counts(bins))
        added[t] = loops.accum_range(*head, lo_t, hi_t, *state, clean_only)

    run_threads(nt, part)
    if clean_only and not _note_clean(bool(added.all())):
        return False  # only the partial states were written
    loops.into(hist, hist_n, hi, lo, mm, t_hist, t_hist_n, t_hi, t_lo, t_mm)
    return True


def _clean_may_hold(n: int, nt: int, has_w: bool, eps: float) -> bool:
    """Whether ``accum_range`` may add ``n`` rows in ``nt`` parts with ``clean_only``, and
    whether this thread tries it now: after ``k`` calls in a row whose rows needed
    counting, the next ``2**k - 1`` calls (at most 63) are validated first, so that data
    with such rows in every batch pays for few attempts."""
    if has_w or eps > 0 or n // nt < COUNTS_FROM or -(-n // nt) >= FOLD_EVERY:
        return False
    skip = getattr(_SCRATCH, "skip_clean", 0)
    if skip > 0:
        _SCRATCH.skip_clean = skip - 1
        return False
    return True


def _note_clean(added: bool) -> bool:
    fails = 0 if added else min(getattr(_SCRATCH, "clean_fails", 0) + 1, _MAX_FAILS)
    _SCRATCH.clean_fails = fails
    _SCRATCH.skip_clean = (1 << fails) - 1
    return added


def _counts(bins: int) -> np.ndarray:
    """This thread's scratch of packed bin counts for ``accum_range``: zeros, which the
    kernel leaves at zero (see :mod:`bcelab.kernels.stats_scatter`).  One per thread, kept
    for the next call: a fresh array would cost its page faults at every call."""
    counts: np.ndarray | None = getattr(_SCRATCH, "counts", None)
    if counts is None or counts.shape[0] != bins:
        counts = _SCRATCH.counts = np.zeros((bins, 2))
    return counts
