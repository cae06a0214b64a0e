"""The id column of a comparison: integers or text, one per row, read as NumPy.

An id keys a row's bootstrap weights (:mod:`bcelab.kernels.bootstrap_rng`): integers
are their own keys, text is hashed.  In CSV files the id column is read as text, so
the keys do not depend on how a block's values look.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .._core.display import count_of
from ..errors import DataError, DTypeError
from .columns import arrow_numbers

__all__ = ["check_id_type", "id_array"]


def check_id_type(name: str, t: pa.DataType, where: str) -> None:
    """An id column holds integers or text (an id keys a row's bootstrap weights)."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if not (
        pa.types.is_integer(t)
        or pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
    ):
        raise DTypeError(
            f"id column {name!r} in {where} must hold integers or text",
            f"its type is {t}",
            "cast the id column to int64 (floats are not exact ids) or to strings",
        )


def id_array(col: pa.Array, name: str, where: str) -> np.ndarray:
    """An id column as NumPy: integers as int64/uint64, text as an array of ``str``."""
    check_id_type(name, col.type, where)
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if col.null_count:
        raise DataError(
            f"an id in every row of column {name!r}",
            f"{count_of(col.null_count, 'row')} without an id in {where}",
            "fill or drop the rows without an id (an id keys the row's bootstrap weights)",
        )
    return arrow_numbers(col)
