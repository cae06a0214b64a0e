"""Fuzzing of the drop-in torch losses with hypothesis.

``bcelab.torch.BCELoss`` and ``BCEWithLogitsLoss`` on any tensors (float16, bfloat16,
float32, float64; 0-d, empty and mismatched shapes; NaN, +-inf, -0.0, subnormals, values
outside [0, 1]; any ``weight``, ``pos_weight`` and reduction) give a loss, or raise a
``bcelab.BCELabError`` naming PyTorch, never another exception.  A loss has the input's
dtype (float32 for float16 and bfloat16, which it computes in float32), and its gradient
has the input's shape.  Where the
inputs are valid and interior, the value is torch's own (float64).

CI runs ``BCELAB_FUZZ_EXAMPLES`` (default 1,000) examples per property;
``BCELAB_FUZZ_EXAMPLES=10000 pytest tests/torch/test_torch_fuzz.py`` runs the larger check.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

torch = pytest.importorskip("torch")

from tests.fuzzing import fuzz  # noqa: E402

import bcelab.torch as bt  # noqa: E402
from bcelab.errors import BCELabError  # noqa: E402

DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
EDGES = [0.0, -0.0, 1.0, 0.5, math.nan, math.inf, -math.inf, 5e-324, 1 - 1e-16, 2.0, -1.0]
any_float = st.sampled_from(EDGES) | st.floats(-1e6, 1e6) | st.floats(allow_nan=True)
unit = st.floats(1e-6, 1 - 1e-6)
shapes = hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=4)


def _tensor(data: st.DataObject, shape: tuple[int, ...], elements, dtype) -> torch.Tensor:
    with np.errstate(over="ignore"):
        a = data.draw(hnp.arrays(np.float64, shape, elements=elements))
    return torch.from_numpy(a).to(dtype)


@fuzz
@given(data=st.data(), logits=st.booleans())
def test_any_tensors_give_a_loss_or_a_bcelab_error(data: st.DataObject, logits: bool) -> None:
    shape = data.draw(shapes)
    dtype = data.draw(st.sampled_from(DTYPES))
    x = _tensor(data, shape, any_float, dtype).requires_grad_(True)
    y_shape = shape if data.draw(st.integers(0, 9)) else data.draw(shapes)
    y = _tensor(data, y_shape, any_float, dtype)
    w = _tensor(data, shape, any_float, dtype) if data.draw(st.booleans()) else None
    pw = _tensor(data, shape[-1:], any_float, dtype) if data.draw(st.booleans()) else None
    reduction = data.draw(st.sampled_from(["none", "mean", "sum"]))
    cls = bt.BCEWithLogitsLoss if logits else bt.BCELoss
    try:
        loss = cls(w, reduction, pos_weight=pw)
        out = loss(x, y)
        out.sum().backward()
    except BCELabError as e:
        assert "PyTorch" in str(e) or "torch" in str(e), str(e)
        return
    # float16 and bfloat16 are computed in float32 and give float32, as under autocast
    want = torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
    assert out.dtype == want and x.grad is not None and x.grad.shape == x.shape


@fuzz
@given(data=st.data(), logits=st.booleans())
def test_valid_interior_tensors_give_torchs_value(data: st.DataObject, logits: bool) -> None:
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=4))
    p = _tensor(data, shape, unit, torch.float64)
    y = _tensor(data, shape, st.floats(0, 1) | st.sampled_from([0.0, 1.0]), torch.float64)
    w = _tensor(data, shape, st.floats(0, 10), torch.float64) if data.draw(st.booleans()) else None
    reduction = data.draw(st.sampled_from(["none", "mean", "sum"]))
    if logits:
        x = torch.logit(p)
        got = bt.BCEWithLogitsLoss(w, reduction)(x, y)
        want = torch.nn.BCEWithLogitsLoss(w, reduction=reduction)(x, y)
    else:
        got = bt.BCELoss(w, reduction)(p, y)
        want = torch.nn.BCELoss(w, reduction=reduction)(p, y)
    assert not torch.isnan(got).any()
    np.testing.assert_allclose(got.detach().numpy(), want.numpy(), rtol=1e-9, atol=1e-12)
