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
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np

from .._core.slow import notify_if_slow
from .constants import CHUNK, PARALLEL_MIN, PIECE_CHUNKS, LossSlot, Write
from .loss import KERNELS, get_kernel
from .threads import run_threads, thread_count

__all__ = ["COMPILE_NOTICE", "NOTICE_AFTER_S", "LossTotals", "compile_notice", "run"]

#: seconds a first kernel call may take before the one-time notice is logged
NOTICE_AFTER_S = 1.0
COMPILE_NOTICE = (
    "bcelab: compiling the fused loss kernel once for this machine (a few seconds per "
    "kind of call; later processes load it from the cache; `bcelab warmup` does this "
    "ahead of time)"
)
_LOG = logging.getLogger("bcelab")
_NOTICED = threading.Event()

_SLOTS = len(LossSlot)
_DUMMY = np.zeros(1, dtype=np.float64)
_ONE_ROW = np.zeros((1, _SLOTS), dtype=np.float64)  # the part of a call over no chunk
_ONE_CHUNK = threading.local()  # .part: each thread's row of sums for one-chunk calls


class _Alias:
    """The ``__array_interface__`` of a read-only array with its write flag set, and the
    array itself, kept alive as the alias's base."""

    def __init__(self, a: np.ndarray) -> None:
        self.source = a
        face = dict(a.__array_interface__)
        face["data"] = (face["data"][0], False)
        self.__array_interface__ = face


def _as_kernel_input(a: np.ndarray) -> np.ndarray:
    """``a``, or, when it is read-only (a read-only ``np.memmap``, a NumPy view of an Arrow
    column or of a JAX array), a writeable alias of its memory.  The kernels only read
    their inputs, and numba compiles a kernel once per argument type, read-only arrays
    being a type of their own: this way a read-only input runs the kernel that
    ``bcelab warmup`` compiled instead of compiling another (seconds per kind of call)."""
    return a if a.flags.writeable else np.asarray(_Alias(a))


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
    grad_scale: float = 1.0,
    threads: int | None = None,
    min_parallel: int = PARALLEL_MIN,
) -> LossTotals:
    """Run one pass and return its totals.

    All arrays must be 1-D, C-contiguous and of ``pred``'s dtype (float32 or float64).
    ``write`` is a :class:`~bcelab.kernels.constants.Write`; a written gradient is
    multiplied by ``grad_scale`` after its rounding (the bits of scaling it afterwards).
    Inputs below ``min_parallel`` elements run on the calling thread only; larger ones on
    ``threads`` threads (None: :func:`bcelab.kernels.threads.thread_count`).
    """
    if not (pred.flags.writeable and targets.flags.writeable):  # one test in the common case
        pred, targets = _as_kernel_input(pred), _as_kernel_input(targets)
    if weights is not None:
        weights = _as_kernel_input(weights)
    fast = pred.dtype.itemsize == 4
    weighted = weights is not None
    n = pred.size
    ls = float(label_smoothing)
    w_arr = _DUMMY if weights is None else weights
    o_arr = _DUMMY if write == Write.NONE or out is None else out
    pw, keep, half, smooth, dn = float(pos_weight), 1.0 - ls, 0.5 * ls, ls != 0.0, float(den)
    gs = float(grad_scale)
    kernel: Any = KERNELS.get((logits, fast, weighted, decomp, write))
    if kernel is None:  # first use in this process: compiled, or loaded from the cache
        kernel = get_kernel(logits=logits, fast=fast, weighted=weighted, decomp=decomp, write=write)
        # A call over no chunk compiles (or loads) this signature: the notice times that
        # alone, never the pass over a large input.
        with compile_notice():
            kernel(
                pred, targets, w_arr, o_arr, _ONE_ROW, 0, 0, CHUNK, pw, keep, half, smooth, dn, gs
            )
    if n <= CHUNK:  # the common small call: one chunk, this thread, least Python
        try:
            part = _ONE_CHUNK.part  # this thread's row: the totals are copied out below
        except AttributeError:
            part = _ONE_CHUNK.part = np.empty((1, _SLOTS), dtype=np.float64)
        kernel(pred, targets, w_arr, o_arr, part, 0, 1, CHUNK, pw, keep, half, smooth, dn, gs)
        return LossTotals._make(part[0].tolist())
    n_chunks = -(-n // CHUNK)
    part = np.empty((n_chunks, _SLOTS), dtype=np.float64)
    args: tuple[Any, ...] = (pred, targets, w_arr, o_arr, part)
    tail: tuple[Any, ...] = (CHUNK, pw, keep, half, smooth, dn, gs)
    nt = 1 if n < min_parallel else min(thread_count(threads), n_chunks)
    if nt == 1:
        kernel(*args, 0, n_chunks, *tail)
        return LossTotals._make(part.sum(axis=0).tolist())
    # Threads take pieces of a few chunks from a shared counter until none are left, so a
    # core slowed by another process does less of the work instead of holding up the
    # result (a static split waits for the slowest half).  The pieces shrink towards the
    # end (each about 1 / (2 nt) of what is left, at most PIECE_CHUNKS chunks), so the
    # threads finish together.  Each chunk still writes its own row, so the result does
    # not depend on which thread ran it.
    pieces = _pieces(n_chunks, nt)
    counter = itertools.count()

    def work(_thread: int) -> None:
        while True:
            i = next(counter)  # atomic under the GIL
            if i >= len(pieces):
                return
            kernel(*args, *pieces[i], *tail)

    run_threads(nt, work)
    return LossTotals._make(part.sum(axis=0).tolist())


def _pieces(n_chunks: int, nt: int) -> list[tuple[int, int]]:
    """``(c0, c1)`` chunk ranges: at most PIECE_CHUNKS chunks, shrinking to 1 at the end."""
    out = []
    c0 = 0
    while c0 < n_chunks:
        size = min(PIECE_CHUNKS, max(1, (n_chunks - c0) // (2 * nt)))
        out.append((c0, c0 + size))
        c0 += size
    return out


def _notice() -> None:
    if not _NOTICED.is_set():
        _NOTICED.set()
        _LOG.warning(COMPILE_NOTICE)


@contextmanager
def compile_notice(after: float = NOTICE_AFTER_S) -> Iterator[None]:
    """Log :data:`COMPILE_NOTICE` once per process if the block takes over ``after`` s.

    Wraps the first call of each kernel variant: loading a cached kernel takes
    milliseconds, compiling one several seconds, which a user should not wait through
    without a word.  The warning goes to the ``bcelab`` logger (shown by Python's
    default handler), from a timer thread, while the compilation runs.
    """
    with notify_if_slow(after, None if _NOTICED.is_set() else _notice):
        yield
