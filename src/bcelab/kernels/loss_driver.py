"""Runs a loss kernel over fixed chunks, on one thread or on several, deterministically.

The input is split into chunks of :data:`~bcelab.kernels.constants.CHUNK` elements;
each chunk's float64 sums land in their own row of a small ``(n_chunks, len(LossSlot))``
array (``N / 65536`` rows: 15 KB per 1e8 elements), and the rows are added in chunk
order.  The result is thus the same for any number of threads.  The threads are those
of :mod:`bcelab.kernels.threads`, running the ``nogil`` kernels, each taking the next
piece of a few chunks until none are left.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, NamedTuple

import numpy as np

from .constants import CHUNK, PARALLEL_MIN, PIECE_CHUNKS, LossSlot, Write
from .loss import KERNELS, get_kernel
from .threads import run_threads, thread_count

__all__ = ["LossTotals", "run"]

_SLOTS = len(LossSlot)
_DUMMY = np.zeros(1, dtype=np.float64)
_ONE_CHUNK = threading.local()  # .part: each thread's row of sums for one-chunk calls


class LossTotals(NamedTuple):
    """The float64 totals of one pass (the :class:`LossSlot` sums, by name)."""

    loss: float  # sum of w * loss
    weight: float  # sum of w (the element count without weights)
    floor: float  # sum of w * H(y)
    excess: float  # sum of w * KL(y || p)
    invalid: float  # elements the reference path must handle


def run(
    pred: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray | None,
    out: np.ndarray | None,
    *,
    logits: bool,
    decomp: bool,
    write: int,
    pos_weight: float,
    label_smoothing: float,
    den: float,
    threads: int | None = None,
    min_parallel: int = PARALLEL_MIN,
) -> LossTotals:
    """Run one pass and return its totals.

    All arrays must be 1-D, C-contiguous and of ``pred``'s dtype (float32 or float64).
    ``write`` is a :class:`~bcelab.kernels.constants.Write`.  Inputs below
    ``min_parallel`` elements run on the calling thread only; larger ones on ``threads``
    threads (None: :func:`bcelab.kernels.threads.thread_count`).
    """
    fast = pred.dtype.itemsize == 4
    weighted = weights is not None
    kernel: Any = KERNELS.get((logits, fast, weighted, decomp, write))
    if kernel is None:
        kernel = get_kernel(logits=logits, fast=fast, weighted=weighted, decomp=decomp, write=write)
    n = pred.size
    ls = float(label_smoothing)
    w_arr = _DUMMY if weights is None else weights
    o_arr = _DUMMY if write == Write.NONE or out is None else out
    pw, keep, half, smooth, dn = float(pos_weight), 1.0 - ls, 0.5 * ls, ls != 0.0, float(den)
    if n <= CHUNK:  # the common small call: one chunk, this thread, least Python
        try:
            part = _ONE_CHUNK.part  # this thread's row: the totals are copied out below
        except AttributeError:
            part = _ONE_CHUNK.part = np.empty((1, _SLOTS), dtype=np.float64)
        kernel(pred, targets, w_arr, o_arr, part, 0, 1, CHUNK, pw, keep, half, smooth, dn)
        return LossTotals._make(part[0].tolist())
    n_chunks = -(-n // CHUNK)
    part = np.empty((n_chunks, _SLOTS), dtype=np.float64)
    args: tuple[Any, ...] = (pred, targets, w_arr, o_arr, part)
    tail: tuple[Any, ...] = (CHUNK, pw, keep, half, smooth, dn)
    nt = 1 if n < min_parallel else min(thread_count(threads), n_chunks)
    if nt == 1:
        kernel(*args, 0, n_chunks, *tail)
        return LossTotals._make(part.sum(axis=0).tolist())
    # Threads take pieces of a few chunks from a shared counter until none are left, so a
    # core slowed by another process does less of the work instead of holding up the
    # result (a static split waits for the slowest half).  Each chunk still writes its
    # own row, so the result does not depend on which thread ran it.
    piece = max(1, min(PIECE_CHUNKS, n_chunks // (4 * nt)))
    counter = itertools.count()

    def work(_thread: int) -> None:
        while True:
            c0 = next(counter) * piece  # atomic under the GIL
            if c0 >= n_chunks:
                return
            kernel(*args, c0, min(c0 + piece, n_chunks), *tail)

    run_threads(nt, work)
    return LossTotals._make(part.sum(axis=0).tolist())
