"""Every undefined metric in the printed summary says why, never ``nan``.

The threshold line printed ``recall nan`` for rows without a positive target (0 / 0);
NE, calibration and the areas already said ``undefined: ...``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.fuzzing import fuzz

from bcelab.metrics import BinaryStats
from bcelab.metrics.result import NEEDS, undefined_reason

# the metrics that are 0 / 0 for some rows, and their lines' reasons
ZERO_BY_ZERO = (*NEEDS, "accuracy", "precision", "recall", "f1")


def _metrics(p: list[float], y: list[float], threshold: float = 0.5) -> str:
    stats = BinaryStats().update(np.array(p), np.array(y))
    return str(stats.compute(threshold=threshold)).splitlines()[-1]


@pytest.mark.parametrize(
    ("p", "y", "line"),
    [
        (
            [0.1, 0.7],
            [0.0, 0.0],
            "accuracy 0.5, precision 0, recall undefined (no positive targets), F1 0",
        ),
        (
            [0.1, 0.2],
            [0.0, 0.0],
            "accuracy 1, precision undefined (no prediction >= 0.5), recall undefined (no "
            "positive targets), F1 undefined (no positive targets and no prediction >= 0.5)",
        ),
        (
            [0.1, 0.2],
            [1.0, 0.0],
            "accuracy 0.5, precision undefined (no prediction >= 0.5), recall 0, F1 0",
        ),
        ([0.3, 0.8], [0.0, 1.0], "accuracy 1, precision 1, recall 1, F1 1"),
    ],
)
def test_the_threshold_line_names_each_zero_by_zero(
    p: list[float], y: list[float], line: str
) -> None:
    assert _metrics(p, y) == f"at p >= 0.5  {line}"


@fuzz
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from([0.0, 1e-300, 0.1, 0.5, 0.9, 1.0]) | st.floats(0.0, 1.0),
            st.sampled_from([0.0, 1.0]),
        ),
        min_size=1,
        max_size=12,
    ),
    threshold=st.sampled_from([0.5, 0.125, 0.75]),
)
def test_no_metric_is_printed_as_nan_and_each_gap_has_a_reason(
    rows: list[tuple[float, float]], threshold: float
) -> None:
    p, y = (np.array(c) for c in zip(*rows, strict=True))
    m = BinaryStats().update(p, y).compute(threshold=threshold)
    assert "nan" not in str(m).replace("NaN or null", "")
    d = m.to_dict()
    for name in ZERO_BY_ZERO:  # an infinite NE (a log loss of inf) is no gap
        reason = undefined_reason(d, name)
        assert math.isnan(getattr(m, name)) == (reason is not None), (name, d[name], reason)
        if reason is not None:
            assert f"undefined: {reason}" in str(m) or f"undefined ({reason})" in str(m)


def test_a_defined_value_has_no_reason() -> None:
    d = BinaryStats().update(np.array([0.2, 0.8]), np.array([0.0, 1.0])).compute().to_dict()
    assert all(undefined_reason(d, k) is None for k in ZERO_BY_ZERO)
    assert not any(math.isnan(v) for v in d.values() if isinstance(v, float))
