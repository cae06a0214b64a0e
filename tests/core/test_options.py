"""What counts as a number or a bool for an option (bcelab._core.options)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bcelab._core.options import check_bool, check_negative_rate, real_number
from bcelab.errors import OptionError


@pytest.mark.parametrize(
    "value", [0.25, 1, np.float32(0.5), np.int64(3), np.array(0.5), float("inf")]
)
def test_real_numbers_are_numbers(value: object) -> None:
    assert real_number(value) == float(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value", ["0.5", b"1", True, np.True_, np.array(True), np.array([0.5]), [0.5], None, 1j]
)
def test_text_bools_and_arrays_are_not_numbers(value: object) -> None:
    # float() takes the first four and the one-element array; an option must not
    assert math.isnan(real_number(value))


def test_every_float_option_refuses_text() -> None:
    import bcelab

    p, y = np.array([0.2, 0.7]), np.array([0.0, 1.0])
    for kw in ({"label_smoothing": "0.1"}, {"clip": "1e-7"}):
        with pytest.raises(OptionError, match="received"):
            bcelab.bce(p, y, **kw)
    for kw in ({"gamma": "2"}, {"alpha": "0.25"}):
        with pytest.raises(OptionError, match="received"):
            bcelab.focal(p, y, **kw)


def test_check_bool_takes_python_and_numpy_bools_only() -> None:
    for v in (True, False, np.True_, np.False_):
        assert check_bool(v, name="flag", fname="f", hint="h") is bool(v)
    for v in ("False", "yes", 0, 1, 1.0, None, np.array([0, 0]), np.array(True)):
        with pytest.raises(OptionError, match="f: flag must be True or False; received flag="):
            check_bool(v, name="flag", fname="f", hint="h")


def test_alpha_may_be_traced_under_jax_jit() -> None:
    # alpha only scales the focal loss: a jit argument (as optax takes it) is used as it
    # is; it used to be refused as "alpha must be a number in [0, 1]; received JitTracer"
    import bcelab

    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    x, y = jnp.array([-2.0, 0.3, 4.0, -0.5]), jnp.array([1.0, 0.0, 1.0, 0.25])
    for fn in (bcelab.focal_with_logits, bcelab.focal_with_logits_grad):
        got = jax.jit(lambda z, t, a, fn=fn: fn(z, t, gamma=2.0, alpha=a))(x, y, 0.25)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(fn(x, y, alpha=0.25)))
    p = jax.nn.sigmoid(x)
    got = jax.jit(lambda q, t, a: bcelab.focal(q, t, alpha=a, reduction="sum"))(
        p, y, jnp.float32(0.9)
    )
    np.testing.assert_array_equal(got, bcelab.focal(p, y, alpha=0.9, reduction="sum"))
    # not a number even when traced: an array of several, or a bool
    for bad in (jnp.array([0.25, 0.5]), jnp.array(True)):
        with pytest.raises(OptionError, match=r"alpha must be a number in \[0, 1\]"):
            jax.jit(lambda z, t, a: bcelab.focal_with_logits(z, t, alpha=a))(x, y, bad)


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan"), True, 0])
def test_negative_rate_names_its_own_interval(bad: object) -> None:
    with pytest.raises(OptionError, match=r"negative_rate must be a number in \(0, 1\]"):
        check_negative_rate(bad, fname="evaluate")
