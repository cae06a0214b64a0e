"""Apply a fitted recalibration map to new rows: a file in, the same rows plus one column out.

:func:`recalibrate_file` streams a Parquet or CSV file in record batches, applies the
map to the prediction column, and writes every input column plus the recalibrated
probability (``pred_recalibrated`` unless ``out_column=`` says otherwise; null where the
prediction is missing) to Parquet or CSV, chosen by the output's extension.  For a CSV
output the other columns of a CSV input are read as text and copied as written (ids keep
their leading zeros and every digit); for a Parquet output they get the types pyarrow
infers, as any CSV read into Parquet.  The output
is written to a temporary file beside it and renamed when complete.

The map comes from :meth:`bcelab.metrics.RecalibrationMap.save`, from
``bcelab eval --recalibrate ... --save-map FILE`` or from a report folder written with
``--recalibrate`` (its ``map.json``); the last two also name the prediction column the
map was fitted on, used when neither ``preds=`` nor ``logits=`` is given.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .._core.atomic import atomic_open
from .._core.passthrough import check_csv_writable, text_column_types
from .._core.tables import PARQUET_SUFFIXES, TEXT_SUFFIXES, check_delimiter, refuse_repeated
from ..errors import BCELabError, DataError, OptionError
from ..metrics import RecalibrationMap, load_map
from .columns import numeric_array
from .csv_source import check_complete, csv_header, default_delimiter
from .discovery import CSV_SUFFIXES, discover
from .parquet_source import READ_ERRORS, open_parquet

__all__ = [
    "BATCH_ROWS",
    "DEFAULT_COLUMN",
    "MAP_FILE",
    "RecalibratedFile",
    "load_fitted",
    "recalibrate_file",
]

#: Rows per batch: every column of the file is read and written, so a wide file's batch
#: stays a quarter of the evaluation's (which reads two or three columns)
BATCH_ROWS = 1 << 18

DEFAULT_COLUMN = "pred_recalibrated"
MAP_FILE = "map.json"  # the map inside a report folder
OUT_SUFFIXES = (*PARQUET_SUFFIXES, *TEXT_SUFFIXES)


@dataclass(frozen=True)
class RecalibratedFile:
    """What :func:`recalibrate_file` wrote."""

    path: Path
    rows: int
    column: str
    recalibration_map: RecalibrationMap


def load_fitted(source: object) -> tuple[RecalibrationMap, dict[str, str]]:
    """The map and the columns it names (``{"pred": ...}``, ``{"logit": ...}`` or ``{}``).

    ``source``: a :class:`RecalibrationMap`, a dict (``to_dict()``), a JSON file, or a
    report folder that holds ``map.json``.
    """
    if isinstance(source, RecalibrationMap):
        return source, {}
    if isinstance(source, Mapping):
        doc: Any = source
        return load_map(source), _named_columns(doc)
    if not isinstance(source, (str, os.PathLike)):
        raise OptionError(
            "recalibrate_file: fitted must be a RecalibrationMap, its dict, a map JSON file "
            "or a report folder",
            f"received a {type(source).__name__}",
            "pass the map file written by RecalibrationMap.save, or a report folder",
        )
    path = Path(source)
    if path.is_dir():
        if not (path / MAP_FILE).is_file():
            raise DataError(
                f"a report folder written with a recalibration (it holds {MAP_FILE})",
                f"{path} has no {MAP_FILE}",
                "pass the map JSON file, or a folder written by write_report for an "
                "evaluation with recalibrate=",
            )
        path = path / MAP_FILE
    fitted = load_map(path)  # errors name the file
    doc = json.loads(path.read_text(encoding="utf-8"))
    return fitted, _named_columns(doc)


def _named_columns(doc: Mapping[str, Any]) -> dict[str, str]:
    cols = doc.get("columns")
    if not isinstance(cols, Mapping):
        return {}
    return {k: v for k, v in cols.items() if k in ("pred", "logit") and isinstance(v, str)}


def _prediction(preds: str | None, logits: str | None, named: dict[str, str]) -> tuple[str, bool]:
    if preds is not None and logits is not None:
        raise OptionError(
            "recalibrate_file: at most one prediction column, preds= or logits=",
            f"received preds={preds!r} and logits={logits!r}",
            "name the column with the keyword that matches its values",
        )
    if preds is not None or logits is not None:
        return str(preds if preds is not None else logits), logits is not None
    if "logit" in named:
        return named["logit"], True
    if "pred" in named:
        return named["pred"], False
    raise OptionError(
        "recalibrate_file: the prediction column, preds= (probabilities) or logits= (raw "
        "scores); a map saved by RecalibrationMap.save does not name it",
        "received neither",
        "pass preds='p' (or logits='z')",
    )


def _writer_kind(out: Path) -> str:
    name = out.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    raise OptionError(
        f"recalibrate_file: out must end in one of {', '.join(OUT_SUFFIXES)}",
        f"received {out.name!r}",
        f"end the name in .parquet or .csv, e.g. {out.with_suffix('.parquet')}",
    )


def check_paths(data: object, out: object, *, overwrite: bool) -> tuple[Path, str, Path]:
    """The input file and its kind (``'parquet'`` or ``'csv'``) and the output path."""
    src = Path(data)  # type: ignore[arg-type]
    one_file = f"one Parquet or CSV file ({', '.join(PARQUET_SUFFIXES + CSV_SUFFIXES)})"
    if not src.exists():
        raise DataError(f"data must name {one_file}", f"{src} does not exist", "check the path")
    if src.is_dir():
        raise DataError(
            f"data must be {one_file}",
            f"{src} is a folder",
            "pass one file; run once per file for a folder",
        )
    try:
        ((path, kind, _),) = discover([src])  # exists, with a known suffix
    except DataError as e:
        raise DataError(f"data must name {e.expected}", e.received, e.fix) from None
    target = Path(out)  # type: ignore[arg-type]
    _writer_kind(target)
    if target.exists() and not overwrite:
        raise OptionError(
            "recalibrate_file: out must not exist (or pass overwrite=True)",
            f"{target} exists",
            "choose a new path, or pass overwrite=True to replace it",
        )
    return path, kind, target


def _batches(
    path: Path, kind: str, delimiter: str | None, pred: str, *, as_written: bool
) -> tuple[pa.Schema, Iterator[Any]]:
    """The file's schema and its batches; an empty or unreadable file is the evaluation's
    :class:`DataError` (the same checks and words as ``bcelab eval``).  Of a CSV file
    with ``as_written`` (a CSV output), every column but ``pred`` is read as text, as
    written, to be copied unchanged; else every column's type is inferred."""
    if kind == "parquet":
        # every column is read: through the reader's buffer, so memory stays bounded
        pf = open_parquet(str(path), buffered=True)
        return pf.schema_arrow, pf.iter_batches(batch_size=BATCH_ROWS, use_threads=False)
    sep = default_delimiter(str(path)) if delimiter is None else delimiter
    names = csv_header(str(path), sep)  # empty, headless, unreadable: the evaluation's errors
    check_complete(str(path))  # a last row cut short is not a row to recalibrate
    # start-up time: pyarrow.csv is needed only for CSV files
    import pyarrow.csv as pacsv

    reader = pacsv.open_csv(
        path,
        parse_options=pacsv.ParseOptions(delimiter=sep),
        convert_options=pacsv.ConvertOptions(
            column_types=text_column_types(names, {pred}) if as_written else {}
        ),
    )
    return reader.schema, iter(reader)


def recalibrate_file(
    fitted: object,
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    preds: str | None = None,
    logits: str | None = None,
    out_column: str = DEFAULT_COLUMN,
    delimiter: str | None = None,
    overwrite: bool = False,
) -> RecalibratedFile:
    """Write the rows of ``data`` plus ``out_column``, the recalibrated probability, to ``out``.

    ``fitted``: see :func:`load_fitted`.  ``preds=``/``logits=``: the prediction column
    (default: the one the map names).  ``out`` ends in ``.parquet`` (also ``.parq``,
    ``.pq``) or ``.csv``/``.tsv``; it must not exist unless ``overwrite=True``.
    ``delimiter``: the input CSV's separator (default: tab for ``.tsv``, else comma).
    From a CSV input to a CSV ``out`` the other columns are copied as written (read as
    text); to a Parquet ``out`` they get the types pyarrow infers.
    """
    sep = check_delimiter(delimiter, fname="recalibrate_file")
    path, kind, target = check_paths(data, out, overwrite=overwrite)
    recal_map, named = load_fitted(fitted)
    name, is_logit = _prediction(preds, logits, named)
    csv_out = _writer_kind(target) == "csv"
    try:
        schema, batches = _batches(path, kind, sep, name, as_written=csv_out)
    except (pa.ArrowException, OSError) as e:  # CSV; a Parquet file's are DataErrors already
        raise DataError(
            f"a readable {kind} file at {path}", str(e).splitlines()[0], "check the file"
        ) from None
    _check_names(schema.names, name, out_column, path)
    if csv_out:
        parquet = target.with_suffix(".parquet")
        check_csv_writable(schema, str(path), f"write a Parquet file instead: out='{parquet}'")
    field = pa.field(out_column, pa.float64())
    advice = _logit_advice(name, preds)
    rows = 0
    with atomic_open(target, "wb") as fh:
        writer = _writer(target, fh, schema.append(field))
        try:
            for rb in _read(batches, path):
                where = f"{path}, rows {rows}-{rows + rb.num_rows - 1}"
                p = numeric_array(rb.column(name), name, where)
                q = _apply(recal_map, p, is_logit, where, rows, advice)
                writer.write_batch(rb.append_column(field, pa.array(q, mask=np.isnan(q))))
                rows += rb.num_rows
        finally:
            writer.close()
    return RecalibratedFile(target, rows, out_column, recal_map)


def _check_names(names: list[str], pred: str, column: str, path: Path) -> None:
    if pred not in names:
        raise DataError(
            f"the prediction column {pred!r} in {path}",
            f"it is not there; the columns are {names[:20]}",
            "name the column with preds= or logits=",
        )
    refuse_repeated(names, [pred], str(path))
    if column in names:
        raise DataError(
            f"a new name for the recalibrated column (out_column={column!r})",
            f"{path} already has a column {column!r}",
            "pass another out_column=",
        )


def _read(batches: Iterator[Any], path: Path) -> Iterator[pa.RecordBatch]:
    """The batches, with a read failure (a bad CSV value, a corrupt page) as a DataError."""
    while True:
        try:
            rb = next(batches)
        except StopIteration:
            return
        except READ_ERRORS as e:
            raise DataError(
                f"a readable file at {path}",
                str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__,
                "check the file; for a CSV file with mixed types, write it as Parquet",
            ) from None
        yield rb


def _logit_advice(name: str, preds: str | None) -> str:
    """How to read the column ``name`` as logits: ``logits=`` of this function takes the
    column's name (where the map's ``apply`` takes ``logits=True``)."""
    if preds is None:  # the map named the column
        return f"pass logits={name!r}"
    return f"name the column with logits={name!r} instead of preds={name!r}"


def _apply(
    recal_map: RecalibrationMap,
    p: np.ndarray,
    logits: bool,
    where: str,
    first_row: int,
    advice: str,
) -> np.ndarray:
    """The map applied to a batch whose first row is the file's row ``first_row``; an
    error names the file's row, and ``advice`` (:func:`_logit_advice`) is its fix for
    probabilities that look like logits."""
    try:
        return recal_map.apply(p, logits=logits)
    except BCELabError as e:
        received = e.received_at(f"row {first_row + (e.row or 0)}")
        fix = e.fix.replace("pass logits=True", advice)
        raise type(e)(e.expected, f"{received} (in {where})", fix) from None


def _writer(target: Path, fh: Any, schema: pa.Schema) -> Any:
    if _writer_kind(target) == "parquet":
        return pq.ParquetWriter(fh, schema)
    # start-up time: pyarrow.csv is needed only for CSV files
    import pyarrow.csv as pacsv

    sep = "\t" if target.name.lower().endswith(".tsv") else ","
    return pacsv.CSVWriter(fh, schema, write_options=pacsv.WriteOptions(delimiter=sep))
