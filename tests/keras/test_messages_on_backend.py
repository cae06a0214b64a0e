"""bcelab.keras's errors in Keras's words (y_pred, y_true), on one Keras backend.

Run by ``tests/keras/test_keras.py`` with KERAS_BACKEND set; skipped in any other run.
"""

from __future__ import annotations

import numpy as np
import pytest
from tests.keras.backend import chosen_backend

BACKEND = chosen_backend()

keras = pytest.importorskip("keras")

import bcelab.keras as bk  # noqa: E402
from bcelab.errors import ShapeError  # noqa: E402


@pytest.mark.parametrize(
    "make",
    [bk.BinaryCrossentropy, lambda: bk.BinaryCrossentropy(from_logits=True), bk.LogLoss],
)
def test_a_shape_mismatch_names_y_pred_and_y_true(make):
    y_true, y_pred = np.zeros((4, 3), "f4"), np.full((4, 2), 0.3, "f4")
    with pytest.raises(ShapeError) as err:
        obj = make()
        if hasattr(obj, "update_state"):
            obj.update_state(y_true, y_pred)
        else:
            obj(y_true, y_pred)
    assert "y_pred and y_true must have the same shape" in err.value.expected
    assert "y_pred.reshape(y_true.shape)" in err.value.fix
    for core_name in ("preds", "logits", "targets"):
        assert core_name not in err.value.expected.split(": ", 2)[-1] + err.value.fix
