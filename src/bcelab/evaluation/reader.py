"""Streaming reader for prediction files: Parquet (files or partitioned folders) and CSV.

The data are cut into :class:`Unit` s of work (a few Parquet row groups, or one CSV
file).  Each unit is read in record batches of a fixed number of rows, so memory
stays constant whatever the file size.  Every failure while reading becomes a
:class:`bcelab.DataError` that names the file and the batch.

Hive-style partition folders (``.../segment=a/part-0.parquet``) add a string column
per ``key=value`` path component, so ``by="segment"`` works on partitioned data.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import DataError, DTypeError
from .row_ids import check_id_type, id_array

__all__ = ["Batch", "Columns", "Unit", "iter_unit", "plan_units"]

PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zst", ".tsv")
DEFAULT_BATCH_ROWS = 1 << 17
DEFAULT_UNIT_ROWS = 1 << 22  # 4 row groups of 2**20: fewer states to send and merge
_CSV_BLOCK = 8 << 20
_READ_ERRORS = (pa.ArrowException, OSError, ValueError, EOFError)


@dataclass(frozen=True)
class Columns:
    """Which columns hold the target, the prediction (probability or logit), weight and segment.

    A comparison of two models (:func:`bcelab.evaluation.compare`) also names model B's
    prediction ``pred_b`` (``pred`` is model A's) and, optionally, a row ``id`` column.
    """

    target: str
    pred: str
    logits: bool = False
    weight: str | None = None
    by: str | None = None
    pred_b: str | None = None
    id: str | None = None

    @property
    def numeric(self) -> tuple[str, ...]:
        cols = (self.target, self.pred, self.pred_b, self.weight)
        return tuple(c for c in cols if c is not None)

    @property
    def needed(self) -> tuple[str, ...]:
        return self.numeric + tuple(c for c in (self.by, self.id) if c is not None)


@dataclass(frozen=True)
class Unit:
    """One independent piece of work: some row groups of one Parquet file, or one CSV file."""

    index: int
    path: str
    kind: str  # "parquet" or "csv"
    row_groups: tuple[int, ...] = ()
    rows: int | None = None  # known for Parquet, None for CSV
    partition: tuple[tuple[str, str], ...] = ()  # hive key=value pairs from the folder names
    first_row: int = 0  # the row of the file where this unit starts

    def where(self) -> str:
        if self.kind == "parquet" and self.row_groups:
            rg = self.row_groups
            span = f"{rg[0]}" if len(rg) == 1 else f"{rg[0]}-{rg[-1]}"
            return f"{self.path} (row group {span})"
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

    def __len__(self) -> int:
        return int(self.target.shape[0])


def _bad(path: str, what: str, err: BaseException | str, fix: str) -> DataError:
    msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return DataError(f"a readable Parquet or CSV file at {path}", f"{what}: {msg}", fix)


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    return None


def _partition(root: Path, path: Path) -> tuple[tuple[str, str], ...]:
    pairs = []
    for part in path.relative_to(root).parts[:-1]:
        if "=" in part:
            k, v = part.split("=", 1)
            pairs.append((unquote(k), unquote(v)))
    return tuple(pairs)


def discover(sources: Sequence[str | os.PathLike[str]]) -> list[tuple[Path, str, tuple]]:
    """Expand files and folders into a sorted list of ``(path, kind, partition)``."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    found: list[tuple[Path, str, tuple]] = []
    if not sources:
        raise DataError("at least one file or folder", "received none", "pass a path")
    for src in sources:
        p = Path(src)
        if p.is_dir():
            files = sorted(
                f
                for f in p.rglob("*")
                if f.is_file()
                and _kind(f) is not None
                and not any(s.startswith((".", "_")) for s in f.relative_to(p).parts)
            )
            if not files:
                raise DataError(
                    f"a folder with Parquet ({', '.join(PARQUET_SUFFIXES)}) or CSV files at {p}",
                    "found none",
                    "check the path, or name the files explicitly",
                )
            found += [(f, str(_kind(f)), _partition(p, f)) for f in files]
        elif p.is_file():
            kind = _kind(p)
            if kind is None:
                raise DataError(
                    f"a Parquet or CSV file at {p}",
                    f"the name ends in {p.suffix!r}",
                    f"rename it to end in .parquet or .csv (suffixes: {PARQUET_SUFFIXES + CSV_SUFFIXES})",
                )
            found.append((p, kind, ()))
        else:
            raise DataError(
                f"an existing file or folder at {p}", "it does not exist", "check the path"
            )
    return found


def _check_columns(
    path: str, names: Sequence[str], types: dict[str, pa.DataType] | None, cols: Columns
) -> None:
    missing = [c for c in cols.needed if c not in names]
    if missing:
        raise DataError(
            f"columns {list(cols.needed)} in {path}",
            f"column{'s' if len(missing) > 1 else ''} {missing} not found; available: {list(names)}",
            "name the prediction, target, weight and by columns as the file spells them",
        )
    for c in cols.numeric if types is not None else ():
        t = types[c] if types is not None else None
        if t is not None and not (
            pa.types.is_floating(t)
            or pa.types.is_integer(t)
            or pa.types.is_boolean(t)
            or pa.types.is_decimal(t)
            or pa.types.is_null(t)
        ):
            raise DTypeError(
                f"column {c!r} in {path} must hold numbers",
                f"its type is {t}",
                "convert it to float when writing the file",
            )
    if cols.id is not None and types is not None:
        check_id_type(cols.id, types[cols.id], path)


def _parquet_file(path: str) -> pq.ParquetFile:
    if os.path.getsize(path) == 0:
        raise DataError(
            f"a Parquet file at {path}",
            "the file is empty (0 bytes)",
            "re-export the predictions; the writer probably failed",
        )
    try:
        return pq.ParquetFile(
            path, buffer_size=1 << 20, pre_buffer=False, page_checksum_verification=True
        )
    except _READ_ERRORS as e:
        raise _bad(
            path,
            "cannot read the Parquet footer (file corrupt or truncated)",
            e,
            "re-export the file; a truncated copy is the usual cause",
        ) from None


def plan_units(
    sources: Sequence[str | os.PathLike[str]], cols: Columns, *, unit_rows: int = DEFAULT_UNIT_ROWS
) -> list[Unit]:
    """Check every file's columns and cut the data into units of about ``unit_rows`` rows."""
    units: list[Unit] = []
    for path, kind, part in discover(sources):
        spath, part_keys = str(path), [k for k, _ in part]
        if kind == "csv":
            names = _csv_header(spath)
            _check_columns(spath, names + part_keys, None, cols)
            units.append(Unit(len(units), spath, "csv", (), None, part))
            continue
        pf = _parquet_file(spath)
        schema = pf.schema_arrow
        types = {f.name: f.type for f in schema}
        types.update({k: pa.string() for k in part_keys})
        _check_columns(spath, list(schema.names) + part_keys, types, cols)
        md = pf.metadata
        group: list[int] = []
        rows = first = 0
        for rg in range(md.num_row_groups):
            group.append(rg)
            rows += md.row_group(rg).num_rows
            if rows >= unit_rows:
                units.append(Unit(len(units), spath, "parquet", tuple(group), rows, part, first))
                group, first, rows = [], first + rows, 0
        if group:
            units.append(Unit(len(units), spath, "parquet", tuple(group), rows, part, first))
    return units


def _csv_header(path: str) -> list[str]:
    if os.path.getsize(path) == 0:
        raise DataError(
            f"a CSV file with a header line at {path}",
            "the file is empty (0 bytes)",
            "re-export the predictions; the writer probably failed",
        )
    try:
        with pa.input_stream(path, compression="detect") as fh:
            head = fh.read(1 << 20)
        first = head.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8-sig")
        names = next(csv.reader([first])) if first else []
    except (*_READ_ERRORS, UnicodeDecodeError, csv.Error) as e:
        raise _bad(path, "cannot read the CSV header", e, "check that the file is CSV") from None
    if not names:
        raise DataError(
            f"a CSV file with a header line at {path}",
            "the first line is empty",
            "write the column names on the first line",
        )
    return names


def _numpy(col: pa.Array | pa.ChunkedArray, name: str, where: str) -> np.ndarray:
    t = col.type
    if (
        pa.types.is_boolean(t)
        or pa.types.is_integer(t)
        or pa.types.is_decimal(t)
        or pa.types.is_null(t)
    ):
        col = col.cast(pa.float64())
    elif pa.types.is_float16(t):
        col = col.cast(pa.float32())
    elif not pa.types.is_floating(t):
        raise DTypeError(
            f"column {name!r} in {where} must hold numbers",
            f"its type is {t}",
            "convert it to float when writing the file",
        )
    # Nulls become NaN: they are counted by the metric state, never silently dropped.
    return np.asarray(col.to_numpy(zero_copy_only=False))


def _by_codes(col: pa.Array) -> tuple[np.ndarray, list[object]]:
    """Dictionary-encode a segment column: int64 codes (-1 for null) and the distinct values."""
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    # start-up time: pyarrow.compute is needed only with a by column
    import pyarrow.compute as pc

    enc = pc.dictionary_encode(col)
    codes = np.asarray(enc.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    return codes, enc.dictionary.to_pylist()


def _to_batch(rb: pa.RecordBatch, unit: Unit, cols: Columns, number: int, where: str) -> Batch:
    part = dict(unit.partition)
    n = rb.num_rows

    def get(name: str) -> pa.Array:
        if name in part and name not in rb.schema.names:
            return pa.array([part[name]] * n, pa.string())
        return rb.column(name)

    w = _numpy(get(cols.weight), cols.weight, where) if cols.weight else None
    by = _by_codes(get(cols.by)) if cols.by else None
    pred_b = _numpy(get(cols.pred_b), cols.pred_b, where) if cols.pred_b else None
    ids = id_array(get(cols.id), cols.id, where) if cols.id else None
    return Batch(
        _numpy(get(cols.target), cols.target, where),
        _numpy(get(cols.pred), cols.pred, where),
        w,
        by,
        number,
        pred_b,
        ids,
    )


def _read_columns(unit: Unit, cols: Columns) -> list[str]:
    part = {k for k, _ in unit.partition}
    return [c for c in dict.fromkeys(cols.needed) if c not in part]


def iter_unit(
    unit: Unit, cols: Columns, *, batch_rows: int = DEFAULT_BATCH_ROWS
) -> Iterator[Batch]:
    """Yield the unit's rows as :class:`Batch` es of at most ``batch_rows`` rows."""
    names = _read_columns(unit, cols)
    if unit.kind == "parquet":
        pf = _parquet_file(unit.path)
        it = pf.iter_batches(
            batch_size=batch_rows,
            row_groups=list(unit.row_groups),
            columns=names,
            use_threads=False,
        )
    else:
        it = _csv_batches(unit, cols, names)
    number = 0
    while True:
        where = f"{unit.where()}, batch {number}"
        try:
            rb = next(it)
        except StopIteration:
            return
        except _READ_ERRORS as e:
            raise _bad(
                unit.path,
                f"cannot read {where} (file corrupt or truncated)",
                e,
                "re-export the file; a truncated or partly written copy is the usual cause",
            ) from None
        if rb.num_rows:
            yield _to_batch(rb, unit, cols, number, where)
        number += 1


def _csv_batches(unit: Unit, cols: Columns, names: list[str]) -> Iterator[pa.RecordBatch]:
    # start-up time: pyarrow.csv is needed only for CSV files
    import pyarrow.csv as pacsv

    types: dict[str, pa.DataType] = {c: pa.float64() for c in cols.numeric}
    if cols.by is not None:
        types[cols.by] = pa.string()
    if cols.id is not None:  # text: the same key whatever a block's values look like
        types[cols.id] = pa.string()
    reader = pacsv.open_csv(
        unit.path,
        read_options=pacsv.ReadOptions(block_size=_CSV_BLOCK, use_threads=True),
        convert_options=pacsv.ConvertOptions(
            include_columns=names, column_types=types, strings_can_be_null=True
        ),
    )
    yield from reader
