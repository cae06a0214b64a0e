"""Whether a source has the columns a run needs, of types it can read.

Shared by the file reader (:mod:`.reader`, from each file's schema) and the in-memory
tables (:mod:`.tables`): a missing column is named with the columns there are (and the
name it probably meant, or the field separator a text file seems to use), a column of
the wrong type with its type.

The ``by`` column's values key the segments, so each value must be one segment in every
file: :func:`shared_by_type` refuses files whose by columns hold different kinds of
values (text, numbers, booleans, ...), and gives the type that a CSV file, which has
no types, reads its by column as.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from .._core.display import count_of
from .._core.tables import column_hint, refuse_repeated
from ..errors import DataError, DTypeError
from .columns import Columns, is_text_type
from .row_ids import check_id_type

__all__ = ["by_kind", "check_columns", "shared_by_type", "text_target"]


def _is_number_type(t: pa.DataType) -> bool:
    return (
        pa.types.is_floating(t)
        or pa.types.is_integer(t)
        or pa.types.is_boolean(t)
        or pa.types.is_decimal(t)
        or pa.types.is_null(t)
    )


def _is_label_type(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return _is_number_type(t) or is_text_type(t)


def _one_column_per_name(
    where: str, names: Sequence[str], part_keys: Sequence[str], cols: Columns
) -> None:
    """A needed column whose name the source holds more than once: which one the caller
    meant is unknown (a CSV header or a DataFrame can repeat a name, and a file in a
    folder named ``key=value`` can hold a column ``key``)."""
    for c in dict.fromkeys(cols.needed):
        if c in names and c in part_keys:
            raise DataError(
                f"one column named {c!r} for {where}",
                f"the file has a column {c!r} and its folder's name sets one ({c}=...)",
                "rename the column or the folder, so that each name is unique",
            )
    refuse_repeated(names, cols.needed, where)


def check_columns(
    where: str,
    names: Sequence[str],
    types: dict[str, pa.DataType] | None,
    cols: Columns,
    *,
    part_keys: Sequence[str] = (),
) -> None:
    """Every needed column is there and holds numbers (the target: labels too, with a
    positive label).  ``names``: the source's own columns; ``part_keys``: the columns its
    folders' ``key=value`` names add.  A text target without one is checked by the
    caller, which can list its values."""
    own = list(names)
    names = own + [k for k in part_keys if k not in own]
    missing = [c for c in cols.needed if c not in names]
    if missing:
        fix = "name the prediction, target, weight and by columns as the data spell them"
        # one column whose name holds the wanted names: a text file read with the wrong
        # field separator
        seps = [s for s in (";", "\t", "|", ",") if len(names) == 1 and s in names[0]]
        if seps and all(c in names[0].split(seps[0]) for c in cols.needed):
            fix = f"the file's fields look separated by {seps[0]!r}: pass delimiter={seps[0]!r}"
        else:
            hint = column_hint(missing, names)
            fix = f"{hint} {fix}" if hint else fix
        raise DataError(
            f"columns {list(cols.needed)} in {where}",
            f"column{'s' if len(missing) > 1 else ''} {missing} not found; available: {list(names)}",
            fix,
        )
    _one_column_per_name(where, own, part_keys, cols)
    if types is None:
        return
    for c in cols.numeric:
        t = types[c]
        if not (_is_label_type(t) if c == cols.target else _is_number_type(t)):
            raise DTypeError(
                f"column {c!r} in {where} must hold numbers",
                f"its type is {t}",
                "convert it to float when writing the file",
            )
    for pred in (cols.pred, cols.pred_b):
        t = types[pred] if pred is not None else None
        if t is not None and (pa.types.is_integer(t) or pa.types.is_boolean(t)):
            raise DTypeError(
                f"a prediction column {pred!r} in {where} of floating-point "
                f"{'logits' if cols.logits else 'probabilities'}",
                f"its type is {t}",
                "integer or boolean predictions usually mean that the target and prediction "
                "columns were swapped: check preds= and target=; hard 0/1 predictions must be "
                "written as floats (0.0, 1.0)",
            )
    if cols.by is not None:
        _check_by_type(cols.by, types[cols.by], where)
    if cols.id is not None:
        check_id_type(cols.id, types[cols.id], where)


def text_target(cols: Columns, types: dict[str, pa.DataType]) -> bool:
    """Whether the target column holds text and no positive label says which is positive."""
    return cols.positive_label is None and is_text_type(types[cols.target])


def _values(t: pa.DataType) -> pa.DataType:
    """The type of a column's values (a dictionary's value type)."""
    return t.value_type if pa.types.is_dictionary(t) else t


def by_kind(t: pa.DataType) -> str | None:
    """What a by column's values are as segment keys: ``'text'``, ``'number'`` (integers
    and floats alike: 1 and 1.0 are one segment), ``'bool'``, or else the type itself
    (dates, timestamps, decimals, bytes); None for a column of nulls only, which fits
    any kind."""
    t = _values(t)
    if pa.types.is_null(t):
        return None
    if is_text_type(t):
        return "text"
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return "number"
    if pa.types.is_boolean(t):
        return "bool"
    return str(t)


def _check_by_type(name: str, t: pa.DataType, where: str) -> None:
    """A by column holds one value per row that can key a segment (not a list, a struct
    or a map)."""
    value = _values(t)
    if (
        by_kind(value) in (None, "text", "number", "bool")
        or pa.types.is_temporal(value)
        or pa.types.is_decimal(value)
        or pa.types.is_binary(value)
        or pa.types.is_large_binary(value)
        or pa.types.is_fixed_size_binary(value)
    ):
        return
    raise DataError(
        f"a by column {name!r} in {where} with one text, number, bool or date value per row",
        f"its type is {t}",
        "segment by a text, number, bool or date column (for a list or a struct, one made "
        "from one of its elements or fields)",
    )


_KIND_WORDS = {"text": "text", "number": "numbers", "bool": "booleans"}


def shared_by_type(by: str, typed: Sequence[tuple[str, pa.DataType]]) -> pa.DataType | None:
    """The type of the by column ``by`` that the files of ``typed`` (``(path, type)``:
    Parquet files, folder names ``key=value``) share, as a CSV file reads it: string,
    int64 or float64 (any float among the files), bool, or the files' own type; None
    when no file says (a CSV by column is text then).  A :class:`DataError` when the
    files hold different kinds of values (:func:`by_kind`), which would make two
    segments of one value, or one of two (``True`` and ``1``)."""
    kinds: dict[str, list[tuple[str, pa.DataType]]] = {}
    for path, t in typed:
        kind = by_kind(t)
        if kind is not None:
            kinds.setdefault(kind, []).append((path, t))
    if len(kinds) > 1:
        held = []
        for kind, files in kinds.items():
            (path, t), more = files[0], len(files) - 1
            others = f" and {count_of(more, 'other file')}" if more else ""
            held.append(f"{_KIND_WORDS.get(kind, 'values')} ({t}) in {path}{others}")
        raise DataError(
            f"one kind of value in the by column {by!r} in every file, so that each value "
            "makes one segment",
            f"it holds {'; '.join(held)}",
            "write the by column with one type in every file (cast it to string in all of "
            "them, say), or evaluate the files separately",
        )
    if not kinds:
        return None
    ((kind, files),) = kinds.items()
    if kind == "text":
        return pa.string()
    if kind == "number":
        floats = any(pa.types.is_floating(_values(t)) for _, t in files)
        return pa.float64() if floats else pa.int64()
    return pa.bool_() if kind == "bool" else _values(files[0][1])
