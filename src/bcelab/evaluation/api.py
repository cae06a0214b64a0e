"""``bcelab.evaluate``: metrics of a prediction file of any size, on one machine or on Dask."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import DataError, OptionError
from .engine import ProgressFn, check_rows, run_local
from .progress import ProgressBar
from .reader import Columns, plan_units
from .result import EvalResult, Segment
from .tasks import Plan, segment_order

__all__ = ["ENGINES", "evaluate"]

ENGINES = ("local", "dask")
Source = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def _columns(
    target: str, pred: str | None, logit: str | None, weight: str | None, by: str | None
) -> Columns:
    if (pred is None) == (logit is None):
        raise OptionError(
            "exactly one prediction column: pred= (probabilities) or logit= (raw scores)",
            f"received pred={pred!r}, logit={logit!r}",
            "bcelab never guesses whether values are logits; name the column with the "
            "matching option",
        )
    for name, val in (
        ("target", target),
        ("pred", pred),
        ("logit", logit),
        ("weight", weight),
        ("by", by),
    ):
        if val is not None and not (isinstance(val, str) and val):
            raise OptionError(
                f"{name} must be a column name", f"received {val!r}", f"pass {name}='column'"
            )
    col = pred if pred is not None else logit
    assert col is not None
    names = [target, col] + [c for c in (weight, by) if c is not None]
    if len(set(names)) != len(names):
        raise OptionError(
            "distinct columns for target, prediction, weight and by",
            f"received {names}",
            "name each role's own column",
        )
    return Columns(target, col, logit is not None, weight, by)


def _progress_fn(progress: bool | ProgressFn | None) -> ProgressFn | None:
    if progress is True:
        return ProgressBar()
    if progress is False or progress is None:
        return None
    if callable(progress):
        return progress
    raise OptionError(
        "progress must be True, False or a callable(rows_done, rows_total)",
        f"received {progress!r}",
        "pass progress=True",
    )


def evaluate(
    source: Source,
    /,
    *,
    target: str,
    pred: str | None = None,
    logit: str | None = None,
    weight: str | None = None,
    by: str | None = None,
    threshold: float = 0.5,
    n_calibration_bins: int = 15,
    clip: float | None = None,
    engine: str = "local",
    workers: int | None = None,
    scheduler: Any = None,
    strict: bool = False,
    progress: bool | Callable[[int, int | None], None] = False,
) -> EvalResult:
    r"""Evaluate the predictions in Parquet/CSV files in constant memory.

    ``source`` is a file, a folder (read recursively, hive ``key=value`` folder names
    become columns) or a list of them.  Name the target column and exactly one
    prediction column: ``pred=`` for probabilities or ``logit=`` for raw scores.
    Every row is accumulated in a fixed-size :class:`bcelab.metrics.BinaryStats`; the
    log loss, for example, is

    .. math:: \mathrm{LL} = \frac{\sum_i w_i\,\mathrm{BCE}(y_i, p_i)}{\sum_i w_i}.

    ``by=`` gives one row of metrics per distinct value of that column.  Rows with NaN
    predictions or targets outside [0, 1] are counted and reported (``strict=True``
    raises instead); probabilities outside [0, 1] raise unless ``clip=`` is given.

    ``engine="local"`` runs on this machine's cores (``workers`` processes);
    ``engine="dask"`` runs on a ``dask.distributed`` cluster: ``scheduler`` is an
    address such as ``"tcp://host:8786"`` or a ``Client``, and without one a
    ``LocalCluster`` of ``workers`` processes is started.  Both engines merge the
    states in the same fixed tree and give identical numbers.

    ``progress=True`` draws a progress bar on stderr; a callable receives
    ``(rows_done, rows_total or None)``.
    """
    cols = _columns(target, pred, logit, weight, by)
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool):
        raise OptionError(
            "threshold: a number in (0, 1)", f"received {threshold!r}", "pass e.g. 0.5"
        )
    from ..metrics.compute import check_threshold

    check_threshold(threshold)  # fail before reading the data, not after
    if clip is not None and not (isinstance(clip, (int, float)) and 0.0 < clip < 0.5):
        raise OptionError(
            "clip in (0, 0.5), or None for no clipping",
            f"received {clip!r}",
            "pass e.g. clip=1e-15, or leave it out",
        )
    if engine not in ENGINES:
        raise OptionError(
            f"engine in {ENGINES}",
            f"received {engine!r}",
            "use 'local' (this machine) or 'dask' (a dask.distributed cluster)",
        )
    if engine == "local" and scheduler is not None:
        raise OptionError(
            "a scheduler only with engine='dask'",
            f"received {scheduler!r}",
            "pass engine='dask' too",
        )
    show = _progress_fn(progress)
    plan = Plan(cols, strict=bool(strict), clip=None if clip is None else float(clip))
    sources = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    t0 = time.perf_counter()
    units = plan_units(sources, cols)
    try:
        if engine == "dask":
            from .dask_engine import run_dask

            res = run_dask(units, plan, scheduler=scheduler, workers=workers, progress=show)
        else:
            res = run_local(units, plan, workers=workers, progress=show)
            check_rows(units, res)
    finally:
        if isinstance(show, ProgressBar):
            show.close()  # end the bar's line, also when an error follows
    seconds = time.perf_counter() - t0
    if res.rows == 0:
        files = sorted({u.path for u in units})
        raise DataError(
            "at least one row of predictions",
            f"the files hold 0 rows: {files}",
            "check that the export wrote data (header-only or empty files)",
        )
    return _result(
        res.states, cols, sources, units, engine, threshold, n_calibration_bins, res.rows, seconds
    )


def _result(
    states: dict[Any, Any],
    cols: Columns,
    sources: list[Any],
    units: list[Any],
    engine: str,
    threshold: float,
    n_bins: int,
    rows: int,
    seconds: float,
) -> EvalResult:
    from ..metrics import BinaryStats

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
        source=tuple(str(s) for s in sources),
        files=len({u.path for u in units}),
        engine=engine,
        threshold=float(threshold),
        rows=rows,
        seconds=seconds,
        rows_per_second=rows / seconds if seconds > 0 else math.inf,
    )
