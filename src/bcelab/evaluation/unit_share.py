"""Idle threads read ahead the last row groups of a unit that another thread is running.

The local engine runs one unit per thread.  Near the end of a run fewer units remain than
threads, and a thread that has no unit left would wait for the others.  A
:class:`UnitShare` lets it decode the last row groups of a running unit instead (pyarrow
releases the GIL), from the end of the unit backwards, while the unit's own thread reads
the first ones and runs the metric kernel on every batch, in order: the unit ends sooner
and its state is the same, bit for bit, because the same batches reach the kernel in the
same order.

Only Parquet units whose row groups, all but the last, hold a multiple of the batch size
take part (:func:`can_share`): their batches are then the same whether the row groups are
read together or one at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

__all__ = ["UnitShare", "can_share"]


def can_share(group_rows: tuple[int, ...], batch_rows: int) -> bool:
    """Whether a unit of row groups of ``group_rows`` rows can be read in parts."""
    return len(group_rows) >= 2 and all(r % batch_rows == 0 for r in group_rows[:-1])


class _Part:
    """A row group decoded by a helper: its batches, or the error that stopped it."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.batches: list[pa.RecordBatch] = []
        self.error: BaseException | None = None


class UnitShare:
    """The row groups of one unit, taken in order by the unit's thread and from the end by
    helpers (:meth:`help`); :meth:`batches` gives the unit's thread every batch in order.

    ``open_file`` opens the Parquet file (each thread opens its own); ``groups`` are the
    unit's row groups; ``read(pf, group)`` yields the record batches of one row group.
    """

    def __init__(self, open_file: Any, groups: tuple[int, ...], read: Any) -> None:
        self._open = open_file
        self._groups = groups
        self._read = read
        self._lock = threading.Lock()
        self._next = 0  # the first group the unit's thread has not started
        self._started = False  # whether the unit's thread has started reading
        self._end = len(groups)  # groups [end:] belong to helpers
        self._parts: dict[int, _Part] = {}
        self._closed = False

    def open_groups(self) -> int:
        """Groups that a helper could still claim (nobody has started them, and the first
        is the unit's own thread's, even before it starts)."""
        with self._lock:
            return 0 if self._closed else max(0, self._end - self._first_free())

    def _first_free(self) -> int:
        return self._next if self._started else self._next + 1

    def _claim_last(self) -> tuple[int, _Part] | None:
        with self._lock:
            first_free = self._first_free()
            if self._closed or self._end <= first_free:
                return None
            self._end -= 1
            part = self._parts[self._end] = _Part()
            return self._end, part

    def help(self) -> int:
        """Decode open groups from the end until none is left; returns how many."""
        pf = None
        done = 0
        while (claim := self._claim_last()) is not None:
            k, part = claim
            try:
                pf = self._open() if pf is None else pf
                part.batches = list(self._read(pf, self._groups[k]))
            except BaseException as e:  # delivered to the unit's thread, in its place
                part.error = e
            finally:
                part.done.set()
            done += 1
        return done

    def batches(self, pf: Any) -> Iterator[pa.RecordBatch]:
        """Every batch of the unit in order: read here until the helpers' groups, then
        theirs (waiting for each); a helper's error is raised at its place."""
        try:
            while True:
                with self._lock:
                    self._started = True
                    if self._next >= self._end:
                        break
                    k = self._next
                    self._next += 1
                yield from self._read(pf, self._groups[k])
            for k in range(self._end, len(self._groups)):
                part = self._parts[k]
                part.done.wait()
                if part.error is not None:
                    raise part.error
                yield from part.batches
        finally:
            with self._lock:
                self._closed = True
