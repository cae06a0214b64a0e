"""The local engine: units run on a small pool of worker threads, merged in a fixed order.

Each worker thread reads one unit at a time and returns the unit's fixed-size states.
The calling thread merges them with :class:`~bcelab.evaluation.tasks.OrderedReducer` (the same tree as the Dask engine), so
the result does not depend on which worker finished first.  At most ``workers + 1``
units are in flight, so memory stays constant whatever the number of units.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ThreadPoolExecutor,
    wait,
)

from ..errors import DataError, OptionError
from .reader import Unit
from .tasks import (
    OrderedReducer,
    Plan,
    UnitResult,
    merge_objects,
    run_unit_objects,
)

__all__ = ["ProgressFn", "check_rows", "default_workers", "run_local"]

ProgressFn = Callable[[int, int | None], None]  # (rows done, rows in total or None)


def default_workers() -> int:
    """Both cores of a two-core machine; at most 8 by default."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(8, n or 1))


def check_rows(units: list[Unit], res: UnitResult) -> None:
    """Every Parquet row is counted exactly once: the merged rows equal the footers' total."""
    if all(u.rows is not None for u in units):
        expected = sum(u.rows or 0 for u in units)
        if res.rows != expected:  # pragma: no cover - would be an engine bug
            raise DataError(
                f"{expected} rows (the Parquet footers' total)",
                f"the engine counted {res.rows}",
                "please report this bug; re-run with --engine local",
            )


def _total(units: list[Unit]) -> int | None:
    return None if any(u.rows is None for u in units) else sum(u.rows or 0 for u in units)


def _serial(units: list[Unit], plan: Plan, progress: ProgressFn | None) -> UnitResult:
    red = OrderedReducer(merge_objects)
    total, done = _total(units), 0
    for u in units:
        res = run_unit_objects(u, plan)
        done += res.rows
        red.add(u.index, res)
        if progress is not None:
            progress(done, total)
    out: UnitResult = red.result()
    return out


def run_local(
    units: list[Unit],
    plan: Plan,
    *,
    workers: int | None = None,
    progress: ProgressFn | None = None,
    executor: str = "thread",
) -> UnitResult:
    """Run every unit and merge the states in unit order; ``workers=1`` stays in one thread.

    ``executor="thread"`` (default) runs units on threads: reading (pyarrow) and the
    metric kernel (numba, ``nogil``) release the GIL.  ``"process"`` uses worker
    processes instead (for a metric state without a compiled kernel).
    """
    if not units:
        raise DataError("at least one file with rows", "received none", "check the paths")
    if workers is not None and workers < 1:
        raise OptionError("workers must be >= 1", f"received {workers}", "pass e.g. workers=2")
    if executor not in ("thread", "process"):
        raise OptionError(
            "executor 'thread' or 'process'", f"received {executor!r}", "use executor='thread'"
        )
    total = _total(units)
    n = min(default_workers() if workers is None else workers, len(units))
    if n <= 1:
        return _serial(units, plan, progress)
    red = OrderedReducer(merge_objects)
    done = 0
    todo = list(reversed(units))
    running: dict[Future[UnitResult], Unit] = {}
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="bcelab-eval") as ex:
        try:
            while todo or running:
                while todo and len(running) < n + 1:
                    u = todo.pop()
                    running[ex.submit(run_unit_objects, u, plan)] = u
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for f in sorted(finished, key=lambda f: running[f].index):
                    u = running.pop(f)
                    res = f.result()
                    done += res.rows
                    red.add(u.index, res)
                    if progress is not None:
                        progress(done, total)
        except BaseException:
            _cancel(running)
            raise
    out: UnitResult = red.result()
    return out


def _cancel(running: dict[Future[UnitResult], Unit]) -> None:
    for f in running:
        f.cancel()
