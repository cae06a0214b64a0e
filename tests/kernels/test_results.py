"""The named result fields of the kernels match the slots that the compiled loops fill."""

from __future__ import annotations

import numpy as np
import pytest

from bcelab.kernels.constants import LossSlot, ScanSlot, StatsSum
from bcelab.kernels.stats_driver import ScanCounts
from bcelab.metrics import BinaryStats
from bcelab.metrics.stats import SUM_NAMES


def test_field_names_follow_the_slots() -> None:
    assert ScanCounts._fields == tuple(s.name.lower() for s in ScanSlot)
    assert SUM_NAMES == tuple(s.name.lower() for s in StatsSum)
    counts = ScanCounts.from_array(np.arange(len(ScanSlot), dtype=np.int64))
    assert counts.bad_weight == ScanSlot.BAD_WEIGHT and type(counts.bad_weight) is int


def test_loss_totals_by_name() -> None:
    pytest.importorskip("numba")
    from bcelab.kernels import loss_driver
    from bcelab.kernels.constants import Write

    assert loss_driver.LossTotals._fields == tuple(s.name.lower() for s in LossSlot)
    x = np.array([0.25, 0.5, 0.75, np.nan])
    y = np.array([1.0, 0.0, 1.0, 1.0])
    w = np.array([1.0, 2.0, 0.5, 1.0])
    kw = {"logits": False, "pos_weight": 1.0, "label_smoothing": 0.0, "den": 1.0}
    t = loss_driver.run(x, y, w, None, decomp=True, write=Write.NONE, **kw)
    assert t.invalid == 1.0 and t.weight == 4.5
    ok = loss_driver.run(x[:3], y[:3], w[:3], None, decomp=True, write=Write.NONE, **kw)
    want = -(np.log(0.25) + 2 * np.log(0.5) + 0.5 * np.log(0.75))
    assert ok.invalid == 0.0 and ok.loss == pytest.approx(want, rel=1e-15)
    assert ok.floor == 0.0 and ok.excess == pytest.approx(want, rel=1e-15)


def test_scan_counts_by_name() -> None:
    p = np.array([0.5, np.nan, 0.2, 1e-9, 0.7])
    y = np.array([1.0, 0.0, 2.0, 0.0, 1.0])
    s = BinaryStats(kernel="numpy").update(p, y, clip=1e-7)
    assert (s.count("nan_pred"), s.count("invalid_target"), s.count("clipped")) == (1, 1, 1)
    assert BinaryStats().update(p, y, clip=1e-7) == s
