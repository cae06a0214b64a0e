"""What counts as a number or a bool for an option (bcelab._core.options)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bcelab._core.options import check_bool, real_number
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
