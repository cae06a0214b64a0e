"""The value checks of concrete JAX arrays in host memory run as NumPy reductions over
the same memory (``bcelab._core.arrays.numpy_views_on_cpu``): no XLA compile for a new
shape, the same errors and messages as NumPy inputs, and nothing checked under
``jax.jit``."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = jax.numpy

import bcelab  # noqa: E402
from bcelab._core.arrays import numpy_namespace, numpy_views_on_cpu  # noqa: E402
from bcelab._core.validate import check_values  # noqa: E402
from bcelab.errors import BCELabError  # noqa: E402


def test_concrete_cpu_arrays_become_numpy_views() -> None:
    x = jnp.asarray([0.25, 0.5], jnp.float32)
    xp, (v,) = numpy_views_on_cpu(jnp, x)
    assert xp is numpy_namespace() and isinstance(v, np.ndarray)
    assert v.dtype == np.float32 and v.tolist() == [0.25, 0.5]


def test_traced_arrays_stay_jax() -> None:
    seen = []

    @jax.jit
    def f(x: object) -> object:
        xp, (v,) = numpy_views_on_cpu(jnp, x)
        seen.append((xp, v is x))
        return x

    f(jnp.ones(3))
    assert seen == [(jnp, True)]
    # and under jax.jit nothing is checked: out-of-range targets give a value, not an error
    out = jax.jit(bcelab.bce_with_logits)(jnp.zeros(2), jnp.asarray([2.0, 0.0]))
    assert np.asarray(out).tolist() == pytest.approx([math.log(2.0)] * 2)
    with pytest.raises(BCELabError, match="targets must lie in"):
        bcelab.bce_with_logits(jnp.zeros(2), jnp.asarray([2.0, 0.0]))


def test_checking_a_new_shape_compiles_nothing(caplog: pytest.LogCaptureFixture) -> None:
    p = jnp.asarray(np.linspace(0.1, 0.9, 13), jnp.float32)  # a shape no other test uses
    y = jnp.asarray(np.linspace(0.0, 1.0, 13), jnp.float32)
    with jax.log_compiles(True), caplog.at_level(logging.DEBUG):
        caplog.clear()
        assert check_values(jnp, preds=p, targets=y, probs=True, nan_policy="raise", fname="bce")
    compiles = [r.getMessage() for r in caplog.records if "ompil" in r.getMessage()]
    assert compiles == []


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
@pytest.mark.parametrize(
    ("pred", "target"),
    [
        ([0.2, math.nan, 0.4], [0.0, 1.0, 1.0]),  # NaN prediction
        ([0.2, 0.3, 0.4], [0.0, math.nan, 1.0]),  # NaN target
        ([0.2, 0.3, 0.4], [0.0, 2.0, 255.0]),  # targets outside [0, 1]
        ([0.2, 1.5, -0.5], [0.0, 1.0, 1.0]),  # probabilities outside [0, 1]
    ],
)
def test_errors_are_those_of_numpy_inputs(
    pred: list[float], target: list[float], dtype: str
) -> None:
    import ml_dtypes

    np_dtype = ml_dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype)
    messages = []
    for make in (lambda v: np.asarray(v, np_dtype), lambda v: jnp.asarray(v, getattr(jnp, dtype))):
        with pytest.raises(BCELabError) as info:
            bcelab.bce(make(pred), make(target))
        messages.append((type(info.value), str(info.value)))
    assert messages[0] == messages[1]
