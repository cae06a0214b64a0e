"""The threads of the update kernel: a process-wide pool, recreated after ``fork()``."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["run", "threads"]

_SERIAL_BELOW = 1 << 16
_POOL: ThreadPoolExecutor | None = None
_POOL_PID = -1


def threads(n: int, n_threads: int) -> int:
    """Threads for n rows: 1 below 65536 rows, else up to ``n_threads``.

    ``n_threads=0`` means ``numba.get_num_threads()``: every core by default, and it
    follows ``NUMBA_NUM_THREADS`` and ``numba.set_num_threads`` (which is thread-local).
    Where the rows are split changes the last bits of the sums (not the counts or bins).
    """
    if n < _SERIAL_BELOW:
        return 1
    cap = n_threads if n_threads > 0 else _numba_threads()
    return max(1, min(cap, n // (_SERIAL_BELOW // 2)))


def _numba_threads() -> int:
    """``numba.get_num_threads()`` without importing numba when it is not loaded yet.

    Until numba is imported nobody can have called ``numba.set_num_threads``, so the
    answer is numba's default: ``NUMBA_NUM_THREADS``, else the CPUs this process may use.
    """
    nb = sys.modules.get("numba")
    if nb is not None and hasattr(nb, "get_num_threads"):
        return int(nb.get_num_threads())
    env = os.environ.get("NUMBA_NUM_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def run(nt: int, fn: Any) -> None:
    """Run ``fn(0) ... fn(nt - 1)``; the kernels release the GIL, so threads run in parallel."""
    global _POOL, _POOL_PID
    if nt == 1:
        fn(0)
        return
    # a pool inherited through fork() has no threads: make a new one in a new process
    if _POOL is None or _POOL_PID != os.getpid() or _POOL._max_workers < nt:
        _POOL = ThreadPoolExecutor(
            max_workers=max(nt, os.cpu_count() or 1), thread_name_prefix="bcelab-metrics"
        )
        _POOL_PID = os.getpid()
    for f in [_POOL.submit(fn, t) for t in range(nt)]:
        f.result()
