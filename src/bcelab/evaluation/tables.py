"""In-memory sources: pyarrow Tables and RecordBatchReaders, polars and pandas DataFrames,
and dicts of arrays.

Each becomes pyarrow data holding only the needed columns, cut exactly like a Parquet
file of the same rows (units of ``unit_rows`` rows, batches of ``batch_rows`` rows), so
the metrics are bit-identical to those of that file.  pandas, polars and torch are
recognised by their module name and never imported here.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from .._core.host_copy import to_host
from ..errors import DataError, OptionError
from .batching import exact_batches
from .column_checks import check_columns
from .column_checks import text_target as is_text_target
from .columns import Columns, text_target_error
from .reader import DEFAULT_BATCH_ROWS, DEFAULT_UNIT_ROWS, Unit

__all__ = [
    "describe",
    "is_in_memory",
    "is_stream",
    "source_kind",
    "stream_units",
    "table_units",
    "to_arrow",
]

_FRAMES = {"polars": "polars DataFrame", "pandas": "pandas DataFrame"}


def _module(obj: object) -> str:
    return type(obj).__module__.split(".", 1)[0]


def is_stream(obj: object) -> bool:
    """A ``pyarrow.RecordBatchReader``: read once, in order."""
    return isinstance(obj, pa.RecordBatchReader)


def is_in_memory(obj: object) -> bool:
    """Whether ``obj`` is a table-like object rather than paths."""
    if isinstance(obj, (pa.Table, pa.RecordBatch, pa.RecordBatchReader, Mapping)):
        return True
    return _module(obj) in _FRAMES and type(obj).__name__ == "DataFrame"


def describe(obj: object) -> str:
    """How results and errors name the source: ``'pyarrow Table'``, ``'pandas DataFrame'``."""
    if isinstance(obj, Mapping):
        return "dict of arrays"
    if _module(obj) in _FRAMES:
        return _FRAMES[_module(obj)]
    return f"pyarrow {type(obj).__name__}"


def _array(value: Any, name: str) -> pa.Array:
    if _module(value) == "torch":  # without importing torch
        value = to_host(value).numpy()
    if isinstance(value, (pa.Array, pa.ChunkedArray)):
        return value
    # a NumPy masked array keeps its mask: its masked values become nulls (missing rows)
    masked = isinstance(value, np.ndarray) and isinstance(value, np.ma.MaskedArray)
    arr = value if masked else np.asarray(value)
    if arr.ndim != 1:
        raise DataError(
            "one-dimensional columns in the dict of arrays (one value per row)",
            f"column {name!r} has shape {arr.shape}",
            "pass flat arrays, e.g. x.ravel()",
        )
    return pa.array(arr)


def _keys(names: list[str], keys: Any) -> list[Any]:
    """The keys of a dict or the labels of a DataFrame's columns that ``names`` spell (a key
    such as the number 0 is named by its text, '0', like every column name)."""
    by_text = {str(k): k for k in keys}
    return [by_text[n] for n in names]


def _from_dict(data: Mapping[Any, Any], names: list[str]) -> pa.Table:
    columns = {n: _array(data[k], n) for n, k in zip(names, _keys(names, data), strict=True)}
    lengths = {n: len(a) for n, a in columns.items()}
    if len(set(lengths.values())) > 1:
        raise DataError(
            "columns of the same length in the dict of arrays",
            f"received lengths {lengths}",
            "pass one value per row in every column",
        )
    return pa.table(columns)


def _refuse_index(frame: Any, available: list[str], cols: Columns) -> None:
    """A needed column that is a pandas DataFrame's index (after ``set_index``), not a column."""
    index = [str(n) for n in frame.index.names if n is not None]
    found = [c for c in dict.fromkeys(cols.needed) if c not in available and c in index]
    if found:
        raise DataError(
            f"columns {list(cols.needed)} in the pandas DataFrame",
            f"{found} {'is' if len(found) == 1 else 'are'} its index, not a column",
            "pass frame.reset_index(), which makes the index a column",
        )


def to_arrow(obj: object, cols: Columns) -> pa.Table | pa.RecordBatchReader:
    """The needed columns of ``obj`` as a ``pyarrow.Table`` (a reader stays a reader)."""
    label = describe(obj)
    names = list(dict.fromkeys(cols.needed))
    if isinstance(obj, pa.RecordBatchReader):
        available = list(obj.schema.names)
    elif isinstance(obj, Mapping):
        available = [str(k) for k in obj]
    elif isinstance(obj, (pa.Table, pa.RecordBatch)):
        available = list(obj.schema.names)
    else:
        available = [str(c) for c in obj.columns]  # type: ignore[attr-defined]
        if _module(obj) == "pandas":
            _refuse_index(obj, available, cols)
    check_columns(label, available, None, cols)
    if isinstance(obj, pa.RecordBatchReader):
        schema = obj.schema
        types = {n: schema.field(n).type for n in names}
        check_columns(label, available, types, cols)
        return obj  # a text target without a positive label fails on its first batch
    if isinstance(obj, pa.RecordBatch):
        table = pa.Table.from_batches([obj]).select(names)
    elif isinstance(obj, pa.Table):
        table = obj.select(names)
    elif isinstance(obj, Mapping):
        table = _from_dict(obj, names)
    elif _module(obj) == "polars":
        table = obj.select(names).to_arrow()  # type: ignore[attr-defined]
    else:  # pandas: only the needed columns are converted
        frame = obj[_keys(names, obj.columns)]  # type: ignore[attr-defined, index]
        frame.columns = names
        table = pa.Table.from_pandas(frame, preserve_index=False)
    types = {n: table.schema.field(n).type for n in names}
    check_columns(label, table.column_names, types, cols)
    if is_text_target(cols, types):
        # start-up time: pyarrow.compute is needed only on this error path
        import pyarrow.compute as pc

        col = table.column(cols.target).slice(0, DEFAULT_BATCH_ROWS)
        values = sorted(v for v in pc.unique(col).to_pylist() if v is not None)
        raise text_target_error(cols.target, values, f"the {label}")
    return table


def table_units(table: pa.Table, label: str, *, unit_rows: int = DEFAULT_UNIT_ROWS) -> list[Unit]:
    """Slices of ``unit_rows`` rows (zero-copy), like the units of a Parquet file."""
    n = table.num_rows
    return [
        Unit(
            i,
            label,
            "table",
            rows=min(unit_rows, n - off),
            first_row=off,
            data=table.slice(off, unit_rows),
        )
        for i, off in enumerate(range(0, n, unit_rows))
    ]


def stream_units(
    reader: pa.RecordBatchReader,
    label: str,
    *,
    unit_rows: int = DEFAULT_UNIT_ROWS,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> Iterator[Unit]:
    """Units of ``unit_rows`` rows read from a stream, one after the other (each unit must
    be read before the next one is asked for)."""
    per_unit = max(1, unit_rows // batch_rows)
    batches = exact_batches(reader, batch_rows)
    for index in itertools.count():
        first = next(batches, None)
        if first is None:
            return
        chunk = itertools.chain([first], itertools.islice(batches, per_unit - 1))
        yield Unit(index, label, "stream", first_row=index * per_unit * batch_rows, data=chunk)


def source_kind(source: object, *, fname: str = "evaluate") -> str:
    """``'paths'``, ``'table'`` or ``'stream'``; anything else is an :class:`OptionError`."""
    if isinstance(source, (str, os.PathLike)):
        return "paths"
    if is_stream(source):
        return "stream"
    if is_in_memory(source):
        return "table"
    if isinstance(source, (list, tuple)) and all(isinstance(s, (str, os.PathLike)) for s in source):
        return "paths"
    kind = f"{type(source).__module__}.{type(source).__name__}"
    lazy = kind.startswith("polars.") and type(source).__name__ == "LazyFrame"
    raise OptionError(
        f"{fname}: source must be a path, a list of paths, a pyarrow Table or "
        "RecordBatchReader, a polars or pandas DataFrame, or a dict of arrays",
        f"received {kind}",
        "collect it first (lazy_frame.collect()), or pass the files it scans"
        if lazy
        else "pass a file or folder path, or one of those tables",
    )
