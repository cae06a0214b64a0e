"""Tables as users have them: the labels of a target column, and the delimiter of a text table.

Shared by :mod:`bcelab.evaluation` (``evaluate``, ``bcelab eval``) and :mod:`bcelab.train`
(``load_table``, ``bcelab train file``, ``predict``).  A target column of labels
(``{-1, 1}``, ``0..255``, ``yes``/``no``, ``True``/``False``) is mapped with
``positive_label`` (that value is 1, every other value 0, a missing value stays missing)
or refused with an error that names the values found and suggests the label.

pyarrow (an optional dependency) is imported only by the functions that take Arrow columns.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError, DTypeError, OptionError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "COMPRESSED",
    "PARQUET_SUFFIXES",
    "TEXT_SUFFIXES",
    "Label",
    "check_delimiter",
    "check_positive_label",
    "column_hint",
    "default_delimiter",
    "delimiter_problem",
    "describe_values",
    "format_value",
    "is_text_type",
    "label_mask",
    "refuse_empty_file",
    "refuse_repeated",
    "suggest_label",
    "table_kind",
    "text_target_error",
]

Label = str | int | float | bool

#: compressed text tables that pyarrow reads directly
COMPRESSED = (".gz", ".bz2", ".zst")
#: the names of the tables bcelab reads: Parquet, and text (also ending in COMPRESSED)
PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
TEXT_SUFFIXES = (".csv", ".tsv")

# text values that usually mean "the positive class", in order of preference
_POSITIVE_WORDS = ("1", "yes", "true", "y", "t", "pos", "positive")


def table_kind(path: str | os.PathLike[str]) -> str | None:
    """``"parquet"``, ``"text"`` (CSV or TSV, also compressed) or None, by the file's name."""
    name = os.path.basename(os.fspath(path)).lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    for ext in COMPRESSED:
        name = name.removesuffix(ext)
    return "text" if name.endswith(TEXT_SUFFIXES) else None


def delimiter_problem(sep: str) -> str | None:
    """Why pyarrow's CSV reader cannot split fields at the one character ``sep`` (it
    takes an ASCII character other than a line break), or None when it can."""
    if sep in ("\r", "\n"):
        return "a line break"
    if not 0 < ord(sep) < 128:
        return "not an ASCII character"
    return None


def check_delimiter(delimiter: object, *, fname: str) -> str | None:
    """The CSV separator: None (tab for ``.tsv``, else comma) or one ASCII character."""
    if delimiter is None:
        return None
    if isinstance(delimiter, str) and len(delimiter) == 1:
        problem = delimiter_problem(delimiter)
        if problem is None:
            return delimiter
        received = f"received delimiter={delimiter!r}, {problem}"
    else:
        received = f"received delimiter={delimiter!r}"
    raise OptionError(
        f"{fname}: delimiter must be one character (the CSV field separator), ASCII and "
        "not a line break",
        received,
        "pass delimiter='\\t' for tab-separated files, or leave it out (tab for .tsv, else comma)",
    )


def default_delimiter(path: str) -> str:
    """Tab for ``.tsv`` (also compressed), else comma."""
    name = path.lower()
    for ext in COMPRESSED:
        name = name.removesuffix(ext)
    return "\t" if name.endswith(".tsv") else ","


def refuse_empty_file(path: str, expected: str) -> None:
    """A :class:`DataError` when the file at ``path`` has 0 bytes (``expected``: what the
    caller reads there, such as ``"a Parquet file"``)."""
    if os.path.getsize(path) == 0:
        raise DataError(
            f"{expected} at {path}",
            "the file is empty (0 bytes)",
            "re-export the predictions; the writer probably failed",
        )


def check_positive_label(value: object, *, fname: str = "evaluate") -> Label | None:
    """``value`` as a label: None, a non-empty string, a finite number or a bool."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str) and value:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return value
    raise OptionError(
        f"{fname}: positive_label must be the value of the positive class: a string, "
        "a finite number or a bool",
        f"received positive_label={value!r}",
        "pass e.g. positive_label=1 or positive_label='yes'",
    )


def format_value(v: object) -> str:
    """A value as the user would type it: ``1`` not ``1.0``, text quoted."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return repr(v)


def describe_values(values: list[Any], limit: int = 8) -> str:
    """``'no', 'yes'`` or ``8 of 256 distinct values: 0, 1, ...``."""
    shown = ", ".join(format_value(v) for v in values[:limit])
    if len(values) <= limit:
        return shown
    return f"{len(values)} distinct values: {shown}, ..."


def suggest_label(values: list[Any]) -> Any:
    """The value most likely meant as positive: 1/yes/true if present, else the largest;
    never an infinite or NaN number (no label: 1 when only those are left)."""
    values = [v for v in values if not (isinstance(v, float) and not math.isfinite(v))]
    if not values:
        return 1
    by_text = {str(v).strip().lower(): v for v in values}
    for word in _POSITIVE_WORDS:
        if word in by_text:
            return by_text[word]
    try:
        return max(values)
    except TypeError:  # mixed types
        return values[-1]


def text_target_error(name: str, values: list[Any], where: str) -> DataError:
    """The error for a target column of text (or other labels) without ``positive_label``."""
    label = format_value(suggest_label(values))
    return DataError(
        f"target column {name!r} with numbers in [0, 1] (0/1 labels or probabilities)",
        f"it holds text labels in {where}: {describe_values(values)}",
        f"pass positive_label={label} to count {label} as 1 and every other value as 0",
    )


def is_text_type(t: pa.DataType) -> bool:
    """Arrow's string types (dictionary-encoded ones too)."""
    import pyarrow as pa  # optional dependency (the eval extra)

    if pa.types.is_dictionary(t):
        t = t.value_type
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))


def _as_bool(label: Label, name: str) -> bool:
    if isinstance(label, bool):
        return label
    text = str(label).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise DataError(
        f"a positive_label that matches the True/False values of the target column {name!r}",
        f"received positive_label={label!r}",
        "pass positive_label=True",
    )


def _as_number(label: Label) -> float | None:
    try:
        return float(label)
    except (TypeError, ValueError):
        return None


def _same_but_case_or_spaces(a: str, b: str) -> bool:
    """Whether two names or labels differ at most in case and surrounding spaces."""
    return a.strip().casefold() == b.strip().casefold()


def _check_label_spelling(col: Any, label: str, name: str, where: str) -> None:
    """Refuse a label that matches no row of a text column but one of its values in another
    case or with spaces around it ('YES' for 'yes'): a typo that would make every target 0."""
    import pyarrow.compute as pc

    values = sorted(v for v in pc.unique(col).to_pylist() if v is not None)
    close = [v for v in values if _same_but_case_or_spaces(v, label)]
    if close:
        raise DataError(
            f"a positive label spelt as in the target column {name!r} (case matters)",
            f"positive_label={label!r} matches no row of {where}, whose values are "
            f"{describe_values(values)}",
            f"pass positive_label={close[0]!r}",
        )


def label_mask(col: pa.Array | pa.ChunkedArray, label: Label, name: str, where: str) -> Any:
    """A boolean Arrow array: the column equals ``label`` (null where the column is null)."""
    import pyarrow as pa  # optional dependency (the eval extra)
    import pyarrow.compute as pc  # start-up time: needed only with labels

    t = col.type
    if pa.types.is_dictionary(t):
        col = col.cast(t.value_type)
        t = col.type
    if pa.types.is_string_view(t):  # pyarrow.compute compares plain strings only
        col = col.cast(pa.large_string())
        t = col.type
    if pa.types.is_boolean(t):
        return pc.equal(col, pa.scalar(_as_bool(label, name)))
    if pa.types.is_null(t):
        return col.cast(pa.bool_())
    number = _as_number(label)
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        if number is None:
            raise DataError(
                f"a positive_label that is one of the numbers in the target column {name!r}",
                f"received the text positive_label={label!r}; the column holds numbers ({where})",
                "pass the number of the positive class, e.g. positive_label=1",
            )
        numbers = col.cast(pa.float64())
        missing = pa.scalar(None, type=pa.bool_())  # NaN is a missing label, like null
        return pc.if_else(pc.is_nan(numbers), missing, pc.equal(numbers, pa.scalar(number)))
    if is_text_type(t):
        if isinstance(label, str) or number is None:
            eq = pc.equal(col, pa.scalar(str(label)))
            if not pc.any(eq).as_py():
                _check_label_spelling(col, str(label), name, where)
            return eq
        try:  # a number given for a column of numbers written as text
            return pc.equal(col.cast(pa.float64()), pa.scalar(number))
        except pa.ArrowInvalid:
            return pc.equal(col, pa.scalar(str(label)))
    raise DTypeError(
        f"target column {name!r} in {where} holding numbers, text or booleans",
        f"its type is {t}",
        "convert it when writing the file",
    )


def _close_name(wanted: str, names: Sequence[str]) -> str | None:
    """The column ``wanted`` probably meant: the same name in another case or with spaces
    around it, else the one close match (``difflib``), else None."""
    same = [n for n in names if _same_but_case_or_spaces(n, wanted)]
    if same:
        return same[0]
    close = difflib.get_close_matches(wanted, list(names), n=1, cutoff=0.75)
    return close[0] if close else None


def column_hint(missing: Sequence[str], names: Sequence[str]) -> str | None:
    """``"did you mean 'p' for 'P'?"`` for the ``missing`` column names that are near one
    of ``names`` (another case, spaces around it, or a close spelling); None when none is."""
    close = {m: _close_name(m, names) for m in missing}
    hints = [f"{n!r} for {m!r}" for m, n in close.items() if n is not None]
    return f"did you mean {', '.join(hints)}?" if hints else None


def refuse_repeated(names: Sequence[str], wanted: Sequence[str], where: str) -> None:
    """A wanted column whose name ``names`` holds more than once (a CSV header, a Parquet
    file or a DataFrame can repeat a name): which of them was meant is unknown."""
    names = list(names)
    for c in dict.fromkeys(wanted):
        if names.count(c) > 1:
            raise DataError(
                f"one column named {c!r} in {where}",
                f"{names.count(c)} of its columns have that name",
                "rename the repeated columns so that each name is unique",
            )
