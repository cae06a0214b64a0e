"""Segment keys (bcelab.evaluation.segment_keys): a total order, and one NaN segment."""

from __future__ import annotations

import math
import pickle

from bcelab.evaluation.segment_keys import NAN_KEY, segment_key, segment_order


def test_segment_order_is_total_with_none_last():
    keys = ["b", None, "a", 3, 1, 2.5, True]
    assert sorted(keys, key=segment_order)[-1] is None
    assert sorted(["b", "a", None], key=segment_order) == ["a", "b", None]


def test_segment_order_puts_nan_after_the_numbers():
    # a NaN compared as a value leaves a list unsorted: sorted([2.0, nan, 1.0]) is unchanged
    for keys in ([2.0, NAN_KEY, 1.0], [None, NAN_KEY, 3.0, -1.0], [float("nan"), 0.5, 0.25]):
        out = sorted(keys, key=segment_order)
        numbers = [k for k in out if k is not None and not math.isnan(k)]
        assert numbers == sorted(numbers)
        assert math.isnan(out[len(numbers)])


def test_nan_keys_are_one_key_also_after_pickling():
    copy = pickle.loads(pickle.dumps(NAN_KEY))
    assert copy == NAN_KEY and hash(copy) == hash(NAN_KEY) and math.isnan(copy)
    assert {NAN_KEY: 1}[copy] == 1 and NAN_KEY == float("nan") and NAN_KEY != 1.0


def test_segment_key_of_any_nan_is_the_one_nan_key():
    assert segment_key(float("nan")) is NAN_KEY and segment_key(-float("nan")) is NAN_KEY
    assert segment_key(2.5) == 2.5 and segment_key(None) is None and segment_key("a") == "a"
