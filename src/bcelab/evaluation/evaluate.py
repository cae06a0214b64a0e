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
from ..errors import DataError, OptionError
from ..metrics import BinaryStats
from ..metrics.compute import check_threshold
from .dask_engine import run_dask
from .eval_result import EvalResult, Segment
from .local_engine import ProgressFn, check_rows, run_local
from .reader import Columns, plan_units
from .row_progress import RowProgressBar
from .run_options import ENGINES, check_engine_options, progress_callable
from .tasks import Plan, segment_order

__all__ = ["ENGINES", "evaluate"]

Source = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def evaluate(
    source: Source,
    *,
    preds: str | None = None,
    logits: str | None = None,
    target: str,
    weight: str | None = None,
    by: str | None = None,
    threshold: float = 0.5,
    n_calibration_bins: int = 15,
    clip: float | None = None,
    engine: str = "local",
    threads: int | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    strict: bool = False,
    progress: bool | ProgressFn = False,
) -> EvalResult:
    r"""Evaluate the predictions in Parquet/CSV files in constant memory.

    ``source`` is a file, a folder (read recursively, hive ``key=value`` folder names
    become columns) or a list of them.  Name exactly one prediction column, the
    prediction first: ``preds=`` for probabilities or ``logits=`` for raw scores; then
    the ``target=`` column.  Every row is accumulated in a fixed-size
    :class:`bcelab.metrics.BinaryStats`; the log loss, for example, is

    .. math:: \mathrm{LL} = \frac{\sum_i w_i\,\mathrm{BCE}(p_i, y_i)}{\sum_i w_i}.

    ``by=`` gives one row of metrics per distinct value of that column.  Rows with NaN
    predictions or targets outside [0, 1] are counted and reported (``strict=True``
    raises instead); probabilities outside [0, 1] raise unless ``clip=`` is given.

    ``engine="local"`` runs on this machine's cores, on ``threads`` threads (default:
    every core this process may use, at most 8).  ``engine="dask"`` runs on a
    ``dask.distributed`` cluster: ``scheduler`` is an address such as
    ``"tcp://host:8786"`` or a ``Client``; without one, a ``LocalCluster`` of ``workers``
    worker *processes* (Dask's word; default 2) is started.  ``threads`` is refused with
    ``engine="dask"`` and ``workers`` with ``engine="local"``.  Both engines merge the
    states in the same fixed tree and give identical numbers.

    ``progress=True`` draws a progress bar on stderr; a callable receives
    ``(rows_done, rows_total or None)``.  Every option is checked before any file is read.
    """
    cols = _columns(target=target, preds=preds, logits=logits, weight=weight, by=by)
    threshold, n_bins, eps = _metric_options(threshold, n_calibration_bins, clip)
    engine = _engine_options(engine, threads, workers, scheduler)
    show, bar = _progress_fn(progress)
    plan = Plan(cols, strict=bool(strict), clip=eps)
    sources = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    t0 = time.perf_counter()
    units = plan_units(sources, cols)
    try:
        if engine == "dask":
            res = run_dask(units, plan, scheduler=scheduler, workers=workers, progress=show)
        else:
            res = run_local(units, plan, threads=threads, progress=show)
            check_rows(units, res)
    finally:
        if bar is not None:
            bar.close()  # end the bar's line, also when an error follows
    seconds = time.perf_counter() - t0
    if res.rows == 0:
        files = sorted({u.path for u in units})
        raise DataError(
            "at least one row of predictions",
            f"the files hold 0 rows: {files}",
            "check that the export wrote data (header-only or empty files)",
        )
    return _result(
        res.states,
        cols,
        source=tuple(str(s) for s in sources),
        files=len({u.path for u in units}),
        engine=engine,
        threshold=threshold,
        n_bins=n_bins,
        rows=res.rows,
        seconds=seconds,
    )


def _columns(
    *, target: str, preds: str | None, logits: str | None, weight: str | None, by: str | None
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
    return Columns(target, str(col), logits is not None, weight, by)


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
