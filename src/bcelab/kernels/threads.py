"""The one thread pool of the compiled kernels, recreated after ``fork()``, and its size.

Both kernels (the loss and the metric state) release the GIL, so plain Python threads
run them in parallel.  They share this process-wide pool.

How many threads: ``threads=None`` means :func:`bcelab._core.config.default_threads`,
read at each call (``BCELAB_THREADS``, else every core this process may run on); an
integer means that many.  Each kernel then uses fewer for small inputs (the loss kernel
below 2**18 elements, the metric kernel below 2**16 rows: one thread is faster there).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from .._core.config import default_threads

__all__ = ["run_threads", "thread_count"]


class _Shared:
    """The pool of this process (``pid``) and its number of workers."""

    pool: ThreadPoolExecutor | None = None
    pid = -1
    size = 0


def thread_count(threads: int | None) -> int:
    """The threads a large call uses: ``threads``, or the default when it is None."""
    return default_threads() if threads is None else threads


def _pool(size: int) -> ThreadPoolExecutor:
    """The pool, with at least ``size`` workers; a new one in a new process (a pool
    inherited through ``fork()`` has no threads and would never run anything)."""
    pid = os.getpid()
    if _Shared.pool is None or _Shared.pid != pid or _Shared.size < size:
        # a pool that is replaced is not shut down (another thread may be submitting to
        # it); its idle threads end when it is garbage-collected
        _Shared.size = max(size, default_threads())
        _Shared.pool = ThreadPoolExecutor(_Shared.size, thread_name_prefix="bcelab-kernel")
        _Shared.pid = pid
    return _Shared.pool


def run_threads(nt: int, fn: Callable[[int], None]) -> None:
    """Run ``fn(0) ... fn(nt - 1)`` at once: ``fn(0)`` on this thread, the rest in the pool."""
    if nt <= 1:
        fn(0)
        return
    pool = _pool(nt - 1)
    futures = [pool.submit(fn, t) for t in range(1, nt)]
    try:
        fn(0)
    finally:
        for f in futures:
            f.result()
