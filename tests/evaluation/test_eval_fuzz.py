"""Fuzzing of :func:`bcelab.evaluate` on in-memory columns with hypothesis.

Any columns give a result or a ``bcelab.BCELabError``, never another exception.  A target
outside [0, 1] (NaN is a missing target, not a bad one) is always refused, with the first
such row named, before any other error of its rows; valid columns give the counts of the
rows and the log loss of a ``BinaryStats`` fed the same rows.  Inputs mix float32 and
float64, NaN, +-inf, -0.0, subnormals, values just outside [0, 1], empty columns,
segments and one or two threads.

CI runs ``BCELAB_FUZZ_EXAMPLES`` (default 1,000) examples per property;
``BCELAB_FUZZ_EXAMPLES=10000 pytest tests/evaluation/test_eval_fuzz.py`` runs the larger
check.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import bcelab
from bcelab.errors import BCELabError, DataError
from bcelab.metrics import BinaryStats
from tests.fuzzing import fuzz

EDGES = [0.0, -0.0, 1.0, 0.5, np.nan, np.inf, -np.inf, 5e-324, 1e-45, -1e-45, 1 + 2**-23, 2.0]
any_value = st.sampled_from(EDGES) | st.floats(-3, 3) | st.floats(allow_nan=True)
unit_value = st.sampled_from([0.0, 1.0, 0.5, np.nan, 5e-324, 1 - 2**-24]) | st.floats(0, 1)
dtypes = st.sampled_from([np.dtype(np.float32), np.dtype(np.float64)])


def _column(data: st.DataObject, n: int, elements: st.SearchStrategy[float]) -> np.ndarray:
    dtype = data.draw(dtypes)
    with np.errstate(over="ignore"):
        return data.draw(hnp.arrays(np.float64, n, elements=elements)).astype(dtype)


def _columns(data: st.DataObject, elements: st.SearchStrategy[float]) -> dict[str, Any]:
    n = data.draw(st.integers(0, 60))
    cols: dict[str, Any] = {"p": _column(data, n, unit_value), "y": _column(data, n, elements)}
    if data.draw(st.booleans()):
        cols["s"] = np.array(data.draw(st.lists(st.sampled_from("ab"), min_size=n, max_size=n)))
    return cols


def _evaluate(cols: dict[str, Any], data: st.DataObject) -> Any:
    by = "s" if "s" in cols else None
    return bcelab.evaluate(
        cols, preds="p", target="y", by=by, threads=data.draw(st.sampled_from([1, 2]))
    )


def _first_bad_target(y: np.ndarray) -> int | None:
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero((y < 0) | (y > 1))
    return int(bad[0]) if bad.size else None


@fuzz
@given(data=st.data())
def test_a_target_outside_the_interval_is_refused_first_and_named(data: st.DataObject) -> None:
    cols = _columns(data, any_value)
    if data.draw(st.booleans()):  # probabilities outside [0, 1] too: the target still comes first
        cols["p"] = _column(data, len(cols["y"]), any_value)
    first = _first_bad_target(cols["y"])
    try:
        res = _evaluate(cols, data)
    except DataError as e:
        if first is None:
            assert "first outside [0, 1]" not in str(e)
            return
        assert re.search(rf"first outside \[0, 1\]: \S+ at row {first} ", str(e)), str(e)
        return
    except BCELabError:
        assert first is None
        return
    assert first is None
    assert res.rows == len(cols["y"])
    assert res.metrics.invalid_targets == int(np.isnan(cols["y"]).sum())


@fuzz
@given(data=st.data())
def test_valid_columns_give_the_metrics_of_their_rows(data: st.DataObject) -> None:
    cols = _columns(data, unit_value)
    y, p = cols["y"], cols["p"]
    ref = BinaryStats(kernel="numpy")
    try:
        ref.update(p, y)
        want = ref.compute()
    except BCELabError:  # no usable row: evaluate says so too
        want = None
    try:
        res = _evaluate(cols, data)
    except BCELabError:
        assert want is None or len(y) == 0
        return
    assert want is not None
    got = res.metrics
    assert (got.rows, got.rows_used, got.nan_predictions, got.invalid_targets) == (
        want.rows,
        want.rows_used,
        want.nan_predictions,
        want.invalid_targets,
    )
    if math.isinf(want.log_loss):
        assert math.isinf(got.log_loss)
    else:
        assert math.isclose(got.log_loss, want.log_loss, rel_tol=1e-12, abs_tol=1e-300)
