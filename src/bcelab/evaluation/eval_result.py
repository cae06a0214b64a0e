"""The result of :func:`bcelab.evaluate`: metrics overall and per segment, as dict/table/figure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ..errors import OptionError
from .columns import Columns
from .figures import overview
from .markup import notebook_view

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..metrics import BinaryMetrics, BinaryStats

__all__ = ["EvalResult", "Segment", "flatten"]


@dataclass(frozen=True)
class Segment:
    """One distinct value of the ``by`` column with its state and metrics."""

    value: Any
    stats: BinaryStats
    metrics: BinaryMetrics


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
            },
            "rows": self.rows,
            "threshold": self.threshold,
            "metrics": self.metrics.to_dict(),
        }
        if c.by is not None:
            out["segments"] = [
                {"value": s.value, "rows": s.stats.rows, "metrics": s.metrics.to_dict()}
                for s in self.segments
            ]
        out["run"] = {
            "engine": self.engine,
            "seconds": self.seconds,
            "rows_per_second": self.rows_per_second,
        }
        cleaned: dict[str, Any] = _clean(out)
        return cleaned

    def to_frame(self) -> pa.Table:
        """Scalar metrics as a ``pyarrow.Table``: one row per segment, or one row without ``by``.

        With ``by``, the first column is named after it and holds the segment values.
        Convert with ``.to_pandas()`` or ``polars.from_arrow(...)`` if you like.
        """
        if self.columns.by is None:
            rows = [flatten(self.metrics.to_dict())]
        else:
            rows = [
                {self.columns.by: s.value, **flatten(s.metrics.to_dict())} for s in self.segments
            ]
        names = list(dict.fromkeys(k for r in rows for k in r))
        return pa.table({n: [_clean(r.get(n)) for r in rows] for n in names})

    def plot(self, *, segment: Any = None) -> Figure:
        """A 2x2 overview: reliability diagram, ROC, precision-recall, score histograms."""
        if segment is None:
            return overview(self.stats, self.metrics, title=self._title(None))
        for s in self.segments:
            if s.value == segment:
                return overview(s.stats, s.metrics, title=self._title(s.value))
        values = [s.value for s in self.segments]
        raise OptionError(
            f"segment in {values[:20]}",
            f"received {segment!r}",
            "pick one of the values of the by column",
        )

    def _title(self, value: Any) -> str:
        name = ", ".join(self.source) if len(self.source) <= 2 else f"{len(self.source)} sources"
        seg = "" if value is None else f" [{self.columns.by} = {value}]"
        return f"{name}{seg}: {self.rows:,} rows" if value is None else f"{name}{seg}"

    def __str__(self) -> str:
        return str(self.metrics)

    def _repr_html_(self) -> str:
        """The notebook view: counts, metrics and segments as an HTML table (escaped,
        no external resources)."""
        return notebook_view(self.to_dict())
