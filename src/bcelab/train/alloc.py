"""Process-level resources for training: the allocator's thresholds and the helper thread.

Keep medium-sized temporaries in the heap instead of mapping them afresh each time.

glibc serves allocations above ``M_MMAP_THRESHOLD`` (128 KiB at start) with a fresh
``mmap`` and returns them with ``munmap``, so every temporary of a few hundred KiB is
page-faulted in again on every tensor operation.  With 100 seeds the per-epoch
evaluation and metrics work on such temporaries, and that made them 2-7 times slower
(measured in bench/results/train.md).  :func:`tune` raises the mmap threshold to
256 MiB and the trim threshold to 512 MiB once per process (glibc only; set
``BCELAB_NO_MALLOPT=1`` to leave the allocator alone).  Memory that was freed stays
reserved by the process for reuse instead of going back to the system at once.
"""

from __future__ import annotations

import ctypes
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .._core import config

__all__ = ["helper_pool", "on_helper", "spare_core", "tune"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done = False


def tune() -> bool:
    """Apply the thresholds once; True when glibc accepted them."""
    global _done
    if _done:
        return True
    _done = True
    if not sys.platform.startswith("linux") or not config.mallopt_enabled():
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, 256 << 20) == 1
        ok = libc.mallopt(_M_TRIM_THRESHOLD, 512 << 20) == 1 and ok
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to tune
        return False
    return ok


_POOL: list[Any] = []


def spare_core() -> bool:
    """Whether this process may run on more than one core, so that work handed to the
    helper thread overlaps the training thread's.  On one core (e.g. ``taskset -c 0``)
    it would only add thread switches: the callers then do that work inline."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) > 1
    return (os.cpu_count() or 1) > 1


def helper_pool() -> Any:
    """One shared helper thread (created on first use): shuffles and epoch evaluations.
    Submit work through :func:`on_helper`."""
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(1, thread_name_prefix="bcelab-shuffle"))
    return _POOL[0]


def on_helper(fn: Any, *args: Any) -> Any:
    """``fn(*args)`` on the helper thread, with the caller's number of torch threads.

    OpenMP keeps the thread count per thread, and a new thread starts with the default
    (every core), whatever ``torch.set_num_threads`` said on the training thread.  The
    helper's larger operations then ran on both cores, took the training thread's
    core and spun after each parallel region: the 100-seed training loop ran 25-50%
    slower while the helper worked (bench/results/train.md).
    """
    import torch  # optional dependency (bcelab[train])

    return helper_pool().submit(_with_threads, torch.get_num_threads(), fn, *args)


def _with_threads(n: int, fn: Any, *args: Any) -> Any:
    import torch  # optional dependency (bcelab[train])

    torch.set_num_threads(n)  # this thread's OpenMP count (about 0.1 us)
    return fn(*args)
