"""Segment keys: the values of a ``by`` column as dictionary keys, and their order.

A segment's state is found by its value in a dict, in every engine and after pickling
(Dask).  Text, integers and booleans are their own keys; other values their text; a
float NaN, which equals nothing and hashes by identity, is :data:`NAN_KEY`.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["NAN_KEY", "Key", "NaNKey", "json_value", "segment_key", "segment_order"]

Key = Any  # a segment value: str, int, float, bool or None (None when there is no by column)


class NaNKey(float):
    """The key of the segment of NaN values in a float ``by`` column.

    A float NaN equals nothing, not even itself, and since Python 3.10 its hash is its
    identity: the NaN rows of two batches, files or workers would each make a segment of
    their own.  Every NaN key is this one value, equal to any NaN, also after pickling.
    """

    def __new__(cls) -> NaNKey:
        return super().__new__(cls, "nan")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, float) and math.isnan(other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash("bcelab segment: NaN")

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (NaNKey, ())


NAN_KEY = NaNKey()


def segment_order(key: Key) -> tuple[bool, bool, str, Any]:
    """Sort key for segment values: None last, NaN just before it, then grouped by type,
    then by value (a NaN compared as a value would leave the others unsorted)."""
    nan = isinstance(key, float) and math.isnan(key)
    kind = "float" if nan else type(key).__name__
    return (key is None, nan, kind, 0 if key is None or nan else key)


def segment_key(value: Any) -> Key:
    """The key of a segment value read from a by column (NaN: :data:`NAN_KEY`)."""
    if isinstance(value, float) and math.isnan(value):
        return NAN_KEY
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def json_value(key: Key) -> Any:
    """A segment value for JSON: the NaN segment as the text ``"NaN"`` (JSON has no NaN,
    and ``null`` is the segment of null values), every other value as it is."""
    return "NaN" if isinstance(key, float) and math.isnan(key) else key
