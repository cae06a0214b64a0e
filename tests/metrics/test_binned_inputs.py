"""The checks of decompose_binned's histogram (bcelab.metrics.binned_inputs)."""

from __future__ import annotations

import numpy as np
import pytest

from bcelab.errors import DomainError, DTypeError, OptionError
from bcelab.metrics import decompose_binned

SCORES = {"score_log_loss": 0.7, "score_brier": 0.2}


def test_masses_whose_total_overflows_are_named_as_such() -> None:
    # it said "negative, NaN or infinite values" of finite masses, with NumPy's warning
    with pytest.raises(DomainError, match="total overflows") as e:
        decompose_binned([1e308, 1e308], [1e308, 1.0], **SCORES)
    assert "divide wpos and wneg by their largest value" in str(e.value)
    small = decompose_binned([1.0, 1.0], [1.0, 1e-308], **SCORES)
    scaled = decompose_binned([1e307, 1e307], [1e307, 1e-1], **SCORES)
    assert scaled.log_loss.miscalibration == pytest.approx(small.log_loss.miscalibration)


def test_missing_masses_are_required_not_nan() -> None:
    with pytest.raises(OptionError, match="wpos is required"):
        decompose_binned(None, [1.0], **SCORES)  # type: ignore[arg-type]
    with pytest.raises(DomainError, match="received 2 negative, NaN or infinite values"):
        decompose_binned([-1.0, 2.0], [1.0, np.nan], **SCORES)


@pytest.mark.parametrize("single", [[np.nan, np.nan], [0.5, 1.0], [2, 0], ["yes", "no"]])
def test_single_score_takes_booleans_or_0_and_1(single: list) -> None:
    # NaN was read as True: the bound fell from 0.40 to 1e-12
    with pytest.raises(DTypeError, match="single_score must be booleans"):
        decompose_binned([1.0, 2.0], [3.0, 1.0], **SCORES, single_score=single)


def test_single_score_as_0_and_1_is_the_same_as_booleans() -> None:
    a = decompose_binned([1.0, 2.0], [3.0, 1.0], **SCORES, single_score=[1, 0])
    b = decompose_binned([1.0, 2.0], [3.0, 1.0], **SCORES, single_score=[True, False])
    assert a.log_loss.bound == b.log_loss.bound > 0
