"""bcelab's environment variables, read in this one place.

=========================  ==========================================================
variable                   effect
=========================  ==========================================================
``BCELAB_FUSED=0``         the public losses never hand a call to the compiled kernels
``BCELAB_THREADS=N``       threads of the compiled kernels (default: the cores this
                           process may run on)
``BCELAB_AOT=0``           no ahead-of-time compiled metric loops (the JIT is used)
``BCELAB_CACHE_DIR=DIR``   where the ahead-of-time compiled loops are kept
``BCELAB_NO_MALLOPT=1``    the trainer leaves glibc's malloc settings alone
``BCELAB_NO_PLOT_WORKER``  the trainer draws figures in its own process, not a fork
=========================  ==========================================================

Each function reads the environment when called, so a test (or a user) can change a
variable at run time.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "aot_enabled",
    "cache_dir",
    "default_threads",
    "fused_enabled",
    "mallopt_enabled",
    "plot_worker_enabled",
]

_OFF = ("0", "off", "false", "no")


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    return raw not in _OFF


def fused_enabled() -> bool:
    return _flag("BCELAB_FUSED", True)


def aot_enabled() -> bool:
    return _flag("BCELAB_AOT", True)


def mallopt_enabled() -> bool:
    return not os.environ.get("BCELAB_NO_MALLOPT")


def plot_worker_enabled() -> bool:
    return not os.environ.get("BCELAB_NO_PLOT_WORKER")


def cache_dir() -> Path | None:
    """``BCELAB_CACHE_DIR`` if set, else None (the caller picks its default)."""
    env = os.environ.get("BCELAB_CACHE_DIR")
    return Path(env) if env else None


def default_threads() -> int:
    """``BCELAB_THREADS`` if set to a positive integer, else the cores this process may use."""
    env = os.environ.get("BCELAB_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)
