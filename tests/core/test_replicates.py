"""How many bootstrap replicates an interval needs (bcelab._core.replicates)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcelab._core.replicates import (
    MAX_REPLICATES,
    check_enough_replicates,
    fewest_replicates,
    highest_confidence,
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
