"""The pure tasks both engines run, and the one merge order they share.

:func:`run_unit` reads one :class:`~bcelab.evaluation.reader.Unit` and returns its
states serialised with ``to_bytes`` (one state per segment).  It is a pure function of
its unit, so a scheduler may run it again after a worker dies and nothing is counted
twice.  What a state is comes from the plan's :class:`Accumulator`: a
``BinaryStats`` for :func:`bcelab.evaluate` (:class:`BinaryAccumulator`, the default),
a paired bootstrap state for :func:`bcelab.evaluation.compare`.

Floating-point addition is not associative, so the engines merge the unit states in one
fixed tree, :func:`tree_reduce` (pairs of neighbours, level by level).  The local engine
builds the same tree incrementally with :class:`OrderedReducer`.  Both engines therefore
return bit-identical numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol, TypeVar

import numpy as np

from .. import errors
from ..errors import BCELabError, DataError
from ..metrics import BinaryStats
from .columns import Columns
from .reader import DEFAULT_BATCH_ROWS, Batch, Unit, iter_unit

__all__ = [
    "MAX_SEGMENTS",
    "Accumulator",
    "BinaryAccumulator",
    "OrderedReducer",
    "Plan",
    "PortableError",
    "RunningReducer",
    "UnitResult",
    "decode",
    "merge_encoded",
    "reducer",
    "run_unit",
    "run_unit_objects",
    "segment_order",
    "tree_reduce",
]

MAX_SEGMENTS = 256  # each segment holds a ~0.7 MB state
Key = Any  # a segment value: str, int, float, bool or None (None when there is no by column)
T = TypeVar("T")


class Accumulator(Protocol):
    """What a task accumulates: how to make an empty state, add a batch, decode bytes.

    A state has ``merge(other)`` (in place, returns itself) and ``to_bytes()``, and the
    same rows merged in the same order give the same bits.  An accumulator is sent to
    every worker with the :class:`Plan`, so it must pickle.
    """

    @property
    def max_segments(self) -> int:
        """The most distinct values of the ``by`` column (each keeps its own state)."""
        ...

    @property
    def exact_merge(self) -> bool:
        """Whether merging states in any order gives the same bits (integer sums): then
        the local engine merges each unit's states as they arrive, holding fewer states
        (:class:`RunningReducer`), and still matches the fixed tree of the Dask engine."""
        ...

    def empty(self) -> Any:
        """A new state without rows."""
        ...

    def update(self, state: Any, batch: Batch, rows: np.ndarray | None, where: RowOrigin) -> None:
        """Add the batch's rows (``rows``: the positions of a segment's rows, sorted) to
        ``state``."""
        ...

    def decode(self, data: bytes) -> Any:
        """A state from its ``to_bytes()``."""
        ...


@dataclass(frozen=True)
class RowOrigin:
    """Where a batch's rows come from: the unit, the plan, and the file row of row 0."""

    unit: Unit
    plan: Plan
    first_row: int


@dataclass(frozen=True)
class BinaryAccumulator:
    """One :class:`bcelab.metrics.BinaryStats` per segment (:func:`bcelab.evaluate`).

    The metric kernel runs single-threaded here (``threads=1``): it splits a batch
    between its threads, and where it splits changes the last bits of the sums.  One
    thread per unit makes a unit's state independent of the machine, so every engine
    gets bit-identical results; parallelism comes from running several units at once.
    """

    max_segments: int = MAX_SEGMENTS
    exact_merge: bool = False  # float sums: the merge order changes the last bits

    def empty(self) -> BinaryStats:
        return BinaryStats(threads=1)

    def update(self, state: Any, batch: Batch, rows: np.ndarray | None, where: RowOrigin) -> None:
        y, p, w = batch.target, batch.pred, batch.weight
        if rows is not None:
            y, p = y[rows], p[rows]
            w = None if w is None else w[rows]
        plan = where.plan
        state.update(
            p, y, weights=w, logits=plan.columns.logits, clip=plan.clip, strict=plan.strict
        )

    def decode(self, data: bytes) -> BinaryStats:
        return BinaryStats.from_bytes(data)


@dataclass(frozen=True)
class Plan:
    """Everything a task needs besides its unit (picklable, sent to every worker)."""

    columns: Columns
    strict: bool = False
    clip: float | None = None
    batch_rows: int = DEFAULT_BATCH_ROWS
    accumulator: Accumulator = field(default_factory=BinaryAccumulator)


@dataclass
class UnitResult:
    """The states of one or more merged units: ``rows`` read and one state per segment."""

    rows: int
    states: dict[Key, Any] = field(default_factory=dict)  # BinaryStats, or its bytes


class PortableError(Exception):
    """A :class:`BCELabError` flattened to strings so that it survives pickling between
    processes; :meth:`restore` rebuilds the original class."""

    def restore(self) -> BCELabError:
        cls_name, expected, received, fix = self.args
        cls = getattr(errors, cls_name, DataError)
        err: BCELabError = cls(expected, received, fix)
        return err


def segment_order(key: Key) -> tuple[bool, str, Any]:
    """Sort key for segment values: None last, then grouped by type, then by value."""
    return (key is None, type(key).__name__, key if key is not None else 0)


def _normalise(value: Any) -> Key:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def _segment_state(out: UnitResult, key: Key, unit: Unit, plan: Plan) -> Any:
    """The segment's state, created on first use (at most ``max_segments`` of them)."""
    if key not in out.states:
        limit = plan.accumulator.max_segments
        if len(out.states) >= limit:
            raise DataError(
                f"at most {limit} distinct values in the by column {plan.columns.by!r}",
                f"found more in {unit.where()}",
                "segment by a coarser column (each segment keeps its own state)",
            )
        out.states[key] = plan.accumulator.empty()
    return out.states[key]


def run_unit_objects(unit: Unit, plan: Plan) -> UnitResult:
    """Read one unit into state objects, one per segment (errors name the batch)."""
    acc = plan.accumulator
    out = UnitResult(0)
    for b in iter_unit(unit, plan.columns, batch_rows=plan.batch_rows):
        where = RowOrigin(unit, plan, unit.first_row + out.rows)
        out.rows += len(b)
        try:
            if b.by is None:
                acc.update(_segment_state(out, None, unit, plan), b, None, where)
                continue
            codes, values = b.by
            order = np.argsort(codes, kind="stable")
            sc = codes[order]
            cuts = np.flatnonzero(np.diff(sc)) + 1
            for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(sc)], strict=True):
                c = int(sc[lo])
                key = None if c < 0 else _normalise(values[c])
                acc.update(_segment_state(out, key, unit, plan), b, order[lo:hi], where)
        except BCELabError as e:
            where_ = f"{unit.where()}, batch {b.number}"
            raise type(e)(e.expected, f"{e.received} (in {where_})", e.fix) from None
    return out


def run_unit(unit: Unit, plan: Plan) -> UnitResult:
    """Read one unit and return its states as bytes (pure: same unit, same bytes)."""
    try:
        res = run_unit_objects(unit, plan)
    except BCELabError as e:
        raise PortableError(type(e).__name__, e.expected, e.received, e.fix) from None
    return UnitResult(res.rows, {k: s.to_bytes() for k, s in res.states.items()})


def decode(res: UnitResult, acc: Accumulator | None = None) -> UnitResult:
    """Turn a result's states from bytes into objects (``acc``: the plan's accumulator,
    default :class:`BinaryAccumulator`)."""
    acc = BinaryAccumulator() if acc is None else acc
    return UnitResult(
        res.rows,
        {k: acc.decode(v) if isinstance(v, bytes) else v for k, v in res.states.items()},
    )


def merge_objects(a: UnitResult, b: UnitResult, max_segments: int = MAX_SEGMENTS) -> UnitResult:
    """Merge ``b`` into ``a`` segment by segment (``a``'s dict is updated in place)."""
    a.rows += b.rows
    for k, s in b.states.items():
        if k in a.states:
            a.states[k].merge(s)
        else:
            a.states[k] = s
    if len(a.states) > max_segments:
        raise PortableError(
            "DataError",
            f"at most {max_segments} distinct values in the by column",
            f"found {len(a.states)}",
            "segment by a coarser column",
        )
    return a


def merge_encoded(a: UnitResult, b: UnitResult, acc: Accumulator | None = None) -> UnitResult:
    """Pure merge of two results whose states are bytes (used as a Dask task)."""
    acc = BinaryAccumulator() if acc is None else acc
    m = merge_objects(decode(a, acc), decode(b, acc), acc.max_segments)
    return UnitResult(m.rows, {k: s.to_bytes() for k, s in m.states.items()})


def tree_reduce(items: list[T], merge: Callable[[T, T], T]) -> T:
    """Merge neighbours pairwise, level by level: ``((0 1) (2 3)) 4`` for five items."""
    if not items:
        raise ValueError("tree_reduce needs at least one item")
    while len(items) > 1:
        nxt = [merge(items[i], items[i + 1]) for i in range(0, len(items) - 1, 2)]
        if len(items) % 2:
            nxt.append(items[-1])
        items = nxt
    return items[0]


class OrderedReducer:
    """The tree of :func:`tree_reduce`, built as results arrive in any order.

    Items are buffered until all earlier indices are in, then pushed on a binary
    counter (two blocks of the same size are merged), so at most O(log n) merged
    blocks plus the out-of-order ones are held at a time.
    """

    def __init__(self, merge: Callable[[Any, Any], Any]) -> None:
        self._merge = merge
        self._pending: dict[int, Any] = {}
        self._next = 0
        self._stack: list[tuple[int, Any]] = []  # (level, merged block)

    def add(self, index: int, item: Any) -> None:
        self._pending[index] = item
        while self._next in self._pending:
            block, level = self._pending.pop(self._next), 0
            self._next += 1
            while self._stack and self._stack[-1][0] == level:
                block = self._merge(self._stack.pop()[1], block)
                level += 1
            self._stack.append((level, block))

    def empty(self) -> bool:
        """Whether no item was added."""
        return self._next == 0 and not self._pending

    def result(self) -> Any:
        if self._pending or not self._stack:
            raise ValueError(f"missing items: have {self._next}, pending {sorted(self._pending)}")
        out = self._stack[-1][1]
        for _, block in reversed(self._stack[:-1]):
            out = self._merge(block, out)
        return out


class RunningReducer:
    """One running merge in arrival order, for states whose merge is exact (any order
    gives the same bits): one merged state is held instead of a tree's O(log n) blocks."""

    def __init__(self, merge: Callable[[Any, Any], Any]) -> None:
        self._merge = merge
        self._total: Any = None

    def add(self, index: int, item: Any) -> None:
        self._total = item if self._total is None else self._merge(self._total, item)

    def empty(self) -> bool:
        """Whether no item was added."""
        return self._total is None

    def result(self) -> Any:
        if self._total is None:
            raise ValueError("missing items: none was added")
        return self._total


def reducer(plan: Plan) -> OrderedReducer | RunningReducer:
    """The local engine's reducer for ``plan``: the fixed tree, or a running merge when the
    plan's states merge exactly."""
    acc = plan.accumulator
    merge = partial(merge_objects, max_segments=acc.max_segments)
    return RunningReducer(merge) if acc.exact_merge else OrderedReducer(merge)
