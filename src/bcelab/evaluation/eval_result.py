"""The result of :func:`bcelab.evaluate`: metrics overall and per segment, as dict/table/figure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from .._core.display import count_of
from ..errors import OptionError
from .columns import Columns
from .segment_keys import json_value

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..metrics import BinaryMetrics, BinaryStats, CalibrationDecomposition, RecalibrationMap

__all__ = ["ALL_ROWS", "EvalResult", "Recalibration", "Segment", "flatten"]


class _AllRows:
    """The default of :meth:`EvalResult.plot`: every row (None names the null segment)."""

    def __repr__(self) -> str:
        return "ALL_ROWS"


ALL_ROWS: Any = _AllRows()


@dataclass(frozen=True)
class Segment:
    """One distinct value of the ``by`` column with its state and metrics.

    ``metrics``: for a segment without a usable row (every target missing, say) its row
    counts and NaN for every value; ``decomposition``: None when the segment has no row
    with a weight > 0; ``recalibrated``: the metrics after the recalibration map, when
    one was fitted.
    """

    value: Any
    stats: BinaryStats
    metrics: BinaryMetrics
    decomposition: CalibrationDecomposition | None = None
    recalibrated: BinaryMetrics | None = None

    def to_dict(self) -> dict[str, Any]:
        """``value``, ``rows``, ``metrics``, ``decomposition`` (and ``recalibrated``)."""
        d = self.decomposition
        out = {
            "value": json_value(self.value),
            "rows": self.stats.rows,
            "metrics": self.metrics.to_dict(),
            "decomposition": None if d is None else d.to_dict(),
        }
        if self.recalibrated is not None:
            out["recalibrated"] = {"metrics": self.recalibrated.to_dict()}
        return out


@dataclass(frozen=True)
class Recalibration:
    """A recalibration map fitted during an evaluation, and the metrics after it.

    ``fitted_on``: the calibration sources, or None for the evaluated rows;
    ``fit_rows``: the rows read to fit it, ``fit_rows_used`` those left after the NaN and
    invalid ones (the rows the fit saw); ``passes``: passes over those rows (one per
    Newton step for Platt and temperature scaling, 0 for a map from the evaluation's
    histogram); ``seconds``: the fit and the pass after it; ``evaluated_in_fit``: the
    evaluated files that ``fitted_on`` also holds, whose "after" metrics are in-sample.
    """

    method: str
    recalibration_map: RecalibrationMap
    stats: BinaryStats
    metrics: BinaryMetrics
    fitted_on: tuple[str, ...] | None
    fit_rows: int
    fit_rows_used: int
    passes: int
    seconds: float
    evaluated_in_fit: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """``method``, ``params``, ``fitted_on``, ``fit_rows``, ``fit_rows_used``, ``passes``,
        ``evaluated_in_fit``, ``metrics``."""
        return {
            "method": self.method,
            "params": self.recalibration_map.params,
            "fitted_on": None if self.fitted_on is None else list(self.fitted_on),
            "fit_rows": self.fit_rows,
            "fit_rows_used": self.fit_rows_used,
            "passes": self.passes,
            "evaluated_in_fit": list(self.evaluated_in_fit),
            "metrics": self.metrics.to_dict(),
        }

    def map_document(self, columns: Columns) -> dict[str, Any]:
        """The map file: ``to_dict()`` of the map (``bcelab.metrics.load_map`` reads it)
        and the prediction column it was fitted on (``{"pred": ...}`` or ``{"logit": ...}``)."""
        col = {"logit" if columns.logits else "pred": columns.pred}
        return {**self.recalibration_map.to_dict(), "columns": col}


def _clean(x: Any) -> Any:
    """JSON-safe: non-finite floats become None (JSON has no NaN/inf)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Scalar leaves of a nested dict with dotted names (lists are left out).

    >>> flatten({"a": 1, "b": {"c": 2.0, "d": [1, 2]}})
    {'a': 1, 'b.c': 2.0}
    """
    out: dict[str, Any] = {}
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, f"{name}."))
        elif isinstance(v, (int, float, str, bool)) or v is None:
            out[name] = v
    return out


def _flat(metrics: BinaryMetrics, d: CalibrationDecomposition | None) -> dict[str, Any]:
    """One row of :meth:`EvalResult.to_frame`: the metrics, then the decomposition."""
    return flatten({**metrics.to_dict(), **({} if d is None else {"decomposition": d.to_dict()})})


@dataclass(frozen=True)
class EvalResult:
    """Metrics of one evaluation: ``metrics`` over all rows, ``segments`` per ``by`` value."""

    stats: BinaryStats
    metrics: BinaryMetrics
    segments: tuple[Segment, ...]
    columns: Columns
    source: tuple[str, ...]
    files: int
    engine: str
    threshold: float
    rows: int
    seconds: float
    rows_per_second: float
    decomposition: CalibrationDecomposition | None = None
    recalibration: Recalibration | None = None
    negative_rate: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (non-finite numbers become ``null``)."""
        c = self.columns
        out: dict[str, Any] = {
            "source": list(self.source),
            "files": self.files,
            "columns": {
                "target": c.target,
                "logit" if c.logits else "pred": c.pred,
                "weight": c.weight,
                "by": c.by,
                "positive_label": c.positive_label,
            },
            "rows": self.rows,
            "threshold": self.threshold,
        }
        if self.negative_rate is not None:
            out["negative_rate"] = self.negative_rate
        out["metrics"] = self.metrics.to_dict()
        d = self.decomposition
        out["decomposition"] = None if d is None else d.to_dict()
        if self.recalibration is not None:
            out["recalibrated"] = self.recalibration.to_dict()
        if c.by is not None:
            out["segments"] = [s.to_dict() for s in self.segments]
        out["run"] = {
            "engine": self.engine,
            "seconds": self.seconds,
            "rows_per_second": self.rows_per_second,
        }
        cleaned: dict[str, Any] = _clean(out)
        return cleaned

    def to_frame(self) -> pa.Table:
        """Scalar metrics as a ``pyarrow.Table``: one row per segment, or one row without ``by``.

        The decomposition terms follow the metrics (``decomposition.log_loss.uncertainty``, ...).

        With ``by``, the first column is named after it and holds the segment values.
        Convert with ``.to_pandas()`` or ``polars.from_arrow(...)`` if you like.
        """
        if self.columns.by is None:
            rows = [_flat(self.metrics, self.decomposition)]
        else:
            rows = [
                {self.columns.by: s.value, **_flat(s.metrics, s.decomposition)}
                for s in self.segments
            ]
        names = list(dict.fromkeys(k for r in rows for k in r))
        return pa.table({n: [_clean(r.get(n)) for r in rows] for n in names})

    def plot(self, *, segment: Any = ALL_ROWS) -> Figure:
        """A 2x2 overview: reliability diagram, ROC, precision-recall, score histograms, of
        every row, or of the rows of one ``segment`` (a value of the ``by`` column; None
        is the segment of null values, as in :attr:`segments`)."""
        from .figures import overview  # start-up time: only a figure needs it

        if segment is ALL_ROWS:
            return overview(self.stats, self.metrics, title=self._title(None))
        for s in self.segments:
            if s.value == segment and (s.value is None) == (segment is None):
                return overview(s.stats, s.metrics, title=self._title(s.value, segment=True))
        values = [s.value for s in self.segments]
        raise OptionError(
            f"segment in {values[:20]}",
            f"received {segment!r}",
            "pick one of the values of the by column",
        )

    def _title(self, value: Any, *, segment: bool = False) -> str:
        name = ", ".join(self.source) if len(self.source) <= 2 else f"{len(self.source)} sources"
        if not segment:
            return f"{name}: {count_of(self.rows, 'row', grouped=True)}"
        nan = isinstance(value, float) and math.isnan(value)
        shown = "null" if value is None else "NaN" if nan else value
        return f"{name} [{self.columns.by} = {shown}]"

    def __str__(self) -> str:
        """The report ``bcelab eval`` prints: the source line, every metric, the
        decomposition, one line per segment and the recalibration, when there are any."""
        from .text import render

        return render(self)

    def _repr_html_(self) -> str:
        """The notebook view: counts, metrics and segments as an HTML table (escaped,
        no external resources)."""
        from .markup import notebook_view  # start-up time: only a notebook needs it

        return notebook_view(self.to_dict())
