"""Where the rows come from, shared by ``evaluate`` and ``compare``: paths, tables, streams.

:func:`check_source_kind` and :func:`check_delimiter` check the source options at the
door; :func:`plan_source` cuts the source into units (files, row groups, table slices,
or a stream's units as they come) and :func:`run_planned` runs them on an engine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import DataError, OptionError
from .columns import Columns
from .dask_engine import run_dask
from .local_engine import ProgressFn, check_rows, run_local, run_serial
from .reader import DEFAULT_BATCH_ROWS, Unit, plan_units
from .tables import describe, source_kind, stream_units, table_units, to_arrow
from .tasks import Plan, UnitResult

__all__ = ["Planned", "check_delimiter", "check_source_kind", "plan_source", "run_planned"]


@dataclass(frozen=True)
class Planned:
    """A source cut into units: ``units`` (none for a stream, whose units are read as they
    come from ``stream``), and ``labels``, the names results give the source."""

    kind: str  # "paths", "table" or "stream"
    units: list[Unit]
    labels: tuple[str, ...]
    paths: tuple[str | os.PathLike[str], ...] = ()
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


def check_delimiter(delimiter: object, *, fname: str) -> str | None:
    """The CSV separator: None (tab for ``.tsv``, else comma) or one character."""
    if delimiter is None or (isinstance(delimiter, str) and len(delimiter) == 1):
        return delimiter
    raise OptionError(
        f"{fname}: delimiter must be one character (the CSV field separator)",
        f"received delimiter={delimiter!r}",
        "pass delimiter='\\t' for tab-separated files, or leave it out (tab for .tsv, else comma)",
    )


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
        return Planned(kind, [], (label,), stream=stream)
    if kind == "table":
        label = describe(source)
        return Planned(kind, table_units(to_arrow(source, cols), label), (label,))
    paths = (source,) if isinstance(source, (str, os.PathLike)) else tuple(source)
    units = plan_units(list(paths), cols, delimiter=delimiter)
    return Planned(kind, units, tuple(str(s) for s in paths), paths)


def run_planned(
    planned: Planned,
    plan: Plan,
    engine: str,
    threads: int | None,
    workers: int | None,
    scheduler: Any,
    progress: ProgressFn | None,
) -> UnitResult:
    """Run the units on the engine; a :class:`DataError` when they hold no row."""
    units = planned.units
    if planned.stream is not None:
        res = run_serial(planned.stream, plan, None, progress)
    elif engine == "dask" and units:
        res = run_dask(units, plan, scheduler=scheduler, workers=workers, progress=progress)
    elif units:
        res = run_local(units, plan, threads=threads, progress=progress)
        check_rows(units, res)
    else:
        res = UnitResult(0)
    if res.rows == 0:
        raise DataError(
            "at least one row of predictions",
            f"the files hold 0 rows: {sorted({u.path for u in units} or planned.labels)}"
            if planned.kind == "paths"
            else f"the {planned.labels[0]} holds 0 rows",
            "check that the export wrote data (header-only or empty files)",
        )
    return res
