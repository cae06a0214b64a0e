"""``bcelab warmup``: compile bcelab's kernels once for this machine, ahead of the first run.

The metric kernels (``bcelab eval``, ``bcelab.evaluate``, ``bcelab.metrics``), the
fused loss kernels (``bcelab.bce`` and its relatives on NumPy arrays) and the paired
bootstrap kernels (``bcelab compare``) are compiled the first time they run on a
machine and loaded from a cache in milliseconds afterwards.  The metric and paired
kernels are compiled together into one extension module (up to a minute, alongside the
fused loss kernels; the paired step then finds them ready), or each with numba's JIT
where that cannot be built.
``make install`` runs this command, so that no later run pays for it.
:class:`CompileNotice` is the one line ``bcelab eval`` and ``bcelab compare`` print
when they compile.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["CompileNotice", "Config", "add_arguments", "config_from_args", "execute"]


class CompileNotice:
    """Called (from a timer thread) when compiling takes a while: starts one line on
    stderr; :meth:`finish` ends it with the time it took."""

    def __init__(self, command: str, *, not_counted_in: str = "the rows/s") -> None:
        self.command = command
        self.not_counted_in = not_counted_in
        self._lock = threading.Lock()
        self._shown = False

    def __call__(self) -> None:
        # the message's own home (the library logs the same words for Python users)
        from ..evaluation.warmup import NOTICE

        with self._lock:
            sys.stderr.write(f"{self.command}: {NOTICE} ...")
            sys.stderr.flush()
            self._shown = True

    def finish(self, seconds: float) -> None:
        with self._lock:
            if self._shown:
                sys.stderr.write(
                    f" done in {seconds:.1f} s (not counted in {self.not_counted_in})\n"
                )
                sys.stderr.flush()


@dataclass(frozen=True)
class Config:
    pass


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Compile (or load) the metric kernels, the fused loss kernels and the paired "
        "bootstrap kernels once for this machine, so that the first `bcelab eval`, "
        "`bcelab compare` or `bcelab.bce` call does not wait for it. `make install` runs it."
    )


def config_from_args(ns: argparse.Namespace) -> Config:
    return Config()


def _fused_calls() -> None:
    """The public loss functions on small NumPy arrays: each compiles its kernels."""
    import bcelab

    # warmup announces each step itself: the loss kernels' own first-call notice would
    # break its line
    logger = logging.getLogger("bcelab")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        _loss_calls(bcelab)
    finally:
        logger.setLevel(level)


def _loss_calls(bcelab: Any) -> None:
    """The kinds of call users make most: reduced ("mean") and per-element losses and
    gradients, probabilities and logits, 0/1 and soft targets, with and without weights,
    in both dtypes (each a kernel of its own; pos_weight and label smoothing are values
    inside them)."""
    for dtype in (np.float32, np.float64):
        p = np.array([0.25, 0.75], dtype=dtype)
        w = np.array([1.0, 2.0], dtype=dtype)
        for y in (np.array([0.0, 1.0], dtype=dtype), np.array([0.2, 0.9], dtype=dtype)):
            for weights in (None, w):
                for fn in (bcelab.bce, bcelab.bce_with_logits):
                    fn(p, y, weights=weights, reduction="mean")
                    fn(p, y, weights=weights, reduction="none")
                bcelab.bce_grad(p, y, weights=weights)
                bcelab.bce_with_logits_grad(p, y, weights=weights)
            bcelab.decompose(p, y)


def _timed(what: str, fn: Callable[[], object]) -> None:
    print(f"{what} ...", end="", flush=True)
    print(f" ready in {_seconds(fn):.1f} s", flush=True)


def _seconds(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # ValueError: a module entry set to None
        return False


def execute(cfg: Config) -> int:
    if not _installed("numba"):
        print(
            "numba is not installed, so there is nothing to compile: bcelab uses its NumPy "
            "code (pip install 'bcelab[fast]' for the compiled kernels)"
        )
        return 0
    # here, not at the top: the other commands' start-up need none of this
    from ..evaluation.warmup import compile_metric_kernels, compile_paired_kernels
    from ..kernels import aot

    t0 = time.perf_counter()
    # The metric kernels' module is built by a child process (or numba's JIT compiles
    # them here, under numba's lock, where it cannot be built): on a second core that
    # runs while this process compiles the fused loss kernels.
    with ThreadPoolExecutor(1, thread_name_prefix="bcelab-warmup") as pool:
        metric = pool.submit(_seconds, lambda: compile_metric_kernels(notice=None))
        _timed("fused loss kernels (bcelab.bce and its relatives on NumPy arrays)", _fused_calls)
        print("metric kernels (bcelab eval, bcelab.evaluate, bcelab.metrics) ...", end="")
        print(f" ready in {metric.result():.1f} s (alongside the fused loss kernels)", flush=True)
    paired = "paired bootstrap kernels (bcelab compare, bcelab.evaluation.compare)"
    if aot.module() is not None:  # built above, with the metric kernels
        paired += ", in the metric kernels' precompiled module"
    _timed(paired, lambda: compile_paired_kernels(notice=None))
    print(
        f"done in {time.perf_counter() - t0:.1f} s; later runs load the compiled kernels "
        "from the cache in milliseconds"
    )
    return 0
