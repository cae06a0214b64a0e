"""Arrow columns to NumPy without pyarrow's pandas import (``columns.arrow_numbers``)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bcelab.evaluation.columns import arrow_numbers

_TYPES = [pa.float32(), pa.float64(), pa.int16(), pa.int32(), pa.int64(), pa.uint8()]


def _expected(values: list[float | None], t: pa.DataType) -> np.ndarray:
    """pyarrow's own conversion (nulls become NaN for floats)."""
    return np.asarray(pa.array(values, t).to_numpy(zero_copy_only=False))


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.integers(-100, 100)), max_size=40),
    start=st.integers(0, 10),
    length=st.integers(0, 40),
    t=st.sampled_from(_TYPES),
)
def test_equals_pyarrow_for_slices_nulls_and_types(
    values: list[int | None], start: int, length: int, t: pa.DataType
) -> None:
    if pa.types.is_unsigned_integer(t):
        values = [None if v is None else abs(v) for v in values]
    arr = pa.array(values, t).slice(start, length)
    got = arrow_numbers(arr)
    want = _expected(arr.to_pylist(), t) if len(arr) else np.empty(0, t.to_pandas_dtype())
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("chunks", [[], [[1.5]], [[1.5, None], [], [2.5, 3.5]]])
def test_chunked_arrays_are_concatenated(chunks: list[list[float | None]]) -> None:
    col = pa.chunked_array([pa.array(c, pa.float32()) for c in chunks], type=pa.float32())
    got = arrow_numbers(col)
    flat = [v for c in chunks for v in c]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.array([np.nan if v is None else v for v in flat], "f4"))


def test_no_copy_without_nulls() -> None:
    arr = pa.array(np.arange(10, dtype=np.float64))
    got = arrow_numbers(arr)
    assert not got.flags.writeable  # a view of the Arrow buffer, as pyarrow's zero-copy


@pytest.mark.parametrize("by", [None, "seg"])
def test_eval_does_not_import_pandas(tmp_path: pytest.TempPathFactory, by: str | None) -> None:
    """Start-up time: pyarrow's ``to_numpy`` and ``fill_null`` import pandas (about 0.2 s
    per process); integer targets and segments with nulls need neither."""
    import pyarrow.parquet as pq

    path = f"{tmp_path}/p.parquet"
    p, y = [0.2, None, 0.9, 0.4, 0.5], [0, 1, None, 1, 0]
    table = {"p": p, "y": y, "seg": ["a", None, "b", "b", None]}  # a usable row in each
    pq.write_table(pa.table(table), path)
    code = (
        "import sys, bcelab\n"
        f"r = bcelab.evaluate({path!r}, preds='p', target='y', by={by!r})\n"
        "assert r.rows == 5, r.rows\n"
        f"assert {by!r} is None or len(r.segments) == 3, r.segments\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_by_codes_are_int16_with_the_order_of_int64_codes() -> None:
    """Segment codes are int16 (a radix argsort) whenever the distinct values allow it;
    the stable order of the rows is the one int64 codes give."""
    from bcelab.evaluation.columns import by_codes

    rng = np.random.default_rng(3)
    values = rng.integers(0, 250, 5000).astype(str).astype(object)
    values[rng.random(5000) < 0.05] = None
    codes, names = by_codes(pa.array(values))
    assert codes.dtype == np.int16
    assert codes.min() == -1 and len(names) == int(codes.max()) + 1
    assert [names[c] if c >= 0 else None for c in codes] == list(values)
    order = np.argsort(codes, kind="stable")
    assert np.array_equal(order, np.argsort(codes.astype(np.int64), kind="stable"))


def test_by_codes_fall_back_to_int64_for_many_values() -> None:
    from bcelab.evaluation.columns import by_codes

    codes, names = by_codes(pa.array(np.arange(40000)))
    assert codes.dtype == np.int64 and len(names) == 40000
    assert np.array_equal(codes, np.arange(40000))


INTEGER_TYPES = [
    pa.int8(),
    pa.int16(),
    pa.int32(),
    pa.int64(),
    pa.uint8(),
    pa.uint16(),
    pa.uint32(),
    pa.uint64(),
]


@settings(max_examples=300, deadline=None)
@given(data=st.data(), t=st.sampled_from(INTEGER_TYPES))
def test_by_codes_of_integers_name_each_row_s_value(data: st.DataObject, t: pa.DataType) -> None:
    """Integer segment ids, at the ends of every type's range too: each row's code names
    its value, with or without nulls, over narrow and wide spans (reference: the values)."""
    from bcelab.evaluation.columns import by_codes

    info = np.iinfo(t.to_pandas_dtype())
    lo = data.draw(st.integers(int(info.min), int(info.max)))
    width = data.draw(st.sampled_from([0, 1, 250, 32766, 32767, 10**6]))
    hi = min(lo + width, int(info.max))
    values = data.draw(st.lists(st.one_of(st.integers(lo, hi), st.none()), min_size=1, max_size=60))
    if all(v is None for v in values):
        values[0] = lo
    codes, names = by_codes(pa.array(values, t))
    assert [names[c] if c >= 0 else None for c in codes] == values
    assert codes.dtype == np.int16 or len(names) > np.iinfo(np.int16).max


def test_by_codes_of_a_narrow_integer_span_hash_nothing(monkeypatch) -> None:
    """Ids spanning fewer than 2**15 values without nulls take codes value - min (no
    dictionary_encode); the order of the codes is the order of the values."""
    import pyarrow.compute as pc

    from bcelab.evaluation.columns import by_codes

    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("hashed")

    monkeypatch.setattr(pc, "dictionary_encode", refuse)
    codes, names = by_codes(pa.array(np.array([7, -3, 7, 100, -3], np.int32)))
    assert codes.dtype == np.int16 and codes.tolist() == [10, 0, 10, 103, 0]
    assert names[0] == -3 and names[-1] == 100 and len(names) == 104
    with pytest.raises(AssertionError, match="hashed"):  # a null: the general path
        by_codes(pa.array([1, None, 2], pa.int32()))


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_an_infinite_target_is_never_suggested_as_a_label(bad: float) -> None:
    from bcelab.errors import DataError
    from bcelab.evaluation.columns import check_target_range

    y = np.array([0.0, 1.0, 1.0, bad, np.nan])
    with pytest.raises(DataError) as e:
        check_target_range(y, "y", "a.csv", 0, csv=True)
    msg = str(e.value)
    assert "positive_label" not in msg  # before: positive_label=inf (and 1 for -inf)
    assert msg.endswith(
        f"fix or remove the rows whose target is infinite (1 row in this batch, first: "
        f"{'inf' if bad > 0 else '-inf'} at line 5): a target is a 0/1 label or a probability"
    )
    with pytest.raises(DataError, match=r"first: inf at row 12\)"):
        check_target_range(np.array([2.0, 0.0, np.inf, np.inf]), "y", "t", 10)
