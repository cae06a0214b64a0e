"""Columns as users have them: which column plays which role, and Arrow columns to NumPy.

Targets must lie in [0, 1].  A column of labels (``{-1, 1}``, ``0..255``, ``yes``/``no``)
is either mapped with ``positive_label`` (that value is 1, every other value 0, a missing
value stays missing) or refused with an error that names the values found; rows are
never dropped silently because their target is a label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import DataError, DTypeError, OptionError

__all__ = [
    "Columns",
    "Label",
    "by_codes",
    "check_positive_label",
    "describe_values",
    "is_text_type",
    "numeric_array",
    "suggest_label",
    "target_array",
    "text_target_error",
]

Label = str | int | float | bool

# text values that usually mean "the positive class", in order of preference
_POSITIVE_WORDS = ("1", "yes", "true", "y", "t", "pos", "positive")


@dataclass(frozen=True)
class Columns:
    """Which columns hold the target, the prediction (probability or logit), weight and segment.

    ``positive_label``: when set, the target column holds labels and this value is the
    positive class (1); every other value is 0.  A comparison of two models
    (:func:`bcelab.evaluation.compare`) also names model B's prediction ``pred_b``
    (``pred`` is model A's) and, optionally, a row ``id`` column.
    """

    target: str
    pred: str
    logits: bool = False
    weight: str | None = None
    by: str | None = None
    positive_label: Label | None = None
    pred_b: str | None = None
    id: str | None = None

    @property
    def numeric(self) -> tuple[str, ...]:
        cols = (self.target, self.pred, self.pred_b, self.weight)
        return tuple(c for c in cols if c is not None)

    @property
    def needed(self) -> tuple[str, ...]:
        return self.numeric + tuple(c for c in (self.by, self.id) if c is not None)


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


def _fmt(v: object) -> str:
    """A value as the user would type it: ``1`` not ``1.0``, text quoted."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return repr(v)


def describe_values(values: list[Any], limit: int = 8) -> str:
    """``'no', 'yes'`` or ``8 of 256 distinct values: 0, 1, ...``."""
    shown = ", ".join(_fmt(v) for v in values[:limit])
    if len(values) <= limit:
        return shown
    return f"{len(values)} distinct values: {shown}, ..."


def suggest_label(values: list[Any]) -> Any:
    """The value most likely meant as positive: 1/yes/true if present, else the largest."""
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
    label = suggest_label(values)
    return DataError(
        f"target column {name!r} with numbers in [0, 1] (0/1 labels or probabilities)",
        f"it holds text labels in {where}: {describe_values(values)}",
        f"pass positive_label={_fmt(label)} to count {_fmt(label)} as 1 and every other value as 0",
    )


def numeric_array(col: pa.Array | pa.ChunkedArray, name: str, where: str) -> np.ndarray:
    """A numeric Arrow column as float32/float64 NumPy (nulls become NaN, never dropped)."""
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
    return np.asarray(col.to_numpy(zero_copy_only=False))


def by_codes(col: pa.Array) -> tuple[np.ndarray, list[object]]:
    """Dictionary-encode a segment column: int64 codes (-1 for null) and the distinct values."""
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    # start-up time: pyarrow.compute is needed only with a by column or labels
    import pyarrow.compute as pc

    enc = pc.dictionary_encode(col)
    codes = np.asarray(enc.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    return codes, enc.dictionary.to_pylist()


def is_text_type(t: pa.DataType) -> bool:
    """Arrow's string types (dictionary-encoded ones too)."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


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


def _as_number(label: Label, name: str) -> float | None:
    try:
        return float(label)
    except (TypeError, ValueError):
        return None


def _labels(col: pa.Array, label: Label, name: str, where: str) -> pa.Array:
    """A boolean Arrow array: the column equals ``label`` (null where the column is null)."""
    # start-up time: pyarrow.compute is needed only with labels or a by column
    import pyarrow.compute as pc

    t = col.type
    if pa.types.is_boolean(t):
        return pc.equal(col, pa.scalar(_as_bool(label, name)))
    if pa.types.is_null(t):
        return col.cast(pa.bool_())
    number = _as_number(label, name)
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
            return pc.equal(col, pa.scalar(str(label)))
        try:  # a number given for a column of numbers written as text
            return pc.equal(col.cast(pa.float64()), pa.scalar(number))
        except pa.ArrowInvalid:
            return pc.equal(col, pa.scalar(str(label)))
    raise DTypeError(
        f"target column {name!r} in {where} holding numbers, text or booleans",
        f"its type is {t}",
        "convert it when writing the file",
    )


def _check_range(y: np.ndarray, name: str, where: str, first_row: int, csv: bool) -> None:
    """Targets must lie in [0, 1] (NaN passes: it is counted as a missing target).

    ``first_row`` is the source's row (from 0) of ``y[0]``; a CSV row is named by its line.
    """
    if y.size == 0:
        return
    lo, hi = float(y.min()), float(y.max())
    if 0.0 <= lo and hi <= 1.0:
        return
    with np.errstate(invalid="ignore"):
        bad = (y < 0) | (y > 1)
    if not bad.any():  # only NaN made min/max NaN
        return
    i = int(np.flatnonzero(bad)[0])
    at = f"line {first_row + i + 2}" if csv else f"row {first_row + i}"
    values = np.unique(y[~np.isnan(y)]).tolist()
    if len(values) <= 2:
        label = suggest_label(values)
        fix = (
            f"pass positive_label={_fmt(label)} to count {_fmt(label)} as 1 and every "
            "other value as 0"
        )
    else:
        fix = (
            f"rescale the column to [0, 1] (e.g. divide 0..255 values by 255), or pass "
            f"positive_label={_fmt(suggest_label(values))} to count that value as 1 and "
            "every other value as 0"
        )
    raise DataError(
        f"target column {name!r} with values in [0, 1] (0/1 labels or probabilities)",
        f"it holds {describe_values(values)} (first outside [0, 1]: {_fmt(float(y[i]))} "
        f"at {at} of {where})",
        fix,
    )


def target_array(
    col: pa.Array,
    cols: Columns,
    where: str,
    first_row: int,
    dtype: np.dtype[Any],
    *,
    csv: bool = False,
) -> np.ndarray:
    """The target column as numbers in [0, 1] (NaN for missing), or a clear error.

    With ``cols.positive_label`` the column holds labels: 1 where it equals the label,
    0 elsewhere, NaN where it is null (a missing label is counted, not taken as 0).
    ``dtype`` is the prediction's, so that both reach the metric kernel alike.  ``csv``:
    errors name the line of a CSV file rather than the row.
    """
    name = cols.target
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if cols.positive_label is not None:
        eq = _labels(col, cols.positive_label, name, where)
        return np.asarray(eq.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=dtype)
    if is_text_type(col.type):
        # start-up time: pyarrow.compute is needed only on this error path
        import pyarrow.compute as pc

        values = sorted(v for v in pc.unique(col).to_pylist() if v is not None)
        raise text_target_error(name, values, where)
    y = numeric_array(col, name, where)
    _check_range(y, name, where, first_row, csv)
    return y
