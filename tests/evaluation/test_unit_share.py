"""Idle threads reading a running unit's last row groups ahead (bcelab.evaluation.unit_share):
every batch reaches the unit's thread once and in order, errors arrive at their place, and
an evaluation gives the same bits with and without the help."""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bcelab.errors import DataError
from bcelab.evaluation.columns import Columns
from bcelab.evaluation.reader import plan_units, unit_share
from bcelab.evaluation.tasks import Plan
from bcelab.evaluation.unit_share import UnitShare, can_share

local_engine = importlib.import_module("bcelab.evaluation.local_engine")


def test_can_share_needs_whole_batches_in_every_group_but_the_last() -> None:
    assert can_share((8, 8, 3), 4)
    assert not can_share((8, 6, 8), 4)
    assert not can_share((8,), 4)  # one group: nothing to share


def _fake(groups: int, per_group: int = 3, delay: float = 0.0, bad: int | None = None):
    """A share over ``groups`` fake row groups: group g gives batches (g, 0..per_group-1)."""
    opened: list[int] = []

    def read(pf: object, g: int):
        for i in range(per_group):
            if g == bad and i == 1:
                raise OSError(f"corrupt row group {g}")
            time.sleep(delay)
            yield (g, i)

    def open_file() -> object:
        opened.append(1)
        return object()

    return UnitShare(open_file, tuple(range(groups)), read), opened


def test_without_helpers_the_owner_reads_every_group_in_order() -> None:
    share, _ = _fake(4)
    assert list(share.batches(object())) == [(g, i) for g in range(4) for i in range(3)]
    assert share.open_groups() == 0
    assert share.help() == 0  # closed: nothing left to claim


def test_helpers_take_groups_from_the_end_and_the_owner_gets_all_in_order() -> None:
    share, opened = _fake(6, delay=0.002)
    it = share.batches(object())
    first = next(it)  # the owner has started group 0
    assert share.open_groups() == 5
    helped: list[int] = []
    threads = [threading.Thread(target=lambda: helped.append(share.help())) for _ in range(2)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while share.open_groups() and time.monotonic() < deadline:  # a loaded machine may
        time.sleep(0.001)  # start the helpers late: the owner goes on once they have claimed
    rest = list(it)
    for t in threads:
        t.join()
    assert [first, *rest] == [(g, i) for g in range(6) for i in range(3)]
    assert sum(helped) == 5 and len(opened) == sum(h > 0 for h in helped)
    assert share.open_groups() == 0


def test_a_helpers_error_is_raised_where_its_group_starts() -> None:
    share, _ = _fake(4, bad=3)
    it = share.batches(object())
    got = [next(it)]
    assert share.help() == 3  # groups 3 (fails), 2 and 1: the owner has started 0
    with pytest.raises(OSError, match="corrupt row group 3"):
        for b in it:
            got.append(b)
    assert got == [(g, i) for g in range(3) for i in range(3)]  # every batch before it


def _file(path: Path, groups: int, rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = groups * rows
    p = rng.random(n).astype(np.float32)
    y = (rng.random(n) < p).astype(np.float32)
    pq.write_table(pa.table({"y": y, "p": p}), path, row_group_size=rows)


def test_the_engine_gives_the_same_bits_with_helpers(tmp_path: Path, monkeypatch) -> None:
    """A one-group unit next to a sixteen-group one on two threads: the free thread helps
    the big unit, and the states equal those of one thread, bit for bit."""
    _file(tmp_path / "a.parquet", 1, 4096, 1)
    _file(tmp_path / "b.parquet", 16, 4096, 2)
    cols = Columns("y", "p")
    units = plan_units([tmp_path / "a.parquet", tmp_path / "b.parquet"], cols, unit_rows=1 << 30)
    assert [len(u.row_groups) for u in units] == [1, 16]
    plan = Plan(cols, batch_rows=1024)
    assert unit_share(units[1], cols, 1024) is not None
    assert unit_share(units[1], cols, 3000) is None  # groups of 4096 rows: not whole batches
    calls: list[int] = []
    helped = threading.Event()
    real_help, real_batches, real_claim = UnitShare.help, UnitShare.batches, UnitShare._claim_last

    def counted(self: UnitShare) -> int:
        calls.append(n := real_help(self))
        return n

    def claim(self: UnitShare) -> object:
        got = real_claim(self)
        helped.set()  # the free thread has made its first claim
        return got

    def batches(self: UnitShare, pf: object) -> Iterator[object]:
        helped.wait(10)  # the big unit's thread waits for the free one (a loaded machine
        yield from real_batches(self, pf)  # may otherwise let it claim every group first)

    monkeypatch.setattr(UnitShare, "help", counted)
    one = local_engine.run_local(units, plan, threads=1)
    monkeypatch.setattr(UnitShare, "_claim_last", claim)
    monkeypatch.setattr(UnitShare, "batches", batches)
    for _ in range(5):
        helped.clear()
        two = local_engine.run_local(units, plan, threads=2)
        assert two.rows == one.rows == 17 * 4096
        assert two.states[None].to_bytes() == one.states[None].to_bytes()
    assert len(calls) == 5 and min(calls) >= 1  # the free thread decoded some of the big unit


def test_an_error_in_a_helped_group_stops_the_run_as_a_read_error(
    tmp_path: Path, monkeypatch
) -> None:
    """The last row group fails to decode in the helper's thread: the run stops with the
    unit's read error (a DataError naming the file and the batch), as without help."""
    _file(tmp_path / "a.parquet", 1, 4096, 1)
    _file(tmp_path / "b.parquet", 16, 4096, 2)
    cols = Columns("y", "p")
    units = plan_units([tmp_path / "a.parquet", tmp_path / "b.parquet"], cols, unit_rows=1 << 30)
    readers: dict[int, str] = {}

    def failing_share(u, c, batch_rows):
        if unit_share(u, c, batch_rows) is None:
            return None
        last = u.row_groups[-1]

        def read(pf, g):
            readers[g] = threading.current_thread().name
            if g == last:
                raise OSError("simulated bad page")
            return pf.iter_batches(batch_rows, row_groups=[g], columns=["y", "p"])

        return UnitShare(lambda: pq.ParquetFile(u.path), u.row_groups, read)

    monkeypatch.setattr(local_engine, "unit_share", failing_share)
    for _ in range(5):  # until the free thread reads the last group
        readers.clear()
        with pytest.raises(DataError, match=r"b\.parquet.*simulated bad page"):
            local_engine.run_local(units, Plan(cols, batch_rows=1024), threads=2)
        if readers[15] != readers[0]:
            break
    assert readers[15] != readers[0]  # a helper, not the unit's own thread, read it


def test_a_helper_before_the_owner_starts_leaves_it_the_first_group() -> None:
    share, _ = _fake(3)
    assert share.help() == 2  # groups 2 and 1; group 0 is the unit's own thread's
    assert list(share.batches(object())) == [(g, i) for g in range(3) for i in range(3)]


def test_one_unit_of_several_groups_gets_a_helper_thread(tmp_path: Path, monkeypatch) -> None:
    """A file of one unit on two threads: the second thread reads its end ahead (the same
    bits as one thread)."""
    _file(tmp_path / "b.parquet", 8, 4096, 2)
    cols = Columns("y", "p")
    units = plan_units([tmp_path / "b.parquet"], cols, unit_rows=1 << 30)
    plan = Plan(cols, batch_rows=1024)
    calls: list[int] = []
    helped = threading.Event()
    real_help, real_batches = UnitShare.help, UnitShare.batches

    def help_(self: UnitShare) -> int:
        helped.set()
        calls.append(real_help(self))
        return calls[-1]

    def batches(self: UnitShare, pf: object) -> Iterator[object]:
        # the unit's thread starts once the helper has: on a loaded machine it could
        # otherwise claim every group before the engine offers the helper one
        helped.wait(10)
        yield from real_batches(self, pf)

    monkeypatch.setattr(UnitShare, "help", help_)
    one = local_engine.run_local(units, plan, threads=1)
    assert calls == []
    monkeypatch.setattr(UnitShare, "batches", batches)
    two = local_engine.run_local(units, plan, threads=2)
    assert two.states[None].to_bytes() == one.states[None].to_bytes()
    assert len(calls) == 1
