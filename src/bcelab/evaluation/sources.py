"""Where the rows come from, shared by ``evaluate`` and ``compare``: paths, tables, streams.

:func:`check_source_kind` checks the source at the door (the delimiter is checked by
:func:`bcelab._core.tables.check_delimiter`); :func:`plan_source` cuts the source into units (files, row groups, table slices,
or a stream's units as they come) and :func:`run_planned` runs them on a
:class:`~bcelab.evaluation.runner.Runner`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import DataError, OptionError
from .columns import Columns
from .local_engine import run_serial
from .reader import DEFAULT_BATCH_ROWS, Unit
from .runner import Runner, source_units
from .tables import describe, source_kind, stream_units, to_arrow
from .tasks import Plan, UnitResult

__all__ = ["Planned", "check_source_kind", "plan_source", "run_planned"]


@dataclass(frozen=True)
class Planned:
    """A source cut into units: ``units`` (none for a stream, whose units are read as they
    come from ``stream``), and ``labels``, the names results give the source (the paths
    as given, or the kind of table)."""

    kind: str  # "paths", "table" or "stream"
    units: list[Unit]
    labels: tuple[str, ...]
    stream: Iterator[Unit] | None = None


def check_source_kind(source: object, engine: str, *, fname: str) -> str:
    """``'paths'``, ``'table'`` or ``'stream'`` (a stream only on the local engine)."""
    kind = source_kind(source, fname=fname)
    if kind == "stream" and engine == "dask":
        raise OptionError(
            f"{fname}: a RecordBatchReader only with engine='local' (it can be read once, "
            "in this process)",
            "received engine='dask'",
            "write it to Parquet for Dask, or pass a pyarrow Table",
        )
    return kind


def plan_source(
    source: Any,
    kind: str,
    cols: Columns,
    delimiter: str | None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> Planned:
    """Check the columns and cut ``source`` (of the checked ``kind``) into units."""
    if kind == "stream":
        label = describe(source)
        stream = stream_units(to_arrow(source, cols), label, batch_rows=batch_rows)
        return Planned(kind, [], (label,), stream)
    units, labels = source_units(source, kind, cols, delimiter)
    return Planned(kind, units, labels)


def run_planned(planned: Planned, plan: Plan, runner: Runner) -> UnitResult:
    """Run the units; a :class:`DataError` when they hold no row."""
    if planned.stream is not None:
        res = run_serial(planned.stream, plan, None, runner.progress)
    else:
        res = runner.run(planned.units, plan)
    if res.rows == 0:
        raise DataError(
            "at least one row of predictions",
            f"the files hold 0 rows: {sorted({u.path for u in planned.units} or planned.labels)}"
            if planned.kind == "paths"
            else f"the {planned.labels[0]} holds 0 rows",
            "check that the export wrote data (header-only or empty files)",
        )
    return res
