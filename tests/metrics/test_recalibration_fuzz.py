"""Fuzzing of the recalibration maps and their fits with hypothesis.

Any parameters give a map or a ``bcelab.BCELabError`` (never a map that answers NaN or
flips the order); a map applied to any predictions gives probabilities in [0, 1] (NaN
exactly where the prediction is NaN), non-decreasing in the prediction for every map
but a Platt map with a < 0, the same after a round trip through ``to_dict`` and
``load_map``, or a bcelab error; the fits (Platt, temperature, isotonic) on any rows give
a map or a bcelab error.  Inputs include float16, bfloat16, float32 and float64, NaN,
+-inf, -0.0, subnormals, values outside [0, 1] and any weights.

CI runs ``BCELAB_FUZZ_EXAMPLES`` (default 1,000) examples per property;
``BCELAB_FUZZ_EXAMPLES=10000 pytest tests/metrics/test_recalibration_fuzz.py`` runs the
larger check.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tests.fuzzing import float_dtypes, fuzz

from bcelab.errors import BCELabError
from bcelab.metrics import (
    BinaryStats,
    DownsamplingMap,
    IsotonicMap,
    PlattMap,
    TemperatureMap,
    fit_isotonic,
    fit_platt,
    fit_temperature,
    load_map,
)

ml_dtypes = pytest.importorskip("ml_dtypes")

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")

DTYPES = float_dtypes()
EDGES = [0.0, -0.0, 1.0, 0.5, np.nan, np.inf, -np.inf, 5e-324, 1 - 1e-16, 2.0, -1.0]
any_float = st.sampled_from(EDGES) | st.floats(allow_nan=True, allow_infinity=True)
param = any_float | st.sampled_from([True, "2", None, 1e-300, 1e300])
unit = st.sampled_from([0.0, 1.0, 0.5, np.nan, 5e-324, 1 - 1e-16]) | st.floats(0, 1)


def _array(data: st.DataObject, n: int, elements: st.SearchStrategy[float]) -> np.ndarray:
    dtype = data.draw(st.sampled_from(DTYPES))
    with np.errstate(over="ignore"):
        return data.draw(hnp.arrays(np.float64, n, elements=elements)).astype(dtype)


def _map(data: st.DataObject) -> Any:
    kind = data.draw(st.sampled_from(["platt", "temperature", "downsampling", "isotonic"]))
    if kind == "platt":
        return PlattMap(data.draw(param), data.draw(param))
    if kind == "temperature":
        return TemperatureMap(data.draw(param))
    if kind == "downsampling":
        return DownsamplingMap(data.draw(param))
    k = data.draw(st.integers(0, 5))
    inner = sorted(data.draw(st.lists(st.floats(0, 1), min_size=k, max_size=k)))
    edges = [0.0, *inner, 1.0] if data.draw(st.integers(0, 4)) else data.draw(st.lists(param))
    k_values = max(len(edges) - 1, 0) + data.draw(st.sampled_from([0, 0, 0, 1]))
    if data.draw(st.integers(0, 3)):  # mostly valid steps: non-decreasing values in [0, 1]
        values: list[Any] = sorted(
            data.draw(st.lists(st.floats(0, 1), min_size=k_values, max_size=k_values))
        )
    else:
        values = data.draw(st.lists(unit | param, min_size=k_values, max_size=k_values))
    return IsotonicMap(np.asarray(edges, dtype=object), np.asarray(values, dtype=object))


@fuzz
@given(data=st.data())
def test_any_map_answers_probabilities_in_order_or_a_bcelab_error(data: st.DataObject) -> None:
    # a NumPy RuntimeWarning inside a map (an overflow, say) is a failure too: NumPy's
    # own functions issue it, so the suite's bcelab-only filter would not catch it
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        _map_answers_in_order(data)


def _map_answers_in_order(data: st.DataObject) -> None:
    try:
        m = _map(data)
    except BCELabError:
        return
    logits = data.draw(st.booleans())
    x = _array(data, data.draw(st.integers(0, 30)), any_float if logits else unit)
    try:
        q = m.apply(x, logits=logits)
    except BCELabError:
        assert not logits and bool(np.any((x < 0) | (x > 1)))
        return
    assert q.shape == x.shape and q.dtype == np.float64
    nan = np.isnan(np.asarray(x, np.float64))
    assert np.array_equal(np.isnan(q), nan)
    assert np.all((q[~nan] >= 0) & (q[~nan] <= 1))
    if not (isinstance(m, PlattMap) and m.a < 0):
        order = np.argsort(np.asarray(x, np.float64)[~nan], kind="stable")
        assert np.all(np.diff(q[~nan][order]) >= 0)
    again = load_map(m.to_dict()).apply(x, logits=logits)
    np.testing.assert_array_equal(again, q)


# On degenerate rows (one soft label at a logit of -744, say) Newton's steps pass through
# infinite trial parameters, with NumPy's warnings, before the fitter reports that it does
# not converge: the property is the result, a map or a bcelab error.
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@fuzz
@given(data=st.data())
def test_fits_on_any_rows_give_a_map_or_a_bcelab_error(data: st.DataObject) -> None:
    n = data.draw(st.integers(0, 30))
    logits = data.draw(st.booleans())
    p = _array(data, n, any_float if logits else unit | any_float)
    y = _array(data, n, unit | any_float)
    w = _array(data, n, any_float) if data.draw(st.booleans()) else None
    for fit in (fit_platt, fit_temperature):
        try:
            m = fit(p, y, weights=w, logits=logits, max_passes=10)
        except BCELabError:
            continue
        assert np.isfinite(list(m.params.values())).all()
    try:
        state = BinaryStats().update(p, y, weights=w, logits=logits)
        iso = fit_isotonic(state)
    except BCELabError:
        return
    assert np.all(np.diff(iso.values) >= 0) and iso.values.min() >= 0 and iso.values.max() <= 1
