"""Whether a source has the columns a run needs, of types it can read.

Shared by the file reader (:mod:`.reader`, from each file's schema) and the in-memory
tables (:mod:`.tables`): a missing column is named with the columns there are (and the
name it probably meant, or the field separator a text file seems to use), a column of
the wrong type with its type.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from .._core.tables import column_hint, refuse_repeated
from ..errors import DataError, DTypeError
from .columns import Columns, is_text_type
from .row_ids import check_id_type

__all__ = ["check_columns", "text_target"]


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
    if cols.id is not None:
        check_id_type(cols.id, types[cols.id], where)


def text_target(cols: Columns, types: dict[str, pa.DataType]) -> bool:
    """Whether the target column holds text and no positive label says which is positive."""
    return cols.positive_label is None and is_text_type(types[cols.target])
