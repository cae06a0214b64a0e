"""``bcelab explain``'s curve (bcelab.cli.explain)."""

from __future__ import annotations

import numpy as np
import pytest

import bcelab
from bcelab.cli.explain import curve


@pytest.mark.parametrize("target", [0.3, 0.05, 0.95])
def test_the_curve_climbs_off_the_axis_at_both_ends(target: float) -> None:
    # the grid stopped at p = 0.001 and 0.999: for y = 0.05 the left end stopped at 0.35,
    # below the axis' top of 3, as if BCE were bounded near p = 0
    p, loss, floor = curve(target)
    assert np.all(np.diff(p) >= 0) and 0 < p[0] and p[-1] <= 1
    assert loss[0] > 3 and loss[-1] > 3
    assert loss.min() == pytest.approx(floor, abs=1e-5)
    inner = (p > 0.01) & (p < 0.99)
    np.testing.assert_allclose(loss[inner], bcelab.bce(p[inner], np.full(inner.sum(), target)))


def test_a_hard_target_stays_at_zero_at_its_own_end() -> None:
    _, loss, floor = curve(0.0)
    assert floor == 0 and loss[0] < 1e-300 and loss[-1] > 3
