"""The columns that ``recalibrate_file`` and ``predict`` copy from their input to their output.

Both read a table, compute from one or a few of its columns, and write every column back
with the new ones.  The columns they do not compute from are copied as they are: from a
CSV file they are read as text (:func:`text_column_types`), so an id keeps its leading
zeros and every digit, and ``True`` keeps its case.  A CSV output takes only the column
types that a CSV file can hold (:func:`check_csv_writable`): a Parquet input's lists,
structs and maps need a Parquet output.

pyarrow (an optional dependency) is imported only by the functions that use it.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Sequence
from typing import Any

from ..errors import DataError

__all__ = ["check_csv_writable", "csv_unwritable", "text_column_types"]


def text_column_types(names: Sequence[str], numbers: Collection[str]) -> dict[str, Any]:
    """``column_types`` for ``pyarrow.csv.ConvertOptions``: each of ``names`` (a CSV
    header) that is not in ``numbers`` is read as text, exactly as written; the columns
    of ``numbers`` keep pyarrow's type inference."""
    import pyarrow as pa  # optional dependency (bcelab[eval])

    return {n: pa.string() for n in names if n not in numbers}


def csv_unwritable(schema: Any) -> list[tuple[str, str]]:
    """The ``(name, type)`` of each field of a ``pyarrow.Schema`` that pyarrow's CSV writer
    refuses (lists, structs, maps, views) or cannot turn into text (intervals)."""
    import pyarrow as pa  # optional dependency (bcelab[eval])
    import pyarrow.csv as pacsv  # optional dependency (bcelab[eval])

    bad = []
    for field in schema:
        if pa.types.is_interval(field.type):
            bad.append((field.name, str(field.type)))
            continue
        try:  # the writer checks its schema when it is made, before any row
            pacsv.CSVWriter(io.BytesIO(), pa.schema([field])).close()
        except (pa.ArrowException, TypeError, ValueError):
            bad.append((field.name, str(field.type)))
    return bad


def check_csv_writable(schema: Any, source: str, fix: str) -> None:
    """A :class:`DataError` when a CSV file cannot hold every field of ``schema`` (the
    columns of ``source``, to be copied to a CSV output); ``fix`` names another output."""
    bad = csv_unwritable(schema)
    if not bad:
        return
    shown = ", ".join(f"{name!r} ({kind})" for name, kind in bad[:3])
    more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
    raise DataError(
        "columns that a CSV file can hold (numbers, text, booleans, dates and times; not "
        "lists, structs or maps) to copy them to a CSV output",
        f"{source} has the column{'s' if len(bad) > 1 else ''} {shown}{more}",
        fix,
    )
