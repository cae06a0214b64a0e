"""The local engine: units run on a small pool of threads, merged in a fixed order.

Each thread reads one unit at a time and returns the unit's fixed-size states.  The
calling thread merges them with :class:`~bcelab.evaluation.tasks.OrderedReducer` (the
same tree as the Dask engine), so the result does not depend on which thread finished
first; states whose merges are exact (integer sums) are merged as they arrive
(:class:`~bcelab.evaluation.tasks.RunningReducer`), which gives the same bits.  At most
``threads + 1`` units are in flight, so memory stays constant whatever the number of
units.  Reading (pyarrow) and the metric kernel (numba, ``nogil``) release
the GIL, so the threads run in parallel.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from ..errors import DataError
from .reader import Unit
from .tasks import Plan, UnitResult, reducer, run_unit_objects

__all__ = [
    "ProgressFn",
    "check_rows",
    "default_threads",
    "run_local",
    "run_serial",
    "total_rows",
]

ProgressFn = Callable[[int, int | None], None]  # (rows done, rows in total or None)


def default_threads() -> int:
    """Every core this process may use, at most 8."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(8, n or 1))


def total_rows(units: list[Unit]) -> int | None:
    """The rows of all units when every unit knows its rows (Parquet), else None (CSV)."""
    return None if any(u.rows is None for u in units) else sum(u.rows or 0 for u in units)


def check_rows(units: list[Unit], res: UnitResult) -> None:
    """Every Parquet row is counted exactly once: the merged rows equal the footers' total."""
    expected = total_rows(units)
    if expected is not None and res.rows != expected:  # pragma: no cover - an engine bug
        raise DataError(
            f"{expected} rows (the Parquet footers' total)",
            f"the engine counted {res.rows}",
            "please report this bug; the local engine with one thread is the reference",
        )


def run_serial(
    units: Iterable[Unit], plan: Plan, total: int | None, progress: ProgressFn | None
) -> UnitResult:
    """Run the units one after the other in this thread (also a stream's units, which
    are read as they come)."""
    red = reducer(plan)
    done = 0
    for u in units:
        res = run_unit_objects(u, plan)
        done += res.rows
        red.add(u.index, res)
        if progress is not None:
            progress(done, total)
    if red.empty():  # a stream without rows
        return UnitResult(0)
    out: UnitResult = red.result()
    return out


def run_local(
    units: list[Unit],
    plan: Plan,
    *,
    threads: int | None = None,
    progress: ProgressFn | None = None,
) -> UnitResult:
    """Run every unit and merge the states in unit order; ``threads=1`` stays in this thread.

    ``threads`` was checked by :func:`bcelab.evaluate`; None means :func:`default_threads`.
    """
    if not units:
        raise DataError("at least one file with rows", "received none", "check the paths")
    total = total_rows(units)
    n = min(default_threads() if threads is None else threads, len(units))
    if n <= 1:
        return run_serial(units, plan, total, progress)
    red = reducer(plan)
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
            for f in running:
                f.cancel()
            raise
    out: UnitResult = red.result()
    return out
