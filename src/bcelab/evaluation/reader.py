"""Streaming reader for prediction data: Parquet (files or partitioned folders), CSV/TSV,
and in-memory tables (:mod:`.tables`).

The data are cut into :class:`Unit` s of work (a few Parquet row groups, one CSV file,
or a slice of a table).  Each unit is read in record batches of a fixed number of rows,
so memory stays constant whatever the size.  Every failure while reading becomes a
:class:`bcelab.DataError` that names the file and the batch (and, for a bad CSV value,
the column and the line).

Hive-style partition folders (``.../segment=a/part-0.parquet``) add a string column
per ``key=value`` path component, so ``by="segment"`` works on partitioned data.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from ..errors import DataError
from .batching import exact_batches
from .column_checks import check_columns, shared_by_type, text_target
from .columns import (
    Columns,
    by_codes,
    is_text_type,
    numeric_array,
    target_array,
    text_target_error,
)
from .csv_source import (
    check_complete,
    csv_batches,
    csv_header,
    default_delimiter,
    explain_csv_error,
)
from .discovery import discover
from .parquet_source import (
    READ_ERRORS,
    open_parquet,
    row_group_batches,
    unreadable,
    whole_chunks,
)
from .row_ids import id_array
from .unit_share import UnitShare, can_share

if TYPE_CHECKING:
    import pyarrow.parquet as pq

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "DEFAULT_UNIT_ROWS",
    "Batch",
    "Unit",
    "iter_unit",
    "plan_units",
    "unit_share",
]

# 2**20 rows: a quarter of the per-batch work of 2**18 (the kernel call, the batch's
# Python), and pyarrow decodes larger batches faster: 4-5% of an evaluation's time
DEFAULT_BATCH_ROWS = 1 << 20
DEFAULT_UNIT_ROWS = 1 << 22  # 4 row groups of 2**20: fewer states to send and merge


@dataclass(frozen=True)
class Unit:
    """One independent piece of work: some row groups of one Parquet file, one CSV file,
    or a slice of an in-memory table (``data``: a ``pyarrow.Table``, or an iterator of
    record batches for a stream)."""

    index: int
    path: str  # the file, or a description of the in-memory source
    kind: str  # "parquet", "csv", "table" or "stream"
    row_groups: tuple[int, ...] = ()
    rows: int | None = None  # known for Parquet and tables, None for CSV and streams
    partition: tuple[tuple[str, str], ...] = ()  # hive key=value pairs from the folder names
    first_row: int = 0  # the row of the source where this unit starts
    delimiter: str = ","  # CSV only
    by_type: pa.DataType | None = None  # CSV only: the by column's type (None: text)
    data: Any = None  # tables and streams only
    group_rows: tuple[int, ...] = ()  # Parquet: the rows of each row group
    buffered: bool = False  # Parquet: read chunks through a buffer (see .parquet_source)

    def where(self) -> str:
        if self.kind == "parquet" and self.row_groups:
            rg = self.row_groups
            span = f"{rg[0]}" if len(rg) == 1 else f"{rg[0]}-{rg[-1]}"
            return f"{self.path} (row group {span})"
        if self.kind in ("table", "stream"):
            return f"{self.path} (from row {self.first_row})"
        return self.path


@dataclass(frozen=True)
class Batch:
    """One record batch as NumPy arrays (``weight``/``by`` are None when not requested)."""

    target: np.ndarray
    pred: np.ndarray
    weight: np.ndarray | None
    by: tuple[np.ndarray, list[object]] | None  # (codes, distinct values)
    number: int  # batch number inside its unit, from 0
    pred_b: np.ndarray | None = None  # model B's prediction (a comparison only)
    ids: np.ndarray | None = None  # row ids: int64, uint64 or str objects (with an id column)
    first_row: int = 0  # the row of the source where the batch starts
    source: str = ""  # the unit's path (or the label of an in-memory source)

    def __len__(self) -> int:
        return int(self.target.shape[0])


def _parquet_units(
    spath: str, part: tuple[tuple[str, str], ...], cols: Columns, start: int, unit_rows: int
) -> tuple[list[Unit], dict[str, pa.DataType]]:
    """The file's units, and its columns' types."""
    pf = open_parquet(spath)
    part_keys = [k for k, _ in part]
    schema = pf.schema_arrow
    types = {f.name: f.type for f in schema}
    types.update({k: pa.string() for k in part_keys})
    check_columns(spath, list(schema.names), types, cols, part_keys=part_keys)
    md = pf.metadata
    if text_target(cols, types) and md.num_row_groups:
        # start-up time: pyarrow.compute is needed only on this error path
        import pyarrow.compute as pc

        col = pf.read_row_group(0, columns=[cols.target]).column(0)
        values = sorted(v for v in pc.unique(col).to_pylist() if v is not None)
        raise text_target_error(cols.target, values, spath)
    units: list[Unit] = []
    group: list[int] = []
    sizes: list[int] = []
    rows = first = done = 0
    for rg in range(md.num_row_groups):
        group.append(rg)
        sizes.append(md.row_group(rg).num_rows)
        rows += sizes[-1]
        if rows >= unit_rows or rg == md.num_row_groups - 1:
            at = start + len(units)
            buffered = not whole_chunks(md, group, cols.needed)
            units.append(
                Unit(
                    at,
                    spath,
                    "parquet",
                    tuple(group),
                    rows,
                    part,
                    first,
                    group_rows=tuple(sizes),
                    buffered=buffered,
                )
            )
            done += rows
            group, sizes, rows, first = [], [], 0, done
    return units, types


def plan_units(
    sources: Sequence[str | os.PathLike[str]],
    cols: Columns,
    *,
    unit_rows: int = DEFAULT_UNIT_ROWS,
    delimiter: str | None = None,
) -> list[Unit]:
    """Check every file's columns and cut the data into units of about ``unit_rows`` rows.

    ``delimiter`` applies to CSV files; None: tab for ``.tsv``, else comma.  Each unit
    names its file by its absolute path: a Dask worker may run in another directory.  A
    ``by`` column must hold one kind of value in every file; a CSV file reads it as the
    type the other files give it (:func:`~.column_checks.shared_by_type`).
    """
    units: list[Unit] = []
    typed: list[tuple[str, pa.DataType]] = []  # (file, its by column's type)
    for path, kind, part in discover(sources):
        spath, part_keys = str(path.absolute()), [k for k, _ in part]
        if kind == "csv":
            sep = default_delimiter(spath) if delimiter is None else delimiter
            names = csv_header(spath, sep)
            check_columns(spath, names, None, cols, part_keys=part_keys)
            check_complete(spath)
            units.append(Unit(len(units), spath, "csv", (), None, part, 0, sep))
            if cols.by in part_keys:  # a folder name: text
                typed.append((spath, pa.string()))
            continue
        new, types = _parquet_units(spath, part, cols, len(units), unit_rows)
        units += new
        if cols.by is not None:
            typed.append((spath, types[cols.by]))
    if cols.by is None:
        return units
    by_type = shared_by_type(cols.by, typed)
    if by_type is None or is_text_type(by_type):
        return units
    return [
        replace(u, by_type=by_type) if u.kind == "csv" and cols.by not in dict(u.partition) else u
        for u in units
    ]


def _to_batch(
    rb: pa.RecordBatch, unit: Unit, cols: Columns, number: int, where: str, first_row: int
) -> Batch:
    part = dict(unit.partition)
    n = rb.num_rows

    def get(name: str) -> pa.Array:
        if name in part and name not in rb.schema.names:
            return pa.array([part[name]] * n, pa.string())
        return rb.column(name)

    # Nulls become NaN: they are counted by the metric state, never silently dropped.
    pred = numeric_array(get(cols.pred), cols.pred, where)
    w = numeric_array(get(cols.weight), cols.weight, where) if cols.weight else None
    by = by_codes(get(cols.by)) if cols.by else None
    y = target_array(get(cols.target), cols, where, pred.dtype)
    pred_b = numeric_array(get(cols.pred_b), cols.pred_b, where) if cols.pred_b else None
    ids = id_array(get(cols.id), cols.id, where) if cols.id else None
    return Batch(y, pred, w, by, number, pred_b, ids, first_row, unit.path)


def _read_columns(unit: Unit, cols: Columns) -> list[str]:
    part = {k for k, _ in unit.partition}
    return [c for c in dict.fromkeys(cols.needed) if c not in part]


def unit_share(unit: Unit, cols: Columns, batch_rows: int) -> UnitShare | None:
    """A :class:`UnitShare` of a Parquet unit that idle threads can help read, or None."""
    if unit.kind != "parquet" or not can_share(unit.group_rows, batch_rows):
        return None
    names = _read_columns(unit, cols)

    def read(pf: pq.ParquetFile, group: int) -> Iterator[pa.RecordBatch]:
        return row_group_batches(pf, [group], names, batch_rows)

    return UnitShare(lambda: open_parquet(unit.path, buffered=unit.buffered), unit.row_groups, read)


def _batches(
    unit: Unit, cols: Columns, batch_rows: int, share: UnitShare | None
) -> Iterator[pa.RecordBatch]:
    names = _read_columns(unit, cols)
    if unit.kind == "parquet":
        pf = open_parquet(unit.path, buffered=unit.buffered)
        if share is not None:
            return share.batches(pf)
        return row_group_batches(pf, unit.row_groups, names, batch_rows)
    if unit.kind == "csv":
        return csv_batches(unit.path, cols, names, unit.delimiter, unit.by_type)
    if unit.kind == "table":
        return exact_batches(unit.data.select(names).to_batches(), batch_rows)
    return iter(unit.data)  # a stream: exact batches already (see .tables)


def iter_unit(
    unit: Unit,
    cols: Columns,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    share: UnitShare | None = None,
) -> Iterator[Batch]:
    """Yield the unit's rows as :class:`Batch` es of at most ``batch_rows`` rows
    (``share``: from :func:`unit_share`, when idle threads may read ahead)."""
    it = _batches(unit, cols, batch_rows, share)
    number, row = 0, unit.first_row
    while True:
        where = f"{unit.where()}, batch {number}"
        try:
            rb = next(it)
        except StopIteration:
            return
        except READ_ERRORS as e:
            raise _read_error(e, unit, cols, where) from None
        if rb.num_rows:
            yield _to_batch(rb, unit, cols, number, where, row)
        number, row = number + 1, row + rb.num_rows


def _read_error(err: BaseException, unit: Unit, cols: Columns, where: str) -> DataError:
    if unit.kind == "csv" and isinstance(err, pa.ArrowInvalid):
        header = csv_header(unit.path, unit.delimiter)
        clear = explain_csv_error(err, unit.path, cols, header, unit.delimiter, unit.by_type)
        if clear is not None:
            return clear
    return unreadable(
        unit.path,
        f"cannot read {where} (file corrupt or truncated)",
        err,
        "re-export the file; a truncated or partly written copy is the usual cause",
    )
