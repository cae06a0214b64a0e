"""Recalibration inside :func:`bcelab.evaluate`: the map fitted by passes over the data,
and one more pass for the metrics after it (the options were checked at the door by
:mod:`.recal_options`; this module loads only when a map is asked for).

The map is fitted on the evaluated rows, or on a separate calibration set (``fit_on``,
with the same columns; its ``by`` column, if any, is not needed).  The fit sees the rows
as the evaluation does: the same weights, the same negative weighting
(``negative_rate``) and the same clipping.

* ``"platt"`` and ``"temperature"``: Newton's method, one streaming pass per step
  (:class:`~bcelab.evaluation.recal_pass.ScalingAccumulator` on the evaluation's
  engine), typically 4-10 passes; see :mod:`bcelab.metrics.scaling_fit`.
* ``"isotonic"``: the PAV fit on the fine histogram of the fit rows' ``BinaryStats``
  (no extra pass on the evaluated rows; one pass over ``fit_on``).
* ``"downsampling"``: not fitted; ``q = p / (p + (1 - p) / negative_rate)``.

Then one pass evaluates ``map.apply(p)`` into fresh ``BinaryStats``, per segment too
(:class:`~bcelab.evaluation.recal_pass.MappedAccumulator`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import cast

from .._core.display import count_of
from ..errors import DataError, DTypeError
from ..metrics import BinaryStats, DownsamplingMap, RecalibrationMap, fit_isotonic
from ..metrics.scaling import ScalingStats
from ..metrics.scaling_fit import fit_scaling
from .discovery import file_key
from .reader import Unit
from .recal_options import RecalibrationOptions
from .recal_pass import MappedAccumulator, ScalingAccumulator
from .runner import Runner, source_units
from .tasks import Plan, UnitResult

__all__ = [
    "FittedMap",
    "fit_columns",
    "fit_source",
    "recalibrate",
    "shared_files",
]


@dataclass(frozen=True)
class FittedMap:
    """A fitted map, what it was fitted on, and the metric states after it."""

    method: str
    recalibration_map: RecalibrationMap
    fitted_on: tuple[str, ...] | None  # None: the evaluated rows
    fit_rows: int
    fit_rows_used: int  # the fit rows left after the NaN and invalid ones
    passes: int  # passes over the fit rows (0 when the map came from a histogram)
    result: UnitResult  # the recalibrated states, one per segment
    seconds: float
    evaluated_in_fit: tuple[str, ...] = ()  # evaluated files that fit_on also holds


def _files(units: list[Unit]) -> dict[tuple[int, int], str]:
    """The files of ``units`` by device and inode (in-memory sources have none)."""
    out: dict[tuple[int, int], str] = {}
    for u in units:
        if u.kind in ("parquet", "csv"):
            try:
                out.setdefault(file_key(u.path), u.path)
            except OSError:  # gone since it was read: nothing to compare
                continue
    return out


def shared_files(evaluated: list[Unit], fit: list[Unit]) -> tuple[str, ...]:
    """The evaluated files that the calibration set also holds (the same file, however
    it was named): their rows are scored by a map fitted on them."""
    fit_files = _files(fit)
    return tuple(path for key, path in _files(evaluated).items() if key in fit_files)


def _scaling(
    method: str, units: list[Unit], plan: Plan, runner: Runner
) -> tuple[RecalibrationMap, int]:
    """Platt or temperature scaling, one pass of ``runner`` per Newton step."""
    passes = 0

    def run_pass(state: ScalingStats) -> ScalingStats:
        nonlocal passes
        passes += 1
        step = dataclasses.replace(plan, accumulator=ScalingAccumulator(state.a, state.b))
        merged: ScalingStats = runner.run(units, step).states.get(None, state)
        return merged

    return fit_scaling(run_pass, method=method), passes


def fit_columns(plan: Plan) -> Plan:
    """The plan of the fit passes: the evaluation's, without the segments."""
    return dataclasses.replace(plan, columns=dataclasses.replace(plan.columns, by=None))


def fit_source(
    opts: RecalibrationOptions, plan: Plan, delimiter: str | None
) -> tuple[list[Unit], tuple[str, ...]] | None:
    """The units and the name of ``fit_on`` (None without it), planned before the
    evaluation pass so that a calibration file without the columns fails first."""
    if opts.method is None or opts.fit_on is None:
        return None
    kind = str(opts.fit_kind)
    try:
        return source_units(opts.fit_on, kind, fit_columns(plan).columns, delimiter)
    except (DataError, DTypeError) as e:
        if kind != "table":  # a file is named by its path already
            raise
        # the evaluated rows may be a table of the same kind: say which one is meant
        raise type(e)(f"fit_on: {e.expected}", e.received, e.fix, row=e.row) from None


def recalibrate(
    opts: RecalibrationOptions,
    *,
    units: list[Unit],
    rows: int,
    stats: BinaryStats,
    plan: Plan,
    runner: Runner,
    fit_on: tuple[list[Unit], tuple[str, ...]] | None,
) -> FittedMap:
    """Fit the map of ``opts`` and evaluate the recalibrated predictions of ``units``.

    ``rows`` and ``stats``: the evaluation's rows read and merged state (the isotonic
    map's histogram when there is no ``fit_on``); ``fit_on``: :func:`fit_source`.
    """
    method = str(opts.method)
    t0 = time.perf_counter()
    fit_plan = fit_columns(plan)
    fit_units, fitted_on, passes = units, None, 0
    if fit_on is not None:
        fit_units, fitted_on = fit_on
        fit = runner.run(fit_units, fit_plan)
        if fit.rows == 0:
            raise DataError(
                "evaluate: fit_on with at least one row to fit the map on",
                f"{', '.join(fitted_on)} hold 0 rows",
                "check the calibration files",
            )
        rows, stats, passes = fit.rows, BinaryStats.merge_all(fit.states.values()), 1
    fitted: RecalibrationMap
    if method == "isotonic":
        if not stats.total("w") > 0:  # every row NaN, invalid or of weight 0
            where = count_of(rows, "row")
            if fitted_on:
                where = f"the {where} of {', '.join(fitted_on)}"
            raise DataError(
                f"evaluate: {'fit_on with ' if fitted_on else ''}at least one usable row (a "
                "prediction, a valid target and a weight > 0) to fit the isotonic map on",
                f"none of {where} is usable ({count_of(stats.count('nan_pred'), 'NaN or null prediction')}, "
                f"{count_of(stats.count('invalid_target'), 'missing or invalid target')}, total weight "
                f"{stats.total('w')!r})",
                "check the prediction, target and weight columns of those rows",
            )
        fitted = fit_isotonic(stats)
    elif method == "downsampling":
        fitted = DownsamplingMap(cast(float, opts.negative_rate))  # checked at the door
    else:
        fitted, steps = _scaling(method, fit_units, fit_plan, runner)
        passes += steps
    after = runner.run(units, dataclasses.replace(plan, accumulator=MappedAccumulator(fitted)))
    seconds = time.perf_counter() - t0
    shared = shared_files(units, fit_units) if fit_on is not None else ()
    used = rows if method == "downsampling" else stats.rows_used  # downsampling fits nothing
    return FittedMap(method, fitted, fitted_on, rows, used, passes, after, seconds, shared)
