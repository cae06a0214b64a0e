"""Fuzzing of the optax drop-ins (``bcelab.jax``) with hypothesis.

``sigmoid_binary_cross_entropy``, ``sigmoid_focal_loss`` and ``check_inputs`` on any JAX
arrays (float16, bfloat16, float32; 0-d, empty and mismatched shapes; NaN, +-inf, -0.0,
subnormals, labels outside [0, 1]) give a loss of the logits' shape, or raise a
``bcelab.BCELabError``, never another exception; valid labels and logits that are not
NaN never give NaN (infinite logits give the exact limits).

CI runs ``BCELAB_FUZZ_EXAMPLES`` (default 1,000) examples; set it to 10000 for the larger
check.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tests.fuzzing import fuzz

jax = pytest.importorskip("jax")
jnp = jax.numpy

import bcelab.jax as bj  # noqa: E402
from bcelab.errors import BCELabError  # noqa: E402

EDGES = [0.0, -0.0, 1.0, 0.5, math.nan, math.inf, -math.inf, 5e-324, 2.0, -1.0]
any_float = st.sampled_from(EDGES) | st.floats(-1e6, 1e6) | st.floats(allow_nan=True)
shapes = hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=4)


def _array(data: st.DataObject, shape: tuple[int, ...], dtype: object) -> object:
    with np.errstate(over="ignore"):
        return jnp.asarray(data.draw(hnp.arrays(np.float64, shape, elements=any_float)), dtype)


@fuzz
@given(data=st.data(), name=st.sampled_from(["bce", "focal", "check"]))
def test_any_arrays_give_a_loss_or_a_bcelab_error(data: st.DataObject, name: str) -> None:
    shape = data.draw(shapes)
    dtype = data.draw(st.sampled_from([jnp.float32, jnp.bfloat16, jnp.float16]))
    x = _array(data, shape, dtype)
    y = _array(data, shape if data.draw(st.integers(0, 9)) else data.draw(shapes), dtype)
    try:
        if name == "check":
            bj.check_inputs(x, y)
            return
        f = bj.sigmoid_binary_cross_entropy if name == "bce" else bj.sigmoid_focal_loss
        out = f(x, y)
    except BCELabError:
        return
    assert out.shape == x.shape
    xs, ys = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if np.all((ys >= 0) & (ys <= 1) & ~np.isnan(xs)):
        assert not np.isnan(np.asarray(out, np.float64)).any()
