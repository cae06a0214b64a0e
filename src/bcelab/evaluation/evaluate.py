"""``bcelab.evaluate``: metrics of prediction files of any size, on one machine or on Dask.

Every option is checked here, at the door, before any file is opened; the engines
(:mod:`.local_engine`, :mod:`.dask_engine`) receive checked values only.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from typing import Any

from .._core.options import (
    check_clip,
    check_positive_int,
    check_unit_interval,
)
from ..errors import OptionError
from ..metrics import BinaryStats
from ..metrics.compute import check_threshold
from .columns import Columns, check_positive_label
from .eval_result import EvalResult, Segment
from .local_engine import ProgressFn
from .row_progress import RowProgressBar
from .run_options import ENGINES, check_engine_options, progress_callable
from .sources import check_delimiter, check_source_kind, plan_source, run_planned
from .tasks import Plan, segment_order
from .warmup import compile_metric_kernels

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
    counted (``strict=True`` raises); probabilities outside [0, 1] raise unless
    ``clip=``.  ``delimiter=``: the CSV separator (default: tab for ``.tsv``, else comma).

    ``engine="local"``: this machine, ``threads`` threads (default: every core, at most
    8).  ``engine="dask"``: a ``dask.distributed`` cluster at ``scheduler`` (an address
    or a ``Client``), or a new ``LocalCluster`` of ``workers`` processes (default 2).
    Both engines merge in one fixed tree and give identical numbers.  ``progress=True``
    draws a bar on stderr; a callable receives ``(rows_done, rows_total or None)``.
    Every option is checked before any data is read.  The first call on a machine
    compiles the metric kernels (once; a ``logging`` warning says so), which is not
    counted in ``rows_per_second``.
    """
    cols = _columns(target, preds, logits, weight, by, check_positive_label(positive_label))
    threshold, n_bins, eps = _metric_options(threshold, n_calibration_bins, clip)
    sep = check_delimiter(delimiter, fname="evaluate")
    engine = _engine_options(engine, threads, workers, scheduler)
    kind = check_source_kind(source, engine, fname="evaluate")
    show, bar = _progress_fn(progress)
    plan = Plan(cols, strict=bool(strict), clip=eps)
    compile_metric_kernels()
    t0 = time.perf_counter()
    try:
        planned = plan_source(source, kind, cols, sep, plan.batch_rows)
        res = run_planned(planned, plan, engine, threads, workers, scheduler, show)
    finally:
        if bar is not None:
            bar.close()  # end the bar's line, also when an error follows
    seconds = time.perf_counter() - t0
    return _result(
        res.states,
        cols,
        source=planned.labels,
        files=len({u.path for u in planned.units}) if kind == "paths" else 0,
        engine=engine,
        threshold=threshold,
        n_bins=n_bins,
        rows=res.rows,
        seconds=seconds,
    )


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
        if val is not None and not (isinstance(val, str) and val):
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
    threshold: object, n_calibration_bins: object, clip: object
) -> tuple[float, int, float | None]:
    t = check_unit_interval(threshold, name="threshold", fname="evaluate")
    check_threshold(t)  # an exact edge of the fine histogram
    n_bins = check_positive_int(
        n_calibration_bins, name="n_calibration_bins", fname="evaluate", example=15
    )
    return t, n_bins, check_clip(clip, fname="evaluate")


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
) -> EvalResult:
    keys = sorted(states, key=segment_order)
    total = BinaryStats.merge_all(states[k] for k in keys)

    def metrics(s: Any) -> Any:
        return s.compute(threshold=threshold, n_calibration_bins=n_bins)

    segments = tuple(Segment(k, states[k], metrics(states[k])) for k in keys) if cols.by else ()
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
    )
