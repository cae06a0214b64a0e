"""Numbers in sentences and tables (bcelab._core.display), and the decomposition's text."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import bcelab
from bcelab._core.display import count_of, counted, decimals_or_exponent


@pytest.mark.parametrize(
    ("v", "decimals", "shown"),
    [
        (0.0, 4, "0.0000"),
        (0.5806, 4, "0.5806"),
        (0.0123, 4, "0.0123"),
        (0.00123, 4, "0.00123"),
        (3.72008e-44, 6, "3.72008e-44"),
        (1e30, 4, "1e+30"),
        (9999999.0, 4, "9999999.0000"),
        (math.inf, 4, "inf"),
    ],
)
def test_examples(v: float, decimals: int, shown: str) -> None:
    assert decimals_or_exponent(v, decimals) == shown


def test_counts_agree_with_their_number() -> None:
    assert count_of(1, "row") == "1 row" and count_of(0, "row") == "0 rows"
    assert count_of(20_000, "row", grouped=True) == "20,000 rows"
    assert count_of(1, "row", grouped=True) == "1 row"
    assert counted(1, "value") == "1 value is" and counted(2, "value") == "2 values are"


@given(st.floats(allow_nan=False, allow_infinity=False), st.integers(2, 8))
def test_three_significant_digits_always_show(v: float, decimals: int) -> None:
    text = decimals_or_exponent(v, decimals)
    if v != 0:
        assert float(text) == pytest.approx(v, rel=5e-3)


def test_the_decomposition_prints_tiny_and_huge_losses() -> None:
    # .4f printed -log(1 - 1e-12) as 0.0000 and a logit of 1e30 with thirty-one digits
    assert str(bcelab.decompose([1 - 1e-12], [1.0])).startswith("BCE 9.99978e-13 = floor 0.0000 + ")
    assert str(bcelab.decompose([1e30], [0.0], logits=True)).startswith("BCE 1e+30 = floor 0.0000")


def test_an_infinite_loss_is_all_excess() -> None:
    # inf / inf gave excess_fraction NaN, "nan%" in the notebook view
    d = bcelab.decompose([0.0, 0.5], [1.0, 0.5])
    assert d.bce == d.excess == float("inf") and d.floor == pytest.approx(0.3465735902799726)
    assert d.excess_fraction == 1.0 and d.to_dict()["excess_fraction"] == 1.0
    assert "excess is 100.0% of the loss" in d._repr_html_()
