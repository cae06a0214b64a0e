"""Reading the user's CSV/TSV/Parquet tables with pyarrow, with errors a person can act on.

Every problem names what it found: the distinct target values (and the
``positive_label`` that would map them to 0/1), the rows and columns with missing
values, the non-numeric column and its first bad row, or the columns that do exist.
A ``.tsv`` file is tab-separated; ``delimiter=`` sets another separator.  The label
rules are shared with :func:`bcelab.evaluate` (:mod:`bcelab._core.tables`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._core.display import count_of
from .._core.passthrough import text_column_types
from .._core.tables import (
    Label,
    column_hint,
    default_delimiter,
    describe_values,
    format_value,
    is_text_type,
    label_mask,
    refuse_repeated,
    suggest_label,
    table_kind,
    text_target_error,
)
from ..errors import DataError, DomainError

__all__ = ["OUTPUT_COLUMNS", "features_array", "parquet_schema", "read_table", "to_xy"]

#: the columns that :func:`bcelab.train.predict` adds to its input rows
OUTPUT_COLUMNS = ("logit", "pred")


def _table_path(path: str | Path) -> tuple[Path, str]:
    """The path of an existing table file and its kind (``"parquet"`` or ``"text"``)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(
            "an existing CSV or Parquet file",
            f"received {str(p)!r}, which does not exist",
            "check the path",
        )
    kind = table_kind(p)
    if kind is None:
        raise DataError(
            "a file ending in .csv, .tsv or .parquet",
            f"received {p.name!r}",
            "rename a file of comma-separated fields to .csv (tab-separated: .tsv), "
            "or convert the table to CSV or Parquet",
        )
    return p, kind


def _unreadable(p: Path, kind: str, sep: str, e: Exception) -> DataError:
    shown = "tab" if sep == "\t" else repr(sep)
    hint = "" if kind == "parquet" else f" separated by {shown} (delimiter=)"
    return DataError(
        f"a readable {kind} file",
        f"reading {p} failed: {e}",
        f"check that the file is a valid, non-empty table with a header row{hint}",
    )


def read_table(
    path: str | Path,
    /,
    *,
    delimiter: str | None = None,
    numbers: Collection[str] | None = None,
) -> Any:
    """A ``pyarrow.Table`` from a ``.csv``/``.tsv`` (tab) or ``.parquet`` file.

    ``delimiter`` separates the fields of a text file (default: tab for ``.tsv``, else comma).
    ``numbers``: the columns of a text file whose types are inferred (numbers, booleans);
    every other column is read as text, as written, to be copied unchanged.  None: every
    column's type is inferred.
    """
    p, kind = _table_path(path)
    sep = default_delimiter(str(p)) if delimiter is None else delimiter
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq  # optional dependency (bcelab[eval])

            return pq.read_table(p)
        import pyarrow.csv as pcsv  # optional dependency (bcelab[eval])

        parse = pcsv.ParseOptions(delimiter=sep)
        types = {}
        if numbers is not None:
            with pcsv.open_csv(p, parse_options=parse) as head:  # the header's names
                types = text_column_types(head.schema.names, numbers)
        return pcsv.read_csv(
            p, parse_options=parse, convert_options=pcsv.ConvertOptions(column_types=types)
        )
    except Exception as e:  # pyarrow raises its own exception family
        raise _unreadable(p, kind, sep, e) from None


def parquet_schema(path: str | Path, /) -> Any | None:
    """The ``pyarrow.Schema`` of a ``.parquet`` file, from its footer (no row is read);
    None for a text file, whose columns are numbers or text."""
    p, kind = _table_path(path)
    if kind != "parquet":
        return None
    import pyarrow.parquet as pq  # optional dependency (bcelab[eval])

    try:
        return pq.read_schema(p)
    except Exception as e:  # pyarrow raises its own exception family
        raise _unreadable(p, kind, ",", e) from None


def _rows_list(idx: np.ndarray) -> str:
    shown = ", ".join(str(int(i) + 1) for i in idx[:10])
    return shown + (f" and {len(idx) - 10} more" if len(idx) > 10 else "")


def _row_note(source: str) -> str:
    """How data rows are counted, for a CSV/TSV file (whose first line is the header)."""
    return " (1 = first row after the header)" if table_kind(source) == "text" else ""


def _first_text(values: list[Any]) -> tuple[int, Any] | None:
    """The first (row, value) that is not a number, or None."""
    for i, v in enumerate(values):
        if v is None:
            continue
        try:
            float(v)
        except (TypeError, ValueError):
            return i, v
    return None


#: the fix for a text feature column, when the caller chooses the features
LEAVE_OUT = "or leave it out: name the other columns in features="


def _numeric(tab: Any, name: str, source: str, fix: str = LEAVE_OUT) -> np.ndarray:
    import pyarrow.types as pat  # optional dependency (bcelab[eval])

    col = tab.column(name)
    t = col.type
    if not (pat.is_integer(t) or pat.is_floating(t) or pat.is_boolean(t) or pat.is_null(t)):
        values = col.to_pylist()
        bad = _first_text(values)
        if bad is not None:
            where = f"{bad[1]!r} in data row {bad[0] + 1}{_row_note(source)}"
        else:  # numbers stored as text (a Parquet or DataFrame column of strings)
            first = next((v for v in values if v is not None), None)
            where = f"a column of type {t}" + ("" if first is None else f" (e.g. {first!r})")
        raise DataError(
            f"column {name!r} of {source} must be numeric",
            f"received {where}",
            f"encode {name!r} as numbers, {fix}",
        )
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)


def _unmatched_label(col: Any, label: Label, name: str, source: str) -> DataError:
    """The error for a ``positive_label`` (text or a number) that matches no row."""
    import pyarrow.compute as pc  # optional dependency (bcelab[eval])

    values = [v for v in pc.unique(col).to_pylist() if v is not None and v == v]
    try:
        values.sort()
    except TypeError:  # mixed types
        values.sort(key=str)
    held = f"whose values are {describe_values(values)}" if values else "which holds no values"
    if values and all(v in (0, 1) for v in values):
        fix = "pass positive_label=None: the column holds 0/1 labels already"
    else:
        fix = f"pass one of its values, e.g. positive_label={format_value(suggest_label(values))}"
    return DataError(
        f"a positive label that is one of the values of the target column {name!r}",
        f"positive_label={format_value(label)} matches no row of {source}, {held}",
        fix,
    )


def _target(
    tab: Any, name: str, source: str, positive_label: Label | None, label_required: bool
) -> np.ndarray:
    """The target column as numbers: mapped to 1/0 with ``positive_label`` (missing stays
    NaN; with ``label_required``, a label that matches no row is refused), else numeric
    as it is (text is refused with the labels found)."""
    col = tab.column(name)
    if positive_label is not None:
        import pyarrow as pa  # optional dependency (bcelab[eval])
        import pyarrow.compute as pc  # optional dependency (bcelab[eval])

        eq = label_mask(col, positive_label, name, source)
        if label_required and not pc.any(eq).as_py():
            raise _unmatched_label(col, positive_label, name, source)
        return np.asarray(eq.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    if is_text_type(col.type):
        values = sorted({str(v) for v in col.to_pylist() if v is not None})
        err = text_target_error(name, values, source)
        raise DomainError(err.expected, err.received, err.fix)
    return _numeric(tab, name, source, "or name its positive value in positive_label=")


def _check_targets(y: np.ndarray, target: str, source: str) -> None:
    """Targets in [0, 1], or an error naming the values and the ``positive_label`` to pass."""
    if not y.size or ((y >= 0) & (y <= 1)).all():
        return
    values = np.unique(y).tolist()
    label = format_value(suggest_label(values))
    fix = f"pass positive_label={label} to count {label} as 1 and every other value as 0"
    if len(values) > 2:
        fix += ", or rescale the column into [0, 1]"
    raise DomainError(
        f"target column {target!r} with 0/1 labels or soft targets in [0, 1]",
        f"found {len(values)} distinct values in {source}: {describe_values(values, 20)}",
        fix,
    )


def _refuse_output_names(feats: Sequence[str], *, named: bool, source: str) -> None:
    """A feature column named like a column that predict adds (``logit``, ``pred``) would
    make a model that predict can never use: its input rows would hold the output's name."""
    taken = [f for f in feats if f in OUTPUT_COLUMNS]
    if not taken:
        return
    how = "leave it out of features=" if named else "name the other features with features="
    raise DataError(
        f"feature columns not named {list(OUTPUT_COLUMNS)}, the columns that predict adds "
        "to its output (a model with such a feature could never be used by predict)",
        f"{source} has the feature column {taken[0]!r}",
        f"rename that column in the training and test tables (e.g. to '{taken[0]}_in'), or {how}",
    )


def _columns(
    cols: list[str], target: str, features: Sequence[str] | None, source: str
) -> tuple[str, ...]:
    """The feature columns, checked against the header."""
    wanted = [target, *(features if features is not None else [c for c in cols if c != target])]
    missing = [c for c in wanted if c not in cols]
    if missing:
        fix = "spell the target and feature columns as in the header (case matters)"
        hint = column_hint(missing, cols)
        fix = f"{hint} {fix}" if hint else fix
        sep = next((c for c in ";\t|," if len(cols) == 1 and c in cols[0]), None)
        if sep is not None:  # one column whose name holds a separator: another delimiter
            fix = f"the header has one column: if the fields are separated by {sep!r}, pass delimiter={sep!r}"
        raise DataError(
            f"columns {missing} must exist in {source}", f"the columns available are {cols}", fix
        )
    refuse_repeated(cols, wanted, source)
    feats = tuple(wanted[1:])
    if not feats and features is not None:
        raise DataError(
            "at least one feature column",
            "an empty list of features",
            "name the feature columns, or leave the features out to use every column "
            "but the target",
        )
    if not feats:
        raise DataError(
            "at least one feature column besides the target",
            f"{source} has only {cols}",
            "add feature columns to the table, or name the columns to use with features=",
        )
    _refuse_output_names(feats, named=features is not None, source=source)
    twice = [f for i, f in enumerate(feats) if f in feats[:i]]
    if twice:  # "a,a" for "a,b": the same column twice only looks like two features
        raise DataError(
            "each feature column named once",
            f"features {list(feats)}, which name {twice[0]!r} {feats.count(twice[0])} times",
            f"name {twice[0]!r} once (the columns available are {cols})",
        )
    if target in feats:
        raise DataError(
            "the target must not also be a feature",
            f"received features {list(feats)}",
            f"remove {target!r} from the features",
        )
    return feats


def features_array(
    tab: Any, features: Sequence[str], source: str, fix: str = LEAVE_OUT
) -> np.ndarray:
    """The feature columns ``(N, D)`` as float64 (missing values NaN); ``fix`` ends the
    error for a column that is not numeric."""
    return np.stack([_numeric(tab, f, source, fix) for f in features], axis=1)


def to_xy(
    tab: Any,
    /,
    *,
    target: str,
    features: Sequence[str] | None,
    dropna: bool,
    source: str,
    positive_label: Label | None = None,
    label_required: bool = True,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """Features ``(N, D)`` float64, targets ``(N,)`` in [0, 1], the feature names and notes.

    ``label_required``: a ``positive_label`` must match at least one row (the training
    table's rule: else every target would be 0; a test table may hold no positive row).
    """
    feats = _columns(list(tab.column_names), target, features, source)
    y = _target(tab, target, source, positive_label, label_required)
    x = features_array(tab, feats, source)
    notes: tuple[str, ...] = (f"{source}: target {target!r}, features {list(feats)}",)
    if positive_label is not None:
        notes = (*notes, f"target {format_value(positive_label)} is 1, every other value 0")
    bad = np.isnan(y) | np.isnan(x).any(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        if not dropna:
            bad_cols = [
                c for c, v in zip((target, *feats), (y, *x.T), strict=True) if np.isnan(v).any()
            ]
            raise DataError(
                f"{source} must have no missing values in the columns used",
                f"missing values in columns {bad_cols}, data rows {_rows_list(rows)}"
                + _row_note(source),
                "fill them in, or drop those rows (dropna=True)",
            )
        x, y = x[~bad], y[~bad]
        notes = (*notes, f"dropped {count_of(len(rows), 'row')} with missing values")
    if not np.isfinite(x).all():
        rows = np.flatnonzero(~np.isfinite(x).all(axis=1))
        inf_cols = [f for f, v in zip(feats, x.T, strict=True) if not np.isfinite(v).all()]
        raise DataError(
            "finite feature values",
            f"inf in columns {inf_cols}, data rows {_rows_list(rows)} of {source}",
            "replace the infinite values",
        )
    _check_targets(y, target, source)
    if x.shape[0] == 0:
        empty = tab.num_rows == 0
        raise DataError(
            f"{source} must contain at least one usable row",
            "received no data rows" + (" (only the header)" if _row_note(source) else "")
            if empty
            else f"every row has a missing value ({count_of(tab.num_rows, 'row')}), and "
            "dropna=True drops those",
            "add rows of data to the table"
            if empty
            else "fill in the missing values, or leave out dropna=",
        )
    return x, y, feats, notes
