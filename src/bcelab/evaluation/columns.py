"""Columns as users have them: which column plays which role, and Arrow columns to NumPy.

Targets must lie in [0, 1].  A column of labels (``{-1, 1}``, ``0..255``, ``yes``/``no``)
is either mapped with ``positive_label`` (that value is 1, every other value 0, a missing
value stays missing) or refused with an error that names the values found; rows are
never dropped silently because their target is a label.  The label rules live in
:mod:`bcelab._core.tables`, shared with training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from .._core.display import count_of, counted
from .._core.tables import (
    Label,
    check_positive_label,
    describe_values,
    format_value,
    is_text_type,
    label_mask,
    suggest_label,
    text_target_error,
)
from ..errors import DataError, DomainError, DTypeError

__all__ = [
    "Columns",
    "Label",
    "arrow_numbers",
    "by_codes",
    "check_positive_label",
    "check_target_range",
    "check_weight_range",
    "describe_values",
    "is_text_type",
    "numeric_array",
    "suggest_label",
    "target_array",
    "text_target_error",
]


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
    return arrow_numbers(col)


def arrow_numbers(col: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A fixed-width numeric Arrow column as NumPy; with nulls, float64 with NaN for them
    (as pyarrow gives an integer column with nulls).

    Read from the Arrow buffers directly: pyarrow's own ``to_numpy`` imports pandas
    (about 0.2 s of every ``bcelab eval``), and a column without nulls needs no copy.
    Other types (text ids) take pyarrow's conversion.
    """
    if isinstance(col, pa.ChunkedArray):
        parts = [arrow_numbers(c) for c in col.chunks]
        if len(parts) == 1:
            return parts[0]
        if parts:
            return np.concatenate(parts)
        col = pa.array([], col.type)
    t = col.type
    if not (pa.types.is_floating(t) or pa.types.is_integer(t)) or pa.types.is_float16(t):
        return np.asarray(col.to_numpy(zero_copy_only=False))
    dtype = np.dtype(t.to_pandas_dtype())
    n, start = len(col), col.offset
    validity, data = col.buffers()[:2]
    if n == 0 or data is None:
        return np.empty(0, dtype)
    values = np.frombuffer(data, dtype, count=n, offset=start * dtype.itemsize)
    if not col.null_count:
        values.flags.writeable = False  # a view of Arrow memory, read-only as pyarrow's
        return values
    bits = np.unpackbits(np.frombuffer(validity, np.uint8), bitorder="little")
    out = values.astype(np.float64 if values.dtype.kind in "iu" else values.dtype)  # a copy
    out[bits[start : start + n] == 0] = np.nan
    return out


def by_codes(col: pa.Array) -> tuple[np.ndarray, list[object]]:
    """Dictionary-encode a segment column: integer codes (-1 for null) and the distinct values.

    The codes are int16 when the values allow it (always, within the segment limit):
    NumPy's stable ``argsort`` of 16-bit integers is a radix sort, ten times faster than
    that of int64 at 2**18 rows, with the same order.
    """
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    span = _integer_span_codes(col)
    if span is not None:
        return span
    # start-up time: pyarrow.compute is needed only with a by column or labels
    import pyarrow.compute as pc

    enc = pc.dictionary_encode(col)
    dtype = np.int16 if len(enc.dictionary) <= np.iinfo(np.int16).max else np.int64
    idx = arrow_numbers(enc.indices)  # float64 with NaN for nulls, if any (no pandas)
    codes = np.where(np.isnan(idx), -1, idx) if idx.dtype.kind == "f" else idx
    return codes.astype(dtype), enc.dictionary.to_pylist()


def _integer_span_codes(col: pa.Array) -> tuple[np.ndarray, list[object]] | None:
    """:func:`by_codes` of an integer column without nulls whose values span fewer than
    2**15 (the usual segment ids), without hashing: ``value - min`` as the codes, and
    every integer from min to max as the distinct values (only those that occur are
    looked up).  None for other columns."""
    if not pa.types.is_integer(col.type) or col.null_count or len(col) == 0:
        return None
    values = arrow_numbers(col)
    lo, hi = int(values.min()), int(values.max())
    if hi - lo >= np.iinfo(np.int16).max:
        return None
    if values.dtype.kind == "u":  # no wrap-around: every value is at least lo
        shifted = values - values.dtype.type(lo)
    else:  # in int64: int8's own range cannot hold 127 - (-128)
        shifted = values.astype(np.int64) - lo
    return shifted.astype(np.int16), list(range(lo, hi + 1))


def check_target_range(
    y: np.ndarray, name: str, where: str, first_row: int, *, csv: bool = False
) -> None:
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
    infinite = np.isinf(y)
    if infinite.any():  # never a label: point to the rows instead
        j = int(np.flatnonzero(infinite)[0])
        fix = (
            f"fix or remove the rows whose target is infinite "
            f"({count_of(int(infinite.sum()), 'row')} in this batch, first: "
            f"{format_value(float(y[j]))} at "
            f"{f'line {first_row + j + 2}' if csv else f'row {first_row + j}'}): a target is "
            "a 0/1 label or a probability"
        )
    elif len(values) <= 2:
        label = suggest_label(values)
        fix = (
            f"pass positive_label={format_value(label)} to count {format_value(label)} as 1 and every "
            "other value as 0"
        )
    else:
        fix = (
            f"rescale the column to [0, 1] (e.g. divide 0..255 values by 255), or pass "
            f"positive_label={format_value(suggest_label(values))} to count that value as 1 and "
            "every other value as 0"
        )
    raise DataError(
        f"target column {name!r} with values in [0, 1] (0/1 labels or probabilities)",
        f"it holds {describe_values(values)} (first outside [0, 1]: {format_value(float(y[i]))} "
        f"at {at} of {where})",
        fix,
    )


def check_weight_range(
    w: np.ndarray, name: str, where: str, first_row: int, *, csv: bool = False
) -> None:
    """Weights must be finite and >= 0 (a null weight reads as NaN), counted over the
    whole batch; ``first_row`` and ``csv`` as in :func:`check_target_range`."""
    with np.errstate(invalid="ignore"):
        if w.size == 0 or (np.isfinite(w).all() and float(w.min()) >= 0.0):
            return
        bad = ~(np.isfinite(w) & (w >= 0))
    i = int(np.flatnonzero(bad)[0])
    at = f"line {first_row + i + 2}" if csv else f"row {first_row + i}"
    raise DomainError(
        f"weight column {name!r} must be finite and >= 0",
        f"{counted(int(bad.sum()), 'weight')} negative, infinite or NaN "
        f"(first: {float(w[i])!r} at {at} of {where})",
        "fix or drop those rows' weights",
    )


def target_array(col: pa.Array, cols: Columns, where: str, dtype: np.dtype[Any]) -> np.ndarray:
    """The target column as numbers (NaN for missing), or a clear error for text.

    With ``cols.positive_label`` the column holds labels: 1 where it equals the label,
    0 elsewhere, NaN where it is null (a missing label is counted, not taken as 0).
    ``dtype`` is the prediction's, so that both reach the metric kernel alike.  Numbers
    outside [0, 1] are the caller's to refuse, with :func:`check_target_range` (the tasks
    of :mod:`.tasks` run it where the metric kernel's count says it is needed).
    """
    name = cols.target
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if cols.positive_label is not None:
        eq = label_mask(col, cols.positive_label, name, where)
        return np.asarray(arrow_numbers(eq.cast(pa.float64())), dtype=dtype)
    if is_text_type(col.type):
        # start-up time: pyarrow.compute is needed only on this error path
        import pyarrow.compute as pc

        values = sorted(v for v in pc.unique(col).to_pylist() if v is not None)
        raise text_target_error(name, values, where)
    return numeric_array(col, name, where)
