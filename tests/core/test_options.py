"""How many bootstrap replicates an interval needs, and what counts as a number
(bcelab._core.options)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcelab._core.options import (
    MAX_REPLICATES,
    check_bool,
    check_enough_replicates,
    fewest_replicates,
    highest_confidence,
    real_number,
)
from bcelab.errors import OptionError


@pytest.mark.parametrize(
    ("confidence", "replicates"),
    [(0.5, 3), (0.8, 9), (0.9, 19), (0.95, 39), (0.99, 199), (0.999, 1999)],
)
def test_the_classical_counts(confidence: float, replicates: int) -> None:
    # (R + 1) * alpha / 2 = 1: the counts Davison & Hinkley tabulate for percentile limits
    assert fewest_replicates(confidence) == replicates
    assert highest_confidence(replicates) == confidence


@given(st.floats(1e-6, 1 - 1e-6))
def test_the_fewest_replicates_put_one_in_each_tail(confidence: float) -> None:
    alpha = 1 - confidence
    r = fewest_replicates(confidence)
    assert (r + 1) * alpha / 2 >= 1 - 1e-8 or r == 1  # the alpha/2 tail holds a replicate
    assert r == 1 or r * alpha / 2 < 1  # and one fewer would not
    assert 2 / (r + 1) <= alpha * (1 + 1e-8) or r == 1  # the smallest p-value reaches alpha


@given(st.integers(1, 10**6))
def test_the_highest_confidence_is_supported(replicates: int) -> None:
    top = highest_confidence(replicates)
    assert 0 <= top < 1
    if top > 0:
        assert fewest_replicates(top) <= replicates
        check_enough_replicates(replicates, top, fname="f")  # accepted
    if replicates < MAX_REPLICATES:
        with pytest.raises(OptionError, match=f"received replicates={replicates} "):
            check_enough_replicates(
                replicates, highest_confidence(replicates + 1) + 1e-4, fname="f"
            )


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
