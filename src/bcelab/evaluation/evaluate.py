"""``bcelab.evaluate``: metrics of prediction files of any size, on one machine or on Dask.

Every option is checked here, at the door, before any file is opened; the engines
(:mod:`.local_engine`, :mod:`.dask_engine`) receive checked values only.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._core.options import check_bool
from .._core.reducing import weight_total_error
from .._core.tables import check_delimiter
from ..errors import DomainError, EmptyReductionError, OptionError
from ..metrics import BinaryStats, CalibrationDecomposition, decompose_stats
from ..metrics.compute import check_calibration_bins, check_threshold, undefined_metrics
from ..metrics.stats import STRICT_HINT
from .columns import Columns, check_positive_label
from .eval_result import EvalResult, Recalibration, Segment
from .local_engine import ProgressFn
from .reader import Unit
from .recal_options import RecalibrationOptions, check_recalibration_options
from .row_progress import RowProgressBar
from .run_options import ENGINES, check_clip_option, check_engine_options, progress_callable
from .runner import Runner, open_runner
from .segment_keys import segment_order
from .sources import check_source_kind, plan_source, run_planned
from .tasks import Plan, UnitResult
from .warmup import compile_metric_kernels

if TYPE_CHECKING:
    from .recal_fit import FittedMap

__all__ = ["ENGINES", "evaluate"]

Source = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | Any


def evaluate(
    source: Source,
    *,
    preds: str | None = None,
    logits: str | None = None,
    target: str,
    weight: str | None = None,
    by: str | None = None,
    positive_label: str | float | bool | None = None,
    threshold: float = 0.5,
    n_calibration_bins: int = 15,
    clip: float | None = None,
    delimiter: str | None = None,
    engine: str = "local",
    threads: int | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    strict: bool = False,
    negative_rate: float | None = None,
    recalibrate: str | None = None,
    fit_on: Source | None = None,
    progress: bool | ProgressFn = False,
) -> EvalResult:
    r"""Evaluate predictions of any size in constant memory: files or in-memory tables.

    ``source``: a Parquet/CSV file, a folder (read recursively; hive ``key=value`` folder
    names become columns) or a list of them; or a ``pyarrow.Table``, ``RecordBatch`` or
    ``RecordBatchReader`` (read once), a polars or pandas ``DataFrame``, or a dict of
    arrays (NumPy, lists, torch), with bit-identical numbers to a Parquet file of the
    same rows.  Name one prediction column, ``preds=`` (probabilities) or ``logits=``
    (raw scores), and the ``target=`` column.  The rows are accumulated in a fixed-size
    :class:`bcelab.metrics.BinaryStats`; the log loss, for example, is

    .. math:: \mathrm{LL} = \frac{\sum_i w_i\,\mathrm{BCE}(p_i, y_i)}{\sum_i w_i}.

    Targets must lie in [0, 1]: labels (``{-1, 1}``, ``0..255``, ``yes``/``no``) are an
    error naming the values found unless ``positive_label=`` names the positive class
    (that value counts as 1, every other as 0, a missing one as missing).  ``by=``: one
    row of metrics per value of that column.  NaN predictions and missing targets are
    counted (``strict=True`` raises); probabilities outside [0, 1] raise (``clip=eps``
    moves those in [0, 1] into [eps, 1 - eps], and counts them).  ``delimiter=``: the
    CSV separator (default: tab for ``.tsv``, else comma).

    ``engine="local"``: this machine, ``threads`` threads (default: every core, at most
    8).  ``engine="dask"``: a ``dask.distributed`` cluster at ``scheduler`` (an address
    or a ``Client``), or a new ``LocalCluster`` of ``workers`` processes (default 2).
    Both engines merge in one fixed tree and give identical numbers.  ``progress=True``
    draws a bar on stderr; a callable receives ``(rows_done, rows_total or None)``.
    Every option is checked before any data is read.  The first call on a machine
    compiles the metric kernels (once; a ``logging`` warning says so), which is not
    counted in ``rows_per_second``.

    ``negative_rate=W`` counts every negative 1/W times (data that kept each negative
    with probability W).  ``recalibrate=`` (``"platt"``, ``"temperature"``,
    ``"isotonic"``, ``"downsampling"``) fits that map on the rows, or on ``fit_on``, and
    reports the metrics after it (:mod:`.recal_fit`).  The result also holds log loss =
    uncertainty − discrimination + miscalibration, overall and per segment.
    """
    cols = _columns(target, preds, logits, weight, by, check_positive_label(positive_label))
    threshold, n_bins, eps = _metric_options(threshold, n_calibration_bins, clip, logits)
    sep = check_delimiter(delimiter, fname="evaluate")
    engine = _engine_options(engine, threads, workers, scheduler)
    kind = check_source_kind(source, engine, fname="evaluate")
    opts = check_recalibration_options(
        recalibrate, fit_on, negative_rate, kind=kind, fname="evaluate"
    )
    strict = check_bool(strict, name="strict", fname="evaluate", hint=STRICT_HINT)
    show, bar = _progress_fn(progress)
    plan = Plan(cols, strict=strict, clip=eps, negative_rate=opts.negative_rate)
    compile_metric_kernels()
    where = {"threads": threads, "workers": workers, "scheduler": scheduler, "progress": show}
    res, units, label, seconds, fitted = _passes(source, kind, plan, sep, opts, engine, where, bar)
    files = len({u.path for u in units}) if kind == "paths" else 0
    return _result(res.states, cols, source=label, files=files, engine=engine,
                   threshold=threshold, n_bins=n_bins, rows=res.rows, seconds=seconds,
                   fitted=fitted, negative_rate=opts.negative_rate)  # fmt: skip


def _passes(
    source: Any,
    kind: str,
    plan: Plan,
    delimiter: str | None,
    opts: RecalibrationOptions,
    engine: str,
    where: dict[str, Any],
    bar: RowProgressBar | None,
) -> tuple[UnitResult, list[Unit], tuple[str, ...], float, FittedMap | None]:
    """The evaluation pass (its result, units, label and seconds), then the recalibration
    (``where``: the engine's options and the progress callable)."""
    try:
        fit_on = None
        if opts.method is not None:  # start-up time: the fitting loads only when asked for
            from .recal_fit import fit_source

            fit_on = fit_source(opts, plan, delimiter)
        with open_runner(engine, passes=1 if opts.method is None else 2, **where) as runner:
            t0 = time.perf_counter()
            res, units, label = _run(source, kind, plan, delimiter, runner)
            seconds = time.perf_counter() - t0
            if opts.method is None:
                return res, units, label, seconds, None
            from .recal_fit import recalibrate as recalibrate_run

            total = BinaryStats.merge_all(res.states.values())
            fitted = recalibrate_run(
                opts, units=units, rows=res.rows, stats=total, plan=plan, runner=runner,
                fit_on=fit_on,
            )  # fmt: skip
            if opts.fit_on is source and kind == "table":  # the evaluated table itself
                fitted = dataclasses.replace(fitted, evaluated_in_fit=label)
            return res, units, label, seconds, fitted
    finally:
        if bar is not None:
            bar.close()  # end the bar's line, also when an error follows


def _run(
    source: Any, kind: str, plan: Plan, delimiter: str | None, runner: Runner
) -> tuple[UnitResult, list[Unit], tuple[str, ...]]:
    """Plan the units of ``source`` and run them; the result, the units and the label."""
    planned = plan_source(source, kind, plan.columns, delimiter, plan.batch_rows)
    return run_planned(planned, plan, runner), planned.units, planned.labels


def _columns(
    target: str,
    preds: str | None,
    logits: str | None,
    weight: str | None,
    by: str | None,
    positive_label: str | float | bool | None,
) -> Columns:
    if (preds is None) == (logits is None):
        raise OptionError(
            "evaluate: exactly one prediction column: preds= (probabilities) or logits= "
            "(raw scores)",
            f"received preds={preds!r}, logits={logits!r}",
            "bcelab never guesses whether values are logits; name the column with the "
            "matching keyword",
        )
    roles = {"preds": preds, "logits": logits, "target": target, "weight": weight, "by": by}
    for name, val in roles.items():
        if (val is not None or name == "target") and not (isinstance(val, str) and val):
            raise OptionError(
                f"evaluate: {name} must be a column name",
                f"received {name}={val!r}",
                f"pass {name}='column'",
            )
    col = preds if preds is not None else logits
    names = [c for c in (col, target, weight, by) if c is not None]
    if len(set(names)) != len(names):
        raise OptionError(
            "evaluate: distinct columns for the prediction, target, weight and by",
            f"received {names}",
            "name each role's own column",
        )
    return Columns(target, str(col), logits is not None, weight, by, positive_label)


def _metric_options(
    threshold: object, n_calibration_bins: object, clip: object, logits: object
) -> tuple[float, int, float | None]:
    check_threshold(threshold, fname="evaluate")  # an exact edge of the fine histogram, in (0, 1)
    t = float(threshold)  # type: ignore[arg-type]
    n_bins = check_calibration_bins(n_calibration_bins, fname="evaluate")
    return t, n_bins, check_clip_option(clip, logits, fname="evaluate")


def _engine_options(engine: object, threads: object, workers: object, scheduler: object) -> str:
    return check_engine_options(engine, threads, workers, scheduler, fname="evaluate")


def _progress_fn(progress: object) -> tuple[ProgressFn | None, RowProgressBar | None]:
    """The progress callable, and the bar to close when this call drew its own."""
    return progress_callable(progress, fname="evaluate")


def _result(
    states: dict[Any, Any],
    cols: Columns,
    *,
    source: tuple[str, ...],
    files: int,
    engine: str,
    threshold: float,
    n_bins: int,
    rows: int,
    seconds: float,
    fitted: FittedMap | None,
    negative_rate: float | None,
) -> EvalResult:
    keys = sorted(states, key=segment_order)
    total = BinaryStats.merge_all(states[k] for k in keys)

    def metrics(s: Any) -> Any:
        return s.compute(threshold=threshold, n_calibration_bins=n_bins)

    def segment_metrics(s: Any, key: Any) -> Any:
        """A segment without a usable row is reported (NaN metrics), not an error; one
        whose weights cannot be averaged in float64 is an error that names it."""
        if s.rows_used == 0 or s.total("w") == 0:
            return undefined_metrics(s, threshold=threshold, n_calibration_bins=n_bins)
        err = weight_total_error("evaluate", s.total("w"), s.rows_used, raised=True)
        if err is not None:
            raise DomainError(
                err.expected,
                f"in the segment {cols.by} = {key!r}, {err.received}",
                "rescale that segment's weights by a common factor (or leave its rows out): "
                "that changes none of its metrics, but it does change the totals",
            )
        return metrics(s)

    after = {} if fitted is None else fitted.result.states
    segments = (
        tuple(
            Segment(
                k,
                states[k],
                segment_metrics(states[k], k),
                _decomposition(states[k]),
                segment_metrics(after[k], k) if k in after else None,
            )
            for k in keys
        )
        if cols.by
        else ()
    )
    recalibration = None
    if fitted is not None:
        rec = BinaryStats.merge_all(after[k] for k in sorted(after, key=segment_order))
        recalibration = _recalibration(fitted, rec, metrics(rec))
    return EvalResult(
        stats=total,
        metrics=metrics(total),
        segments=segments,
        columns=cols,
        source=source,
        files=files,
        engine=engine,
        threshold=threshold,
        rows=rows,
        seconds=seconds,
        rows_per_second=rows / seconds if seconds > 0 else math.inf,
        decomposition=_decomposition(total),
        recalibration=recalibration,
        negative_rate=negative_rate,
    )


def _recalibration(fitted: FittedMap, rec: BinaryStats, rec_metrics: Any) -> Recalibration:
    """The fitted map, and the metric state and metrics of the recalibrated predictions."""
    return Recalibration(
        fitted.method,
        fitted.recalibration_map,
        rec,
        rec_metrics,
        fitted.fitted_on,
        fitted.fit_rows,
        fitted.fit_rows_used,
        fitted.passes,
        fitted.seconds,
        fitted.evaluated_in_fit,
    )


def _decomposition(stats: BinaryStats) -> CalibrationDecomposition | None:
    """The decomposition of a state, None when no row has a weight > 0."""
    try:
        return decompose_stats(stats)
    except EmptyReductionError:
        return None
