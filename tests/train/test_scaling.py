"""Standardised features (bcelab.train.scaling): the direct formulas' bits for ordinary
columns, the spread of columns whose squares overflow or vanish, and rows beyond float32."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcelab.errors import DataError
from bcelab.train.scaling import scaling, standardise, standardised


def _direct(xt: np.ndarray, xe: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu, sd = xt.mean(axis=0), xt.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    with np.errstate(over="ignore"):  # beyond float32: inf, which the test expects refused
        return ((xt - mu) / sd).astype(np.float32), ((xe - mu) / sd).astype(np.float32)


@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(1, 60),
    exponents=st.lists(st.integers(-120, 120), min_size=1, max_size=4),
)
def test_ordinary_columns_give_the_direct_formulas_bits(
    seed: int, rows: int, exponents: list[int]
) -> None:
    rng = np.random.default_rng(seed)
    cols = len(exponents)
    xt = rng.normal(size=(rows, cols)) * 10.0 ** np.array(exponents) + rng.normal(size=cols)
    xe = rng.normal(size=(7, cols)) * 10.0 ** np.array(exponents)
    xt[:, 0] = xt[0, 0] if rows > 1 and seed % 3 == 0 else xt[:, 0]  # sometimes constant
    want = _direct(xt, xe)
    if not all(np.isfinite(w).all() for w in want):  # beyond float32: refused, not inf
        with pytest.raises(DataError, match="within float32's range once standardised"):
            standardise(xt, xe)
        return
    for got, ref in zip(standardise(xt, xe)[:2], want, strict=True):
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("power", [600, 900, -600, -900])
def test_columns_beyond_the_range_of_their_squares_keep_their_spread(power: int) -> None:
    # before: std of values near 1e200 overflowed to inf and of values near 1e-200
    # underflowed to 0, so the column became all zeros (or stayed unscaled) without a word
    rng = np.random.default_rng(1)
    xt, xe = rng.normal(size=(50, 2)) + 3.0, rng.normal(size=(9, 2))
    big_t, big_e = xt * 2.0**power, xe * 2.0**power  # scaling by 2**k is exact
    ref = standardise(xt, xe)[:2]
    for got, want in zip(standardise(big_t, big_e)[:2], ref, strict=True):
        np.testing.assert_array_equal(got, want)
    mu, sd = scaling(big_t)
    np.testing.assert_array_equal(mu, scaling(xt)[0] * 2.0**power)
    np.testing.assert_array_equal(sd, scaling(xt)[1] * 2.0**power)


def test_values_beyond_float32_once_standardised_are_named() -> None:
    mu, sd = np.array([0.0, 5.0]), np.array([1.0, 2.0])
    x = np.array([[0.0, 5.0], [1.0, 1e39], [2.0, -1e300], [3.0, 6e38]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning from inside
        with pytest.raises(DataError) as err:
            standardised(x, mu, sd, features=("a", "b"), source="t.csv")
    assert "column 'b' of t.csv holds -1e+300 in data row 3 and" not in str(err.value)
    assert "column 'b' of t.csv holds 1e+39 in data row 2, 3" in str(err.value)
    assert "(training mean 5, scale 2)" in str(err.value)
    ok = standardised(x[[0, 3]], mu, sd)  # (6e38 - 5) / 2 fits
    assert np.isfinite(ok).all() and ok.dtype == np.float32


def test_an_empty_split_has_neutral_statistics() -> None:
    mu, sd = scaling(np.zeros((0, 3)))
    np.testing.assert_array_equal(mu, 0.0)
    np.testing.assert_array_equal(sd, 1.0)


def test_columns_up_to_the_largest_float64_keep_finite_statistics() -> None:
    # before: a column whose largest magnitude reached 2**1023 was divided by 2**1024 = inf,
    # and its mean became NaN (refused with a message about the wrong rows)
    top = float(np.finfo(np.float64).max)
    xt = np.array([[2.0, 1.0], [top, 2.0], [-top, 3.0], [0.0, 4.0], [5.0, 5.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mu, sd = scaling(xt)
        train, test, _ = standardise(xt, xt[:2])
    assert np.isfinite(mu).all() and np.isfinite(sd).all()
    half = scaling(xt / 4.0)  # a power of two below: the same statistics, scaled exactly
    np.testing.assert_array_equal(mu[0], half[0][0] * 4.0)
    np.testing.assert_array_equal(sd[0], half[1][0] * 4.0)
    np.testing.assert_array_equal(train[:, 0], standardise(xt / 4.0, xt[:2] / 4.0)[0][:, 0])
    assert np.isfinite(train).all() and np.isfinite(test).all()


@given(
    values=st.lists(
        st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=True),
        min_size=1,
        max_size=20,
    )
)
def test_any_finite_column_gives_finite_statistics_and_rows_or_a_named_refusal(
    values: list[float],
) -> None:
    xt = np.array(values)[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warning from inside
        mu, sd = scaling(xt)
        assert np.isfinite(mu).all() and (sd > 0).all() and np.isfinite(sd).all()
        try:
            z = standardised(xt, mu, sd, features=("a",))
        except DataError as err:
            assert "column 'a' of the data holds" in str(err)
        else:
            assert np.isfinite(z).all()
