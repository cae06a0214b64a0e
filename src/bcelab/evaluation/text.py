"""Plain-text rendering of an :class:`~bcelab.evaluation.result.EvalResult` (for the CLI)."""

from __future__ import annotations

from typing import Any

from .progress import format_rate
from .result import EvalResult

__all__ = ["render"]

SEGMENT_COLUMNS = ("log_loss", "ne", "calibration", "ece_equal_mass", "roc_auc", "pr_auc")


def _g(v: Any) -> str:
    return "n/a" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v)


def render(res: EvalResult) -> str:
    """The metrics block, then one line per segment when ``by`` was given."""
    c = res.columns
    pred = f"logit {c.pred!r}" if c.logits else f"pred {c.pred!r}"
    head = (
        f"{', '.join(res.source)}: {res.files} file(s), target {c.target!r}, {pred}"
        + (f", weight {c.weight!r}" if c.weight else "")
        + f"; {res.seconds:.2f} s, {format_rate(res.rows_per_second)} rows/s ({res.engine})"
    )
    lines = [head, "", str(res.metrics)]
    if res.segments:
        by = str(c.by)
        width = max(len(by), *(len(str(s.value)) for s in res.segments))
        cols = ("rows", *SEGMENT_COLUMNS)
        lines += ["", f"{by:<{width}}  " + "  ".join(f"{h:>12}" for h in cols)]
        for s in res.segments:
            d = s.metrics.to_dict()
            vals = [str(s.stats.rows)] + [_g(d.get(k)) for k in SEGMENT_COLUMNS]
            lines.append(f"{s.value!s:<{width}}  " + "  ".join(f"{v:>12}" for v in vals))
    return "\n".join(lines)
