"""The columns that ``recalibrate_file`` and ``predict`` copy from their input to their output.

Both read a table, compute from one or a few of its columns, and write every column back
with the new ones.  The columns they do not compute from are copied as they are: from a
CSV file they are read as text (:func:`text_column_types`), so an id keeps its leading
zeros and every digit, and ``True`` keeps its case.

pyarrow (an optional dependency) is imported only by the functions that use it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

__all__ = ["text_column_types"]


def text_column_types(names: Sequence[str], numbers: Collection[str]) -> dict[str, Any]:
    """``column_types`` for ``pyarrow.csv.ConvertOptions``: each of ``names`` (a CSV
    header) that is not in ``numbers`` is read as text, exactly as written; the columns
    of ``numbers`` keep pyarrow's type inference."""
    import pyarrow as pa  # optional dependency (bcelab[eval])

    return {n: pa.string() for n in names if n not in numbers}
