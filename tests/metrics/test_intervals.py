"""Bootstrap intervals and p-values (bcelab.metrics.intervals): the interval excludes 0
exactly when the p-value is at most 1 - confidence."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcelab._core.replicates import fewest_replicates
from bcelab.metrics.intervals import bootstrap_p_value, percentile_interval, tail_rank

CONFIDENCES = st.sampled_from([0.5, 0.6, 0.8, 0.9, 0.95, 0.975, 0.99])
# replicates with many ties and exact zeros, as the sums of a paired bootstrap give them
VALUES = st.one_of(
    st.integers(-3, 3).map(float),
    st.floats(-1.0, 1.0, allow_nan=False, allow_subnormal=False),
    st.sampled_from([math.nan, math.inf, -math.inf]),
)


@given(st.lists(VALUES, max_size=400), CONFIDENCES)
def test_the_interval_excludes_zero_exactly_when_p_is_at_most_alpha(
    values: list[float], confidence: float
) -> None:
    reps = np.array(values, dtype=np.float64)
    lo, hi = percentile_interval(reps, confidence)
    p = bootstrap_p_value(reps)
    if not np.isfinite(reps).any():
        assert math.isnan(lo) and math.isnan(hi) and math.isnan(p)
        return
    excluded = lo > 0 or hi < 0
    assert excluded == (p <= (1 - confidence) * (1 + 1e-9)), (lo, hi, p)


def test_the_boundary_case_that_disagreed() -> None:
    # 200 replicates, 5 of them above 0: p = 2 * 6 / 201 = 0.0597.  NumPy's interpolated
    # 0.975 quantile (position 194.025) fell below 0, so the interval excluded 0 beside
    # that p; the order statistic of rank 201 - 5 = 196 is above 0.
    reps = np.concatenate([-np.linspace(1.0, 2.0, 195), np.linspace(0.01, 0.05, 5)])
    lo, hi = percentile_interval(reps, 0.95)
    assert bootstrap_p_value(reps) == pytest.approx(12 / 201)
    assert lo < 0 < hi
    assert np.quantile(reps, 0.975) < 0  # what the interpolated quantile gave


@pytest.mark.parametrize(
    ("replicates", "confidence", "rank"),
    [(199, 0.95, 5), (200, 0.95, 5), (999, 0.95, 25), (39, 0.95, 1), (38, 0.95, 0), (19, 0.9, 1)],
)
def test_the_tail_rank(replicates: int, confidence: float, rank: int) -> None:
    # Davison & Hinkley: the (R + 1) alpha / 2-th order statistic, rounded down
    assert tail_rank(replicates, confidence) == rank


@given(st.floats(1e-4, 1 - 1e-4))
def test_the_fewest_replicates_give_a_finite_interval(confidence: float) -> None:
    r = fewest_replicates(confidence)
    reps = np.arange(r, dtype=np.float64)
    lo, hi = percentile_interval(reps, confidence)
    assert tail_rank(r, confidence) >= 1 or r == 1
    assert (math.isfinite(lo) and math.isfinite(hi)) or r == 1


def test_order_statistics_of_a_known_sample() -> None:
    reps = np.arange(1.0, 200.0)  # 199 replicates: 1, 2, ..., 199
    assert percentile_interval(reps, 0.95) == (5.0, 195.0)
    np.random.default_rng(0).shuffle(reps)
    assert percentile_interval(reps, 0.95) == (5.0, 195.0)
    assert percentile_interval(reps[:20], 0.95) == (-math.inf, math.inf)  # no tail replicate
