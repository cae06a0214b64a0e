"""Segments hold their rows across batches (bcelab.evaluation.segment_rows).

References: a recording update (which rows reach which state, in which calls), and the
state of one update per segment and batch, the way segments were added before their
rows were held (its counts are equal and its sums within 1e-12).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import bcelab
from bcelab.errors import DomainError
from bcelab.evaluation import local_engine
from bcelab.evaluation.columns import Columns
from bcelab.evaluation.reader import plan_units
from bcelab.evaluation.segment_rows import RowsOrigin, RowsUpdateError, SegmentRows
from bcelab.evaluation.tasks import Plan, run_unit_objects
from bcelab.metrics import BinaryStats

from .segment_data import segment_file


class Recorder:
    """A state that records the rows of each update it receives."""

    def __init__(self) -> None:
        self.calls: list[np.ndarray] = []


def _record(state: Recorder, p: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> None:
    if np.any(p < 0):
        raise DomainError("preds in [0, 1]", f"received {float(p.min())}", "fix the preds")
    state.calls.append(np.array(p))


def _rows(held: SegmentRows, states: list[Recorder], batches: int, per: int) -> None:
    """Each batch gives each state ``per`` rows, numbered in row order."""
    for b in range(batches):
        for k, s in enumerate(states):
            start = (b * len(states) + k) * per
            p = np.arange(start, start + per, dtype=np.float64)
            held.add(s, p, p, None, RowsOrigin(b, start))


def test_rows_reach_their_state_in_order_in_long_updates() -> None:
    states = [Recorder() for _ in range(3)]
    held = SegmentRows(_record, Recorder, flush_rows=50, held_batches=100)
    _rows(held, states, batches=12, per=10)
    # 50 rows: each state updates once every five batches, then the rest at flush
    assert [len(s.calls) for s in states] == [2, 2, 2]
    assert held.rows == 3 * 2 * 10
    held.flush()
    assert held.rows == 0
    for k, s in enumerate(states):
        assert [len(c) for c in s.calls] == [50, 50, 20]
        got = np.concatenate(s.calls)
        want = np.concatenate([np.arange(10) + (b * 3 + k) * 10 for b in range(12)])
        np.testing.assert_array_equal(got, want)


def test_rows_of_more_batches_than_held_batches_are_added() -> None:
    states = [Recorder() for _ in range(4)]
    held = SegmentRows(_record, Recorder, flush_rows=10**9, held_batches=3)
    _rows(held, states, batches=7, per=5)
    # batches 0-2 are added when batch 3 arrives, batches 3-5 when batch 6 arrives
    assert [[len(c) for c in s.calls] for s in states] == [[15, 15]] * 4
    held.flush()
    assert [[len(c) for c in s.calls] for s in states] == [[15, 15, 5]] * 4
    held.flush()  # nothing held: nothing added
    assert [len(s.calls) for s in states] == [3] * 4


def test_a_failed_update_names_the_rows_of_its_part() -> None:
    state = Recorder()
    held = SegmentRows(_record, Recorder, flush_rows=10**9, held_batches=100)
    for b in range(6):
        p = np.full(4, 0.5)
        if b == 3:
            p[2] = -1.0
        held.add(state, p, p, None, RowsOrigin(b, 100 * b, np.array([5, 7, 9, 11])))
    with pytest.raises(RowsUpdateError) as e:
        held.flush()
    assert e.value.origin.batch == 3
    assert isinstance(e.value.error, DomainError) and "-1.0" in e.value.error.received
    assert e.value.origin.source_row(2) == 309  # the batch's row 9, from source row 300
    assert state.calls == []  # the state's own update failed: nothing was added


@pytest.mark.parametrize("weighted", [False, True])
def test_held_segments_equal_one_update_per_batch(tmp_path: Path, weighted: bool) -> None:
    data = segment_file(tmp_path / "s.parquet", 200_000, 1)
    cols = Columns("y", "p", weight="w" if weighted else None, by="g")
    units = plan_units([tmp_path / "s.parquet"], cols, unit_rows=1 << 30)
    res = run_unit_objects(units[0], Plan(cols, batch_rows=2048))
    assert len(res.states) == 40
    for key, state in res.states.items():
        keep = data["g"] == key
        w = data["w"][keep] if weighted else None
        # the rows of one segment, one update per batch of the file, as before
        ref = BinaryStats(threads=1)
        for lo in range(0, 200_000, 2048):
            part = keep[lo : lo + 2048]
            wp = None if w is None else data["w"][lo : lo + 2048][part]
            ref.update(data["p"][lo : lo + 2048][part], data["y"][lo : lo + 2048][part], weights=wp)
        assert state.rows == ref.rows and state.rows_used == ref.rows_used
        a, b = state.to_arrays(), ref.to_arrays()
        np.testing.assert_array_equal(a["hist_n"], b["hist_n"])
        np.testing.assert_allclose(a["hist"], b["hist"], rtol=1e-12, atol=0)
        for name in ("w", "wy", "wp", "wbce", "wsq"):
            assert state.total(name) == pytest.approx(ref.total(name), rel=1e-12)


def test_every_engine_gives_the_same_bits(tmp_path: Path) -> None:
    segment_file(tmp_path / "s.parquet", 120_000, 2)
    runs = [
        bcelab.evaluate(tmp_path / "s.parquet", preds="p", target="y", by="g", threads=t)
        for t in (1, 2)
    ]
    cols = Columns("y", "p", by="g")
    units = plan_units([tmp_path / "s.parquet"], cols, unit_rows=1 << 15)
    small = local_engine.run_local(units, Plan(cols), threads=2)
    for a, b in zip(runs[0].segments, runs[1].segments, strict=True):
        assert a.stats.to_bytes() == b.stats.to_bytes()
    assert {k: s.rows for k, s in small.states.items()} == {
        s.value: s.stats.rows for s in runs[0].segments
    }
