"""The pure tasks both engines run, and the one merge order they share.

:func:`run_unit` reads one :class:`~bcelab.evaluation.reader.Unit` and returns its
metric states serialised with ``BinaryStats.to_bytes`` (one state per segment).  It is
a pure function of its unit, so a scheduler may run it again after a worker dies and
nothing is counted twice.

A plan may carry an ``accumulator`` (an object with ``empty()``, ``update(state, batch,
rows, plan)`` and ``decode(bytes)``, see :mod:`.recal_pass` and :mod:`.compare_task`)
that makes the tasks accumulate another state than ``BinaryStats``, and a
``negative_rate`` under which every negative counts ``1 / negative_rate`` times
(:func:`batch_arrays`).  An accumulator may also declare ``max_segments`` (the most
``by`` values, default :data:`MAX_SEGMENTS`) and ``exact_merge`` (see below).

Both engines merge the unit states in the fixed tree of :mod:`.merge_tree`, so they
return bit-identical numbers.  States whose merges are exact (integer sums, an
accumulator with ``exact_merge = True``) give the same bits in any order, so the local
engine merges them as they arrive (:func:`reducer`).  More ``by`` values than the plan
allows are a :class:`DataError` naming the column, whether one unit holds them or only
the units together (:func:`merge_objects`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from .. import errors
from ..errors import BCELabError, DataError
from ..metrics import BinaryStats
from .columns import Columns, check_target_range, check_weight_range
from .merge_tree import OrderedReducer, RunningReducer
from .reader import DEFAULT_BATCH_ROWS, Batch, Unit, iter_unit
from .segment_keys import Key, segment_key
from .segment_rows import RowsOrigin, RowsUpdateError, SegmentRows
from .unit_share import UnitShare

__all__ = [
    "MAX_SEGMENTS",
    "Plan",
    "PortableError",
    "UnitResult",
    "batch_arrays",
    "decode",
    "merge_encoded",
    "merge_objects",
    "reducer",
    "run_unit",
    "run_unit_objects",
    "segment_limit",
    "too_many_segments",
]

MAX_SEGMENTS = 256  # each segment holds a ~0.7 MB state

#: what a file's caller passes for predictions that are logits
LOGITS_FIX = "name the predictions with logits= instead of preds="


@dataclass(frozen=True)
class Plan:
    """Everything a task needs besides its unit (picklable, sent to every worker)."""

    columns: Columns
    strict: bool = False
    clip: float | None = None
    batch_rows: int = DEFAULT_BATCH_ROWS
    negative_rate: float | None = None  # each negative counts 1 / negative_rate times
    accumulator: Any = None  # None: BinaryStats; else what a pass accumulates (.recal_pass)


@dataclass
class UnitResult:
    """The states of one or more merged units: ``rows`` read and one state per segment."""

    rows: int
    states: dict[Key, Any] = field(default_factory=dict)  # BinaryStats, or its bytes


class PortableError(Exception):
    """A :class:`BCELabError` flattened to strings so that it survives pickling between
    processes; :meth:`restore` rebuilds the original class."""

    @classmethod
    def of(cls, e: BCELabError) -> PortableError:
        return cls(type(e).__name__, e.expected, e.received, e.fix)

    def restore(self) -> BCELabError:
        cls_name, expected, received, fix = self.args
        cls = getattr(errors, cls_name, DataError)
        err: BCELabError = cls(expected, received, fix)
        return err


def batch_arrays(
    b: Batch, idx: np.ndarray | None, plan: Plan
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(preds, targets, weights)`` of a batch's rows ``idx`` (all when None), with the
    negatives weighted by ``1 / plan.negative_rate`` when it is set."""
    y, p, w = b.target, b.pred, b.weight
    if idx is not None:  # np.take: the same rows, quicker than y[idx] for 1-d arrays
        y, p = np.take(y, idx), np.take(p, idx)
        w = None if w is None else np.take(w, idx)
    if plan.negative_rate is not None:
        # start-up time: the recalibration module loads only for a negative_rate
        from ..metrics.recalibration import reweight_negatives

        y, w = reweight_negatives(y, w, negative_rate=plan.negative_rate)
    return p, y, w


def _update(state: Any, b: Batch, idx: np.ndarray | None, plan: Plan) -> None:
    if plan.accumulator is not None:
        plan.accumulator.update(state, b, idx, plan)
        return
    _update_rows(state, *batch_arrays(b, idx, plan), plan=plan)


def _update_rows(
    state: BinaryStats, p: np.ndarray, y: np.ndarray, w: np.ndarray | None, *, plan: Plan
) -> None:
    state.update(p, y, weights=w, logits=plan.columns.logits, clip=plan.clip, strict=plan.strict)


def _held_rows(plan: Plan) -> SegmentRows | None:
    """Where a plan's segments hold their rows between batches (:mod:`.segment_rows`):
    for ``BinaryStats`` states of a ``by`` column, without ``strict`` (whose first error
    ends the run at its own batch); None: one update per segment and batch."""
    if plan.columns.by is None or plan.accumulator is not None or plan.strict:
        return None
    return SegmentRows(partial(_update_rows, plan=plan), partial(BinaryStats, threads=1))


def segment_limit(plan: Plan) -> int:
    """The most distinct ``by`` values of the plan (its accumulator's ``max_segments``)."""
    return int(getattr(plan.accumulator, "max_segments", MAX_SEGMENTS))


def too_many_segments(plan: Plan, received: str) -> DataError:
    """The error for more ``by`` values than :func:`segment_limit` allows."""
    by = plan.columns.by
    return DataError(
        f"at most {segment_limit(plan)} distinct values in the by column {by!r}",
        received,
        f"segment by a coarser column than {by!r} (each segment keeps its own state)",
    )


def _state(states: dict[Key, Any], key: Key, plan: Plan, unit: Unit) -> Any:
    """The segment's state, created on first use with one kernel thread (see below)."""
    if key not in states:
        if len(states) >= segment_limit(plan):
            raise too_many_segments(plan, f"found more in {unit.where()}")
        acc = plan.accumulator
        states[key] = BinaryStats(threads=1) if acc is None else acc.empty()
    return states[key]


def run_unit_objects(unit: Unit, plan: Plan, share: UnitShare | None = None) -> UnitResult:
    """Read one unit into ``BinaryStats`` objects, one per segment (errors name the batch);
    ``share``: other threads may read the unit's last row groups ahead (the local engine).

    The metric kernel runs single-threaded here (``threads=1``): it splits a batch
    between its threads, and where it splits changes the last bits of the sums.  One
    thread per unit makes a unit's state independent of the machine, so every engine
    gets bit-identical results; parallelism comes from running several units at once.

    Targets outside [0, 1] are an error (:func:`~.columns.check_target_range`, which
    names the row).  ``BinaryStats.update`` counts them among its invalid targets, so a
    batch is searched for them only when that count grows or the update fails (a target
    error comes first, as it would from the reader); an accumulator's batches are
    checked before its update.  With a ``by`` column each segment's rows are held across
    batches (:mod:`.segment_rows`), and every batch's targets are checked as it is read.
    """
    out = UnitResult(0)
    held = _held_rows(plan)
    # BinaryStats counts the targets outside [0, 1] when the batch's rows are added
    counted = plan.accumulator is None and held is None
    for b in iter_unit(unit, plan.columns, batch_rows=plan.batch_rows, share=share):
        out.rows += len(b)
        if not counted:
            _check_targets(b, unit, plan)
        invalid = _invalid_targets(out.states) if counted else 0
        failed: RowsUpdateError | None = None
        try:
            _add_batch(out.states, b, unit, plan, held)
        except RowsUpdateError as e:
            failed = e
        if counted and (failed is not None or _invalid_targets(out.states) != invalid):
            _check_targets(b, unit, plan)
        if failed is not None:
            raise _in_source(failed, unit, plan)
    if held is not None:
        try:
            held.flush()
        except RowsUpdateError as e:
            raise _in_source(e, unit, plan) from None
    return out


def _in_source(failed: RowsUpdateError, unit: Unit, plan: Plan) -> BCELabError:
    """The update's error with the unit and batch of its rows, and the row it names (an
    index into the update's arrays) as the source's row (a CSV file's line).  A weight
    the update refuses is named as the weight column (the caller passed no array), and
    probabilities that look like logits point to ``logits=`` (the update's own advice,
    ``logits=True``, is not an argument of the caller)."""
    err, origin = failed.error, failed.origin
    where = f"{unit.where()}, batch {origin.batch}"
    expected = err.expected
    name = plan.columns.weight
    if name is not None:
        head, sep, rest = expected.partition(": weights ")
        if sep and head.endswith(".update"):
            expected = f"weight column {name!r} {rest}"
    head, sep, rest = expected.partition(": ")
    if sep and head.endswith(".update"):  # a method the caller never called
        expected = rest
    fix = err.fix.replace("pass logits=True", LOGITS_FIX)
    if err.row is None:
        return type(err)(expected, f"{err.received} (in {where})", fix)
    n = origin.source_row(err.row)
    at = f"line {n + 2}" if unit.kind == "csv" else f"row {n}"
    return type(err)(expected, err.received_at(f"{at} of {where}"), fix)


def _add_batch(
    states: dict[Key, Any], b: Batch, unit: Unit, plan: Plan, held: SegmentRows | None
) -> None:
    """Add one batch to its segments' states (``held``: their rows wait there); an
    update's error comes as :class:`RowsUpdateError`, with the rows it was given."""
    if b.by is None:
        _update_or_raise(_state(states, None, plan, unit), b, None, plan)
        return
    codes, values = b.by
    order = np.argsort(codes, kind="stable")
    sc = np.take(codes, order)
    cuts = np.flatnonzero(np.diff(sc)) + 1
    segments = [
        (_state(states, None if sc[lo] < 0 else segment_key(values[sc[lo]]), plan, unit), lo, hi)
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(sc)], strict=True)
    ]
    if held is None:
        for state, lo, hi in segments:
            _update_or_raise(state, b, order[lo:hi], plan)
        return
    p, y, w = batch_arrays(b, order, plan)  # the batch's rows in segment order: one gather
    for state, lo, hi in segments:
        origin = RowsOrigin(b.number, b.first_row, order[lo:hi])
        held.add(state, p[lo:hi], y[lo:hi], None if w is None else w[lo:hi], origin)


def _update_or_raise(state: Any, b: Batch, idx: np.ndarray | None, plan: Plan) -> None:
    try:
        _update(state, b, idx, plan)
    except BCELabError as e:
        raise RowsUpdateError(e, RowsOrigin(b.number, b.first_row, idx)) from None


def _invalid_targets(states: dict[Key, Any]) -> int:
    return sum(s.count("invalid_target") for s in states.values())


def _check_targets(b: Batch, unit: Unit, plan: Plan) -> None:
    """The batch's targets, and with a ``by`` column its weights (counted over the batch,
    not over one segment's rows)."""
    where, csv = f"{unit.where()}, batch {b.number}", unit.kind == "csv"
    check_target_range(b.target, plan.columns.target, where, b.first_row, csv=csv)
    if b.by is not None and b.weight is not None and plan.columns.weight is not None:
        check_weight_range(b.weight, plan.columns.weight, where, b.first_row, csv=csv)


def run_unit(unit: Unit, plan: Plan) -> UnitResult:
    """Read one unit and return its states as bytes (pure: same unit, same bytes)."""
    try:
        res = run_unit_objects(unit, plan)
    except BCELabError as e:
        raise PortableError.of(e) from None
    return UnitResult(res.rows, {k: s.to_bytes() for k, s in res.states.items()})


def exact_merge(plan: Plan) -> bool:
    """Whether the plan's states merge exactly (integer sums: any order, the same bits)."""
    return bool(getattr(plan.accumulator, "exact_merge", False))


def run_unit_group(units: list[Unit], plan: Plan) -> UnitResult:
    """Read several units of an exact-merge plan into one result, states as bytes.

    For a plan whose states merge exactly, which units are merged first does not change
    a bit, so a Dask task can take several units and send one state instead of one per
    unit (the states of a paired bootstrap are tens of MB each).
    """
    total = UnitResult(0)
    try:
        for u in units:
            total = merge_objects(total, run_unit_objects(u, plan), plan)
    except BCELabError as e:
        raise PortableError.of(e) from None
    return UnitResult(total.rows, {k: s.to_bytes() for k, s in total.states.items()})


def decode(res: UnitResult, accumulator: Any = None) -> UnitResult:
    """Turn a result's states from bytes into objects (``BinaryStats``, or those of the
    plan's ``accumulator``)."""
    load = BinaryStats.from_bytes if accumulator is None else accumulator.decode
    return UnitResult(
        res.rows, {k: load(v) if isinstance(v, bytes) else v for k, v in res.states.items()}
    )


def merge_objects(a: UnitResult, b: UnitResult, plan: Plan) -> UnitResult:
    """Merge ``b`` into ``a`` segment by segment (``a``'s dict is updated in place); a
    :class:`DataError` when the segments together are more than the plan allows."""
    a.rows += b.rows
    for k, s in b.states.items():
        if k in a.states:
            a.states[k].merge(s)
        else:
            a.states[k] = s
    if len(a.states) > segment_limit(plan):
        raise too_many_segments(plan, f"found {len(a.states)} or more over all the rows")
    return a


def merge_encoded(a: UnitResult, b: UnitResult, plan: Plan) -> UnitResult:
    """Pure merge of two results whose states are bytes (used as a Dask task)."""
    acc = plan.accumulator
    try:
        m = merge_objects(decode(a, acc), decode(b, acc), plan)
    except BCELabError as e:
        raise PortableError.of(e) from None
    return UnitResult(m.rows, {k: s.to_bytes() for k, s in m.states.items()})


def reducer(plan: Plan) -> OrderedReducer | RunningReducer:
    """The local engine's reducer for ``plan``: the fixed tree, or a running merge when the
    plan's states merge exactly (its accumulator's ``exact_merge``)."""
    merge = partial(merge_objects, plan=plan)
    return RunningReducer(merge) if exact_merge(plan) else OrderedReducer(merge)
