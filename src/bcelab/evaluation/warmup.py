"""Make the metric kernels ready before any row is timed.

The first evaluation on a machine compiles the metric loops and the paired bootstrap
kernels of ``compare`` (ahead of time into one small extension module, or with numba's
JIT where that cannot be built): up to a minute, once; later processes load them in
milliseconds.  :func:`compile_metric_kernels` does that before the clock starts (it
loads or builds the precompiled module, or runs the JIT loops once on a few rows), so
that a rows-per-second figure never includes it, and says so once when it takes long.
:func:`compile_paired_kernels` does the same for ``compare`` (at once where the metric
loops are ready: the module holds both).  ``bcelab warmup`` (run by ``make install``)
does it ahead.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from .._core.slow import notify_if_slow
from ..kernels import aot
from ..metrics import BinaryStats

__all__ = [
    "NOTICE",
    "NOTICE_AFTER_S",
    "compile_metric_kernels",
    "compile_paired_kernels",
    "log_notice",
]

NOTICE_AFTER_S = 1.0
NOTICE = (
    "compiling the metric kernels once for this machine (up to a minute; later runs load "
    "them at once; `bcelab warmup` does this ahead of time)"
)
_LOG = logging.getLogger("bcelab")
_READY = threading.Event()
_PAIRED_READY = threading.Event()


def log_notice() -> None:
    """The Python API's one line (a ``logging`` warning of the ``bcelab`` logger)."""
    _LOG.warning("bcelab: %s", NOTICE)


def _warm(
    ready: threading.Event,
    calls: Callable[[], None],
    notice: Callable[[], None] | None,
    notice_after: float,
) -> float:
    """Run ``calls`` once per process (``ready``), with the notice if slow; the seconds."""
    if ready.is_set():
        return 0.0
    t0 = time.perf_counter()
    with notify_if_slow(notice_after, notice):
        calls()
    ready.set()
    return time.perf_counter() - t0


def _metric_calls() -> None:
    # The precompiled loops (built here on a machine's first run) are ready once
    # loaded; numba's JIT loops compile on their first call, so those are called once
    # per dtype and variant.
    if aot.loops() is not None:
        return
    for dtype in (np.float32, np.float64):
        p = np.array([0.25, 0.75], dtype=dtype)
        y = np.array([0.0, 1.0], dtype=dtype)
        BinaryStats().update(p, y).compute()
        BinaryStats().update(p, y, weights=np.ones(2, dtype=dtype), logits=True).compute()


def _paired_calls() -> None:
    # start-up time: the paired bootstrap loads only when a comparison needs it
    from ..metrics import PairedBootstrapStats

    for dtype in (np.float32, np.float64):
        p = np.array([0.25, 0.75], dtype=dtype)
        y = np.array([0.0, 1.0], dtype=dtype)
        PairedBootstrapStats(replicates=2, threads=1).update(p, p, y, ids=np.arange(2))


def compile_metric_kernels(
    *, notice: Callable[[], None] | None = log_notice, notice_after: float = NOTICE_AFTER_S
) -> float:
    """Compile or load the metric kernels for float32 and float64; the seconds it took.

    ``notice`` is called once, from a timer thread, if this takes longer than
    ``notice_after`` seconds (that is, when it compiles).  In a process where the
    kernels are ready already it returns 0.0 at once.
    """
    return _warm(_READY, _metric_calls, notice, notice_after)


def compile_paired_kernels(
    *, notice: Callable[[], None] | None = log_notice, notice_after: float = NOTICE_AFTER_S
) -> float:
    """The same for the paired bootstrap kernels of :func:`bcelab.evaluation.compare`
    (the precompiled module of :mod:`bcelab.kernels.aot`, built with the metric loops,
    else numba's JIT, cached on disk after the first compile); the seconds it took."""
    return _warm(_PAIRED_READY, _paired_calls, notice, notice_after)
