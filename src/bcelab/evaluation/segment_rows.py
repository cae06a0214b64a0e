"""Each segment's rows held across batches, so that one metric update takes many rows.

With a ``by`` column every batch holds a few rows of each segment (a batch of 2**20 rows
over 250 segments: about 4,000 each), and an update of a few thousand rows costs as much
in its fixed part (the checks, the kernel call, a histogram that has left the cache) as
in its rows.  :class:`SegmentRows` keeps each segment's rows (views of the batch's rows
sorted by segment, in row order within each segment) and adds them to the segment's
state in one update when the segment holds :data:`FLUSH_ROWS` rows, when the held rows
span :data:`HELD_BATCHES` batches (which bounds the memory held to that many batches),
and at the end of the unit (:meth:`SegmentRows.flush`).

Each state receives its rows in the same order as with one update per batch, in fewer,
longer updates: the counts are the same and the sums may differ in their last bits (the
kernel sums blocks of rows).  Every engine runs this same code, so they still agree bit
for bit.

Each part carries its :class:`RowsOrigin` (its batch, and its rows in that batch).  An
update that fails is replayed part by part on an empty state, so that the error is the
one the part's own rows give, and :class:`RowsUpdateError` carries that part's origin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import BCELabError

__all__ = ["FLUSH_ROWS", "HELD_BATCHES", "RowsOrigin", "RowsUpdateError", "SegmentRows"]

#: a segment's rows are added to its state once it holds this many
FLUSH_ROWS = 1 << 14
#: every segment's rows are added once the rows held come from this many batches
#: (2**21 rows at the default batch of 2**20 rows)
HELD_BATCHES = 2

#: ``update(state, preds, targets, weights)``: add rows to a state (raises BCELabError)
Update = Callable[[Any, np.ndarray, np.ndarray, "np.ndarray | None"], None]


@dataclass(frozen=True)
class RowsOrigin:
    """Where an update's rows come from: batch number ``batch``, whose first row is the
    source's row ``first_row``; ``rows``, the rows' indices in the batch (None: all of
    the batch's rows, in order)."""

    batch: int
    first_row: int
    rows: np.ndarray | None = None

    def source_row(self, i: int) -> int:
        """The source's row of the update's row ``i``."""
        return self.first_row + (int(i) if self.rows is None else int(self.rows[i]))


class RowsUpdateError(Exception):
    """An update raised ``error`` on the rows that ``origin`` describes."""

    def __init__(self, error: BCELabError, origin: RowsOrigin) -> None:
        super().__init__(error, origin)
        self.error = error
        self.origin = origin


@dataclass
class _Part:
    origin: RowsOrigin
    preds: np.ndarray
    targets: np.ndarray
    weights: np.ndarray | None


class SegmentRows:
    """Rows waiting for their segment's state (see the module docstring).

    ``update`` adds rows to a state, ``empty`` makes an empty state (for the replay of
    a failed update); ``flush_rows`` and ``held_batches`` default to :data:`FLUSH_ROWS`
    and :data:`HELD_BATCHES`.
    """

    def __init__(
        self,
        update: Update,
        empty: Callable[[], Any],
        *,
        flush_rows: int = FLUSH_ROWS,
        held_batches: int = HELD_BATCHES,
    ) -> None:
        self._update = update
        self._empty = empty
        self._flush_rows = flush_rows
        self._held_batches = held_batches
        # id(state) -> (state, parts, rows), in the order the states were first given
        self._held: dict[int, tuple[Any, list[_Part], int]] = {}
        self._rows = 0
        self._batches: list[int] = []  # the batches seen since every row was last added

    @property
    def rows(self) -> int:
        """The rows held now, in all segments together."""
        return self._rows

    def add(
        self,
        state: Any,
        preds: np.ndarray,
        targets: np.ndarray,
        weights: np.ndarray | None,
        origin: RowsOrigin,
    ) -> None:
        """Hold rows of ``state``'s segment from the batch that ``origin`` names (the
        arrays are kept, not copied); they reach the state when it holds enough (or at
        :meth:`flush`)."""
        if not self._batches or self._batches[-1] != origin.batch:
            if len(self._batches) == self._held_batches:
                self.flush()
            self._batches.append(origin.batch)
        _, parts, rows = self._held.get(id(state), (state, [], 0))
        parts.append(_Part(origin, preds, targets, weights))
        rows += int(preds.shape[0])
        self._held[id(state)] = (state, parts, rows)
        self._rows += int(preds.shape[0])
        if rows >= self._flush_rows:
            self._flush_one(id(state))

    def flush(self) -> None:
        """Add every held row to its state (in the order the states were first given)."""
        for key in list(self._held):
            self._flush_one(key)
        self._batches.clear()

    def _flush_one(self, key: int) -> None:
        state, parts, rows = self._held.pop(key)
        self._rows -= rows
        if len(parts) == 1:
            p, y, w = parts[0].preds, parts[0].targets, parts[0].weights
        else:
            p = np.concatenate([part.preds for part in parts])
            y = np.concatenate([part.targets for part in parts])
            # the parts of one plan all have weights or none (else the lengths differ
            # and the update raises)
            ws = [part.weights for part in parts if part.weights is not None]
            w = np.concatenate(ws) if ws else None
        try:
            self._update(state, p, y, w)
        except BCELabError as e:
            raise self._replay(parts, e) from None

    def _replay(self, parts: list[_Part], err: BCELabError) -> RowsUpdateError:
        """The error of the first part that fails on its own (the state is unchanged by
        a failed update, and the run ends with this error)."""
        for part in parts:
            try:
                self._update(self._empty(), part.preds, part.targets, part.weights)
            except BCELabError as e:
                return RowsUpdateError(e, part.origin)
        # only the whole failed (no part names a row of its own)
        last = parts[-1].origin
        err.row = None
        return RowsUpdateError(err, RowsOrigin(last.batch, last.first_row))
