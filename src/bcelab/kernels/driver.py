"""Runs a fused kernel over fixed chunks, on one thread or on all cores, deterministically.

The input is split into chunks of :data:`CHUNK` elements; each chunk's float64 sums
land in their own row of a small ``(n_chunks, SLOTS)`` array (``N / 65536`` rows:
15 KB per 1e8 elements), and the rows are added in chunk order.  The result is thus
the same for any number of threads.  Threads are plain Python threads running the
``nogil`` kernels, each taking the next piece of a few chunks until none are left.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .dispatch import SLOTS, WRITE_NONE
from .fused import _KERNELS, get_kernel

__all__ = ["CHUNK", "PARALLEL_MIN", "default_threads", "run"]

CHUNK = 1 << 16
#: Below this many elements one thread is faster (thread hand-off costs ~20-40 us);
#: chosen from ``bench/bench_kernel.py --cutover`` (see ``bench/results/kernel.md``).
PARALLEL_MIN = 1 << 18
#: Chunks per piece of work handed to a thread (16 chunks = 1M elements, ~1-3 ms).
PIECE_CHUNKS = 16
_POOL: ThreadPoolExecutor | None = None
_DUMMY = np.zeros(1, dtype=np.float64)


def default_threads() -> int:
    """The cores this process may run on (``BCELAB_THREADS`` overrides); read at import."""
    env = os.environ.get("BCELAB_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


_THREADS = default_threads()


def _pool(n: int) -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None or _POOL._max_workers < n:
        _POOL = ThreadPoolExecutor(max_workers=n, thread_name_prefix="bcelab-kernel")
    return _POOL


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
) -> np.ndarray:
    """Run one pass; return the float64 totals ``[sum w*loss, sum w, sum w*H, sum w*KL, invalid]``.

    All arrays must be 1-D, C-contiguous and of ``pred``'s dtype (float32 or float64).
    Inputs below ``min_parallel`` elements run on the calling thread only.
    """
    kernel: Any = _KERNELS.get(
        (logits, pred.dtype.itemsize == 4, weights is not None, decomp, write)
    )
    if kernel is None:
        kernel = get_kernel(
            logits=logits,
            fast=pred.dtype.itemsize == 4,
            weighted=weights is not None,
            decomp=decomp,
            write=write,
        )
    n = pred.size
    ls = float(label_smoothing)
    w_arr = _DUMMY if weights is None else weights
    o_arr = _DUMMY if write == WRITE_NONE or out is None else out
    pw, keep, half, smooth, dn = float(pos_weight), 1.0 - ls, 0.5 * ls, ls != 0.0, float(den)
    if n <= CHUNK:  # the common small call: one chunk, this thread, least Python
        part = np.empty((1, SLOTS), dtype=np.float64)
        kernel(pred, targets, w_arr, o_arr, part, 0, 1, CHUNK, pw, keep, half, smooth, dn)
        return part[0]
    n_chunks = -(-n // CHUNK)
    part = np.empty((n_chunks, SLOTS), dtype=np.float64)
    args: tuple[Any, ...] = (pred, targets, w_arr, o_arr, part)
    tail: tuple[Any, ...] = (CHUNK, pw, keep, half, smooth, dn)
    if n < min_parallel:
        kernel(*args, 0, n_chunks, *tail)
        return part.sum(axis=0)
    nt = min(_THREADS if threads is None else max(1, int(threads)), n_chunks)
    if nt == 1:
        kernel(*args, 0, n_chunks, *tail)
    else:
        # Threads take pieces of a few chunks from a shared counter until none are left, so a
        # core slowed by another process does less of the work instead of holding up the
        # result (a static split waits for the slowest half).  Each chunk still writes its
        # own row, so the result does not depend on which thread ran it.
        piece = max(1, min(PIECE_CHUNKS, n_chunks // (4 * nt)))
        counter = itertools.count()

        def work() -> None:
            while True:
                c0 = next(counter) * piece  # atomic under the GIL
                if c0 >= n_chunks:
                    return
                kernel(*args, c0, min(c0 + piece, n_chunks), *tail)

        futs = [_pool(nt).submit(work) for _ in range(1, nt)]
        work()  # this thread works too
        for f in futs:
            f.result()
    return part.sum(axis=0)


def warm(dtypes: Any = (np.float32, np.float64)) -> None:
    """Compile (or load from numba's cache) the plain forward kernels for ``dtypes``."""
    for dt in dtypes:
        x = np.zeros(1, dtype=dt)
        for lg in (True, False):
            run(
                x,
                x,
                None,
                None,
                logits=lg,
                decomp=False,
                write=WRITE_NONE,
                pos_weight=1.0,
                label_smoothing=0.0,
                den=1.0,
            )
