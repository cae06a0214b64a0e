"""CSV and TSV files: the header, the record batches, and errors that name the row.

The delimiter comes from ``delimiter=`` or the file name (``.tsv`` is tab-separated,
everything else comma-separated).  pyarrow's parser reports a bad value without its row
when it parses in parallel, so on such an error the file is parsed again, single-threaded,
to find the line; that costs time only on the error path.

Only an empty cell is missing in a text column (the ``by`` column, an ``id``, a target
of labels): ``NA`` or ``null`` is a value there (Namibia's country code, a label).
Number columns take pyarrow's missing values (an empty cell, ``NA``, ``nan``, ...).
A ``by`` column is text unless the run's Parquet files give it another type
(:func:`~.column_checks.shared_by_type`), so that each value is one segment.  Such a
``by`` column is read as text and then cast to that type (:func:`_typed_by`), so that
there too only an empty cell is missing: ``NA`` in a column of numbers is a bad value
(named with its line, like ``abc``), and ``nan`` in a column of floats is NaN, the
segment a Parquet NaN makes, never the null segment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from .._core.tables import COMPRESSED, default_delimiter, refuse_empty_file
from ..errors import DataError
from .columns import Columns, is_text_type, text_target_error

__all__ = [
    "COMPRESSED",
    "check_complete",
    "csv_batches",
    "csv_header",
    "default_delimiter",
    "explain_csv_error",
]

_CSV_BLOCK = 8 << 20
_DECIMAL_COMMA = re.compile(r"[-+]?\d*,\d+")  # "0,9": a number with a decimal comma
_CONVERSION = re.compile(
    r"In CSV column #(\d+): (?:Row #(\d+): )?CSV conversion error to (\w+): invalid value '(.*)'"
)
_PARSE = re.compile(r"CSV parse error: (?:Row #(\d+): )?(.*)")
_UTF8 = re.compile(
    r"In CSV column #(\d+): (?:Row #(\d+): )?CSV conversion error to \w+: invalid UTF8"
)


def csv_header(path: str, delimiter: str) -> list[str]:
    """The column names on the first line."""
    import csv  # start-up time: only a CSV source needs it

    refuse_empty_file(path, "a CSV file with a header line")
    try:
        with pa.input_stream(path, compression="detect") as fh:
            head = fh.read(1 << 20)
        first = head.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8-sig")
        names = next(csv.reader([first], delimiter=delimiter)) if first else []
    except UnicodeDecodeError:
        raise _not_utf8(path, "its header", "1") from None
    except (pa.ArrowException, OSError, ValueError, EOFError, csv.Error) as e:
        raise DataError(
            f"a readable CSV file at {path}",
            f"cannot read the CSV header: {str(e).strip() or type(e).__name__}",
            "check that the file is CSV",
        ) from None
    if not names:
        raise DataError(
            f"a CSV file with a header line at {path}",
            "the first line is empty",
            "write the column names on the first line",
        )
    return names


def check_complete(path: str) -> None:
    """An uncompressed CSV file must end with a line break: else its last row was cut.

    (A cut compressed file fails to decompress, which the reader reports.)
    """
    if path.lower().endswith(COMPRESSED):
        return
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 1))
        if size == 0 or fh.read(1) == b"\n":
            return
        fh.seek(0)
        lines = sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b"")) + 1
    raise DataError(
        f"a complete CSV file at {path}",
        f"its last line (line {lines}) does not end with a line break: the file looks cut "
        "in the middle of that row",
        "re-export the file; if the file is complete, add a line break at its end",
    )


def _not_utf8(path: str, what: str, line: str | None) -> DataError:
    """The error for bytes that are not UTF-8 in ``what`` (a column, the header) of a CSV
    file, at ``line`` (None: unknown)."""
    at = f"line {line}" if line is not None else "a line"
    root, ext = os.path.splitext(path)
    example = f"iconv -f latin1 -t utf-8 {path} > {root}-utf8{ext}"
    if path.lower().endswith(COMPRESSED):  # iconv reads the decompressed text
        example = "decompress it, then iconv -f latin1 -t utf-8 FILE > FILE-utf8.csv"
    return DataError(
        f"UTF-8 text in the CSV file {path}",
        f"{what} at {at} holds bytes that are not UTF-8 (a file saved as Latin-1 or "
        "Windows-1252, say)",
        f"re-save the file as UTF-8, e.g. {example}",
    )


def _options(
    cols: Columns, names: list[str], delimiter: str, threads: bool, by_type: pa.DataType | None
) -> dict[str, Any]:
    # start-up time: pyarrow.csv is needed only for CSV files
    import pyarrow.csv as pacsv

    types: dict[str, pa.DataType] = {c: pa.float64() for c in cols.numeric}
    if cols.positive_label is not None:
        del types[cols.target]  # labels: numbers, booleans or text, whatever the file holds
    if cols.by is not None:  # text, cast to by_type in csv_batches where pyarrow can
        types[cols.by] = by_type if by_type is not None and not _casts(by_type) else pa.string()
    if cols.id is not None:  # text: the same key whatever a block's values look like
        types[cols.id] = pa.string()
    return {
        "read_options": pacsv.ReadOptions(block_size=_CSV_BLOCK, use_threads=threads),
        "parse_options": pacsv.ParseOptions(delimiter=delimiter),
        # text is never null here: its empty cells become null in csv_batches
        "convert_options": pacsv.ConvertOptions(
            include_columns=names, column_types=types, strings_can_be_null=False
        ),
    }


def _empty_text_as_null(rb: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with the empty cells of its text columns as nulls (and nothing else:
    ``NA`` stays text)."""
    # start-up time: pyarrow.compute is needed only for CSV files
    import pyarrow.compute as pc

    arrays = list(rb.columns)
    for i, col in enumerate(arrays):
        if is_text_type(col.type):
            empty = pc.equal(col, "")
            if pc.any(empty).as_py():
                arrays[i] = pc.if_else(empty, pa.scalar(None, col.type), col)
    return pa.RecordBatch.from_arrays(arrays, schema=rb.schema)


def _casts(by_type: pa.DataType) -> bool:
    """Whether pyarrow casts text to ``by_type`` (numbers, booleans, dates, timestamps,
    decimals, bytes; not times of day or durations, which the CSV parser reads itself)."""
    # start-up time: pyarrow.compute is needed only for CSV files
    import pyarrow.compute as pc

    try:
        pc.cast(pa.array([], pa.string()), by_type)
    except pa.ArrowNotImplementedError:
        return False
    return True


def _is_bytes(t: pa.DataType) -> bool:
    return pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)


def _typed_by(
    rb: pa.RecordBatch, by: str, by_type: pa.DataType, path: str, delimiter: str
) -> pa.RecordBatch:
    """The batch with its by column (text, empty cells null) cast to ``by_type``: ``NA``
    or ``null`` is a bad value there, not a null, and ``nan`` a float NaN.  A value that
    does not cast raises pyarrow's error of a single-threaded parse, which names its row
    (:func:`explain_csv_error` turns it into a :class:`DataError`)."""
    # start-up time: pyarrow.compute and pyarrow.csv are needed only for CSV files
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    i = rb.schema.get_field_index(by)
    text = rb.column(i)
    if not _is_bytes(by_type):  # as the CSV parser reads numbers and dates: " 4" is 4
        text = pc.utf8_trim_whitespace(text)
    try:
        typed = pc.cast(text, by_type)
    except pa.ArrowInvalid:
        strict = pacsv.ConvertOptions(
            include_columns=[by], column_types={by: by_type}, null_values=[""]
        )
        for _ in pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=_CSV_BLOCK, use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=strict,
        ):
            pass
        raise  # the parser took every value: the cast's own error
    return rb.set_column(i, pa.field(by, by_type), typed)


def csv_batches(
    path: str, cols: Columns, names: list[str], delimiter: str, by_type: pa.DataType | None = None
) -> Iterator[pa.RecordBatch]:
    """The file's record batches (pyarrow's multi-threaded parser); ``by_type``: the
    type the by column is read as (None: text)."""
    # start-up time: pyarrow.csv is needed only for CSV files
    import pyarrow.csv as pacsv

    by = cols.by if cols.by in names and by_type is not None and _casts(by_type) else None
    for rb in pacsv.open_csv(path, **_options(cols, names, delimiter, True, by_type)):
        rb = _empty_text_as_null(rb)
        yield rb if by is None or by_type is None else _typed_by(rb, by, by_type, path, delimiter)


def _error_again(
    path: str, cols: Columns, names: list[str], delimiter: str, by_type: pa.DataType | None
) -> str:
    """The error message of a single-threaded parse, which names the row ('' if none)."""
    # start-up time: pyarrow.csv is needed only for CSV files
    import pyarrow.csv as pacsv

    try:
        for _ in pacsv.open_csv(path, **_options(cols, names, delimiter, False, by_type)):
            pass
    except pa.ArrowInvalid as e:
        return str(e)
    return ""


def _target_values(path: str, target: str, delimiter: str) -> list[Any]:
    """The distinct values of the target column in the file's first block, as text."""
    # start-up time: pyarrow.csv and pyarrow.compute are needed only on this error path
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=1 << 20),
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
        convert_options=pacsv.ConvertOptions(
            include_columns=[target], column_types={target: pa.string()}
        ),
    )
    batch = next(iter(reader))
    return sorted(v for v in pc.unique(batch.column(0)).to_pylist() if v)  # "": missing


def _bad_value(
    column: str, value: str, at: str, path: str, cols: Columns, by_type: pa.DataType | None
) -> DataError:
    """A value that is not of its column's type (a number, or the by column's type)."""
    if column == cols.by and by_type is not None:
        return DataError(
            f"values of type {by_type} in the by column {column!r} of {path} (its type in "
            "the Parquet files of the run)",
            f"{at} holds {value!r}",
            "fix that row (only an empty cell is a missing value), or write the by column "
            "as text in the Parquet files too (a CSV file's by column is text unless "
            "Parquet files give it a type)",
        )
    fix = "fix or remove that row (empty cells count as missing values)"
    if _DECIMAL_COMMA.fullmatch(value):
        fix = (
            f"numbers are read with a decimal point: write {value.replace(',', '.')} "
            "(export the file with '.' as the decimal separator)"
        )
    return DataError(
        f"numbers in column {column!r} of {path}",
        f"{at} holds {value!r}, which is not a number",
        fix,
    )


def explain_csv_error(
    err: pa.ArrowInvalid,
    path: str,
    cols: Columns,
    header: list[str],
    delimiter: str,
    by_type: pa.DataType | None = None,
) -> DataError | None:
    """A clear error for a bad value, bytes that are not UTF-8 or a malformed row, naming
    the column and the line (``by_type``: as for :func:`csv_batches`)."""
    names = [c for c in dict.fromkeys(cols.needed) if c in header]
    msg = str(err).strip()

    def line_of(pattern: re.Pattern[str], group: int, line: str | None) -> str | None:
        if line is not None:
            return line
        found = pattern.search(_error_again(path, cols, names, delimiter, by_type))
        return found.group(group) if found is not None else None

    def column_of(index: str) -> str:
        return header[int(index)] if int(index) < len(header) else f"#{index}"

    utf8 = _UTF8.search(msg)
    if utf8 is not None:
        index, line = utf8.groups()
        return _not_utf8(path, f"column {column_of(index)!r}", line_of(_UTF8, 2, line))
    conv = _CONVERSION.search(msg)
    if conv is not None:
        index, line, _, value = conv.groups()
        column = column_of(index)
        if column == cols.target and cols.positive_label is None:
            return text_target_error(column, _target_values(path, column, delimiter), path)
        line = line_of(_CONVERSION, 2, line)
        at = f"line {line}" if line is not None else "a line"
        return _bad_value(column, value, at, path, cols, by_type)
    parse = _PARSE.search(msg)
    if parse is not None:
        line, what = parse.groups()
        line = line_of(_PARSE, 1, line)
        at = f"line {line}" if line is not None else "a line"
        sep = "tab" if delimiter == "\t" else repr(delimiter)
        return DataError(
            f"rows of {len(header)} fields separated by {sep} in {path} (like its header)",
            f"{at}: {what}",
            "fix that row, or pass the file's delimiter if it is not the default",
        )
    return None
