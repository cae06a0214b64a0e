"""Fuzzing of bcelab.keras on one Keras backend (KERAS_BACKEND=jax or torch) with hypothesis.

``tests/keras/test_keras.py`` runs this file in a fresh process per backend, as it runs
``test_on_backend.py``; in a run without KERAS_BACKEND it is skipped.

The losses and metrics on any arrays (float16, NumPy's bfloat16, float32, float64; 0-d,
empty and mismatched shapes; NaN, +-inf, -0.0, subnormals, values outside [0, 1]; any
``sample_weight`` and options) give a result or raise a ``bcelab.BCELabError`` that names
Keras, never another exception, and a metric that raises keeps its state.  Where the
inputs are valid and interior, the loss is Keras's own ``BinaryCrossentropy`` (whose
1e-7 clip is then inactive) and the metrics are ``BinaryStats``'s.

CI runs ``BCELAB_FUZZ_EXAMPLES`` (default 1,000) examples per property on the torch
backend and 50 on jax (whose eager Keras calls take 3-4x as long);
``BCELAB_FUZZ_EXAMPLES=10000 KERAS_BACKEND=torch pytest tests/keras/test_fuzz_on_backend.py``
runs the larger check on one backend.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from tests.keras.backend import chosen_backend

chosen_backend()  # skips this file unless KERAS_BACKEND is jax or torch

keras = pytest.importorskip("keras")
ml_dtypes = pytest.importorskip("ml_dtypes")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402
from tests.fuzzing import float_dtypes, fuzz  # noqa: E402

import bcelab.keras as bk  # noqa: E402
from bcelab.errors import BCELabError  # noqa: E402
from bcelab.metrics import BinaryStats  # noqa: E402

# hypothesis itself warns when it casts a huge float into float16; that is not bcelab
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")

DTYPES = float_dtypes()
EDGES = [0.0, -0.0, 1.0, 0.5, math.nan, math.inf, -math.inf, 5e-324, 1 - 1e-16, 2.0, -1.0]
any_float = st.sampled_from(EDGES) | st.floats(-1e6, 1e6) | st.floats(allow_nan=True)
shapes = hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=4)
METRICS = ["BinaryAccuracy", "LogLoss", "NormalizedEntropy", "ExcessLoss", "CalibrationError"]


def _array(
    data: st.DataObject, shape: tuple[int, ...], elements: st.SearchStrategy[float]
) -> np.ndarray:
    dtype = data.draw(st.sampled_from(DTYPES))
    with np.errstate(over="ignore"):
        return data.draw(hnp.arrays(np.float64, shape, elements=elements)).astype(dtype)


def _np(t: Any) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(t), dtype=np.float64)


def _loss(data: st.DataObject) -> Any:
    if data.draw(st.booleans()):
        return bk.BinaryKLDivergence(from_logits=data.draw(st.booleans()))
    return bk.BinaryCrossentropy(
        from_logits=data.draw(st.booleans()),
        label_smoothing=data.draw(st.sampled_from([0.0, 0.1, 1.0])),
        reduction=data.draw(st.sampled_from(["sum_over_batch_size", "sum", None])),
    )


@fuzz
@given(data=st.data())
def test_any_arrays_give_a_loss_or_a_bcelab_error_naming_keras(data: st.DataObject) -> None:
    shape = data.draw(shapes)
    y_pred = _array(data, shape, any_float)
    y_true = _array(data, shape if data.draw(st.integers(0, 9)) else data.draw(shapes), any_float)
    kw: dict[str, Any] = {}
    if data.draw(st.booleans()):
        kw["sample_weight"] = _array(data, shape[:1], any_float)
    loss = _loss(data)
    try:
        out = loss(y_true, y_pred, **kw)
    except BCELabError as e:
        assert "Keras" in str(e), e
        return
    assert _np(out).dtype == np.float64  # a concrete value, on this backend


@fuzz
@given(data=st.data(), name=st.sampled_from(METRICS))
def test_metrics_on_any_arrays_update_or_raise_and_keep_their_state(
    data: st.DataObject, name: str
) -> None:
    metric = getattr(bk, name)(from_logits=data.draw(st.booleans()))
    y0 = np.array([0.0, 1.0, 1.0], np.float32)
    metric.update_state(y0, np.array([0.2, 0.7, 0.9], np.float32))
    before = [_np(v).copy() for v in metric.variables]
    shape = data.draw(shapes)
    y_pred = _array(data, shape, any_float)
    y_true = _array(data, shape if data.draw(st.integers(0, 9)) else data.draw(shapes), any_float)
    try:
        metric.update_state(y_true, y_pred)
    except BCELabError as e:
        assert "Keras" in str(e), e
        after = [_np(v) for v in metric.variables]
        for a, b in zip(before, after, strict=True):
            np.testing.assert_array_equal(a, b)  # the state is unchanged by an error
        return
    _np(metric.result())


@fuzz
@given(data=st.data(), from_logits=st.booleans())
def test_valid_interior_inputs_give_keras_loss_and_binary_stats_metrics(
    data: st.DataObject, from_logits: bool
) -> None:
    n = data.draw(st.integers(1, 12))
    y = data.draw(hnp.arrays(np.float32, (n, 1), elements=st.sampled_from([0.0, 1.0])))
    p = data.draw(hnp.arrays(np.float64, (n, 1), elements=st.floats(0.01, 0.99)))
    pred = (np.log(p / (1 - p)) if from_logits else p).astype(np.float32)
    got = float(_np(bk.BinaryCrossentropy(from_logits=from_logits)(y, pred)))
    want = float(_np(keras.losses.BinaryCrossentropy(from_logits=from_logits)(y, pred)))
    assert got == pytest.approx(want, rel=1e-5, abs=1e-6)
    ref = BinaryStats().update(pred, y, logits=from_logits).compute()
    ll = bk.LogLoss(from_logits=from_logits)
    ll.update_state(y, pred)
    assert float(_np(ll.result())) == pytest.approx(ref.log_loss, rel=1e-5, abs=1e-6)
    acc = bk.BinaryAccuracy(from_logits=from_logits)
    acc.update_state(y, pred)
    assert float(_np(acc.result())) == pytest.approx(ref.accuracy, rel=1e-6)
