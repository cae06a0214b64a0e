"""The local engine: units run on a small pool of threads, merged in a fixed order.

Each thread reads one unit at a time and returns the unit's fixed-size states.  The
calling thread merges them with :class:`~bcelab.evaluation.merge_tree.OrderedReducer` (the
same tree as the Dask engine), so the result does not depend on which thread finished
first; states whose merges are exact (integer sums) are merged as they arrive
(:class:`~bcelab.evaluation.merge_tree.RunningReducer`), which gives the same bits.  At most
``threads + 1`` units are in flight, so memory stays constant whatever the number of
units.  Reading (pyarrow) and the metric kernel (numba, ``nogil``) release
the GIL, so the threads run in parallel.  When no unit is left to start, a free thread
decodes the last row groups of the running unit with the most left
(:mod:`~bcelab.evaluation.unit_share`), so the run's last units end sooner; each unit's
batches still reach its kernel in order, and the result keeps its bits.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from ..errors import DataError
from .reader import Unit, unit_share
from .tasks import Plan, UnitResult, reducer, run_unit_objects
from .unit_share import UnitShare

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
    most = default_threads() if threads is None else threads
    n = min(most, len(units))
    if n == 1 and most > 1 and unit_share(units[0], plan.columns, plan.batch_rows) is not None:
        n = 2  # one unit of several row groups: a second thread reads its end ahead
    if n <= 1:
        return run_serial(units, plan, total, progress)
    red = reducer(plan)
    done = 0
    todo = list(reversed(units))
    running: dict[Future[UnitResult], Unit] = {}
    shares: dict[Future[UnitResult], UnitShare] = {}
    helpers: set[Future[int]] = set()
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="bcelab-eval") as ex:
        try:
            while todo or running:
                while todo and len(running) < n + 1:
                    u = todo.pop()
                    share = unit_share(u, plan.columns, plan.batch_rows)
                    f = ex.submit(run_unit_objects, u, plan, share)
                    running[f] = u
                    if share is not None:
                        shares[f] = share
                if not todo:
                    _add_helpers(ex, n - len(running) - len(helpers), shares, helpers)
                pending: set[Future[Any]] = {*running, *helpers}
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                helpers -= finished
                for f in sorted(finished & running.keys(), key=lambda f: running[f].index):
                    u = running.pop(f)
                    shares.pop(f, None)
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


def _add_helpers(
    ex: ThreadPoolExecutor,
    free: int,
    shares: dict[Future[UnitResult], UnitShare],
    helpers: set[Future[int]],
) -> None:
    """Give each free thread the running unit with the most row groups nobody started."""
    for _ in range(free):
        best = max(shares.values(), key=lambda s: s.open_groups(), default=None)
        if best is None or best.open_groups() == 0:
            return
        helpers.add(ex.submit(best.help))
