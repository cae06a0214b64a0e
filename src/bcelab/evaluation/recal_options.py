"""The recalibration options of :func:`bcelab.evaluate`, checked at the door, before any
data is read.  The fitting itself is :mod:`.recal_fit`, which loads only when a map is
asked for (start-up time)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from .._core.options import check_negative_weight, check_recalibration
from ..errors import DataError, OptionError
from .discovery import discover
from .tables import source_kind

__all__ = ["RecalibrationOptions", "check_recalibration_options"]


@dataclass(frozen=True)
class RecalibrationOptions:
    """The checked ``recalibrate``, ``fit_on`` (and its kind) and ``negative_rate``."""

    method: str | None = None
    fit_on: Any = None
    fit_kind: str | None = None
    negative_rate: float | None = None


def check_recalibration_options(
    recalibrate: object, fit_on: object, negative_rate: object, *, kind: str, fname: str
) -> RecalibrationOptions:
    """Every recalibration option and combination, before any data is read.

    ``kind``: the evaluated source's kind (``'paths'``, ``'table'`` or ``'stream'``).
    A ``fit_on`` path must exist.
    """
    rate = None if negative_rate is None else check_negative_weight(negative_rate, fname=fname)
    if recalibrate is None:
        if fit_on is not None:
            raise OptionError(
                f"{fname}: fit_on= only with recalibrate= (the rows the map is fitted on)",
                "received fit_on without recalibrate",
                "pass recalibrate='platt', 'temperature' or 'isotonic' too, or drop fit_on",
            )
        return RecalibrationOptions(negative_rate=rate)
    method = check_recalibration(recalibrate, fname=fname, name="recalibrate")
    if method == "downsampling" and rate is None:
        raise OptionError(
            f"{fname}: recalibrate='downsampling' with negative_rate= (the share of "
            "negatives that was kept)",
            "received no negative_rate",
            "pass e.g. negative_rate=0.1 for data that kept one negative in ten",
        )
    if method == "downsampling" and fit_on is not None:
        raise OptionError(
            f"{fname}: no fit_on= with recalibrate='downsampling' (the map "
            "q = p / (p + (1 - p) / negative_rate) is not fitted)",
            "received fit_on",
            "drop fit_on, or use recalibrate='platt' to fit a map on it",
        )
    if kind == "stream":
        raise OptionError(
            f"{fname}: recalibrate= needs a source that can be read more than once",
            "received a RecordBatchReader (it is read once)",
            "pass a pyarrow Table, a DataFrame or files",
        )
    if fit_on is None:
        return RecalibrationOptions(method, negative_rate=rate)
    try:
        fit_kind = source_kind(fit_on)
    except OptionError as e:
        raise OptionError(
            f"{fname}: fit_on must be a path, a list of paths, a pyarrow Table, a polars or "
            "pandas DataFrame, or a dict of arrays",
            e.received,
            "pass the calibration file or folder",
        ) from None
    if fit_kind == "stream":
        raise OptionError(
            f"{fname}: fit_on must be a source that can be read more than once",
            "received a RecordBatchReader (it is read once)",
            "pass a pyarrow Table, a DataFrame or files",
        )
    if fit_kind == "paths":
        try:
            discover([fit_on] if isinstance(fit_on, (str, os.PathLike)) else list(fit_on))  # type: ignore[call-overload]
        except DataError as e:
            raise DataError(f"{fname}: fit_on must name {e.expected}", e.received, e.fix) from None
    return RecalibrationOptions(method, fit_on, fit_kind, rate)
