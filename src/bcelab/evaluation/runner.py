"""Where the passes over the data run: one engine, its checked options, one progress bar.

An evaluation reads its rows once; a recalibration reads them several times (a fit pass
per Newton step, then the recalibrated metrics).  :func:`open_runner` holds what those
passes share: on Dask one client for all of them (a new LocalCluster is started once,
not per pass), and one progress callable that counts the rows of every pass.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .columns import Columns
from .local_engine import ProgressFn, check_rows, run_local
from .reader import Unit, plan_units
from .tables import describe, table_units, to_arrow
from .tasks import Plan, UnitResult

__all__ = ["Runner", "open_runner", "source_units"]


@dataclass
class Runner:
    """Runs passes on ``engine`` (options checked by :func:`bcelab.evaluate`).

    ``progress`` receives the rows of all passes so far: a pass that starts after others
    reports ``(rows before + rows done, rows before + rows of this pass)``.
    """

    engine: str
    threads: int | None = None
    workers: int | None = None
    scheduler: Any = None
    progress: ProgressFn | None = None
    rows_before: int = field(default=0, init=False)

    def _report(self, done: int, total: int | None) -> None:
        if self.progress is not None:
            before = self.rows_before
            self.progress(before + done, None if total is None else before + total)

    def run(self, units: list[Unit], plan: Plan) -> UnitResult:
        """One pass over ``units``: the merged states (an empty result for no units)."""
        if not units:
            return UnitResult(0)
        show = self._report if self.progress is not None else None
        if self.engine == "dask":
            from .dask_engine import run_dask  # start-up time: only the Dask engine needs it

            res = run_dask(
                units, plan, scheduler=self.scheduler, workers=self.workers, progress=show
            )
        else:
            res = run_local(units, plan, threads=self.threads, progress=show)
            check_rows(units, res)
        self.rows_before += res.rows
        return res


@contextmanager
def open_runner(
    engine: str,
    *,
    threads: int | None,
    workers: int | None,
    scheduler: Any,
    progress: ProgressFn | None,
    passes: int = 1,
) -> Iterator[Runner]:
    """A :class:`Runner`; with ``engine="dask"`` and ``passes > 1``, one client for all."""
    if engine == "dask" and passes > 1:
        from .dask_engine import dask_session  # start-up time: as above

        with dask_session(scheduler, workers) as client:
            yield Runner(engine, None, None, client, progress)
        return
    yield Runner(engine, threads, workers, scheduler, progress)


def source_units(
    source: Any, kind: str, cols: Columns, delimiter: str | None
) -> tuple[list[Unit], tuple[str, ...]]:
    """The units of a re-readable ``source`` (``kind`` ``'paths'`` or ``'table'``) and
    how results name it."""
    if kind == "table":
        label = describe(source)
        return table_units(to_arrow(source, cols), label), (label,)
    paths = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    return plan_units(paths, cols, delimiter=delimiter), tuple(str(s) for s in paths)
