"""Plain-text rendering of an :class:`~bcelab.evaluation.eval_result.EvalResult`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._core.display import count_of
from .._core.tables import format_value
from ..metrics.result import NEEDS, infinite_text
from .compare_labels import LABELS

if TYPE_CHECKING:
    from .eval_result import EvalResult

__all__ = [
    "NULL_SEGMENT",
    "format_rate",
    "in_sample_note",
    "label_note",
    "order_note",
    "recalibration_lines",
    "render",
    "segment_label",
    "undefined_legend",
]

SEGMENT_COLUMNS = ("log_loss", "ne", "calibration", "ece_equal_mass", "roc_auc", "pr_auc")
#: the metrics shown before and after a recalibration (field, label)
RECALIBRATED = (
    ("log_loss", "log loss"),
    ("ne", "NE"),
    ("calibration", "calibration"),
    ("brier", "Brier"),
    ("ece_equal_mass", "ECE (equal-mass)"),
    ("roc_auc", "ROC-AUC"),
)


def undefined_legend(rows: Iterable[Mapping[str, Any]], names: Sequence[str]) -> str | None:
    """What an ``n/a`` in a table of metrics ``names`` means (one mapping of values per
    row, None where undefined): each metric that is undefined in some row and what it
    needs; None when no such cell."""
    gaps = {
        n
        for r in rows
        for n in names
        if n in NEEDS and r.get(n) is None and infinite_text(r, n) is None
    }
    if not gaps:
        return None
    needs = "; ".join(f"{LABELS.get(n, n)} needs {NEEDS[n]}" for n in names if n in gaps)
    return f"n/a: undefined for those rows: {needs}"


#: how the text, the HTML and the figures show the segment of rows whose --by value is null
NULL_SEGMENT = "(null)"


def segment_label(value: Any) -> str:
    """A segment's value as printed: :data:`NULL_SEGMENT` for null (so a null and a text
    value ``"None"`` never look alike; the JSON keeps ``null``), ``NaN`` for the segment
    of NaN values, and ``0.0`` for the one segment of the rows whose value is 0.0 or
    -0.0."""
    if value is None:
        return NULL_SEGMENT
    if isinstance(value, float) and math.isnan(value):
        return "NaN"  # the JSON's text for it too
    return str(value + 0.0) if isinstance(value, float) else str(value)


def format_rate(x: float) -> str:
    """``12_345_678`` -> ``'12.3M'``.

    >>> format_rate(12_345_678), format_rate(950), format_rate(2.5e9)
    ('12.3M', '950', '2.5G')
    """
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= div:
            v = x / div
            return f"{v:.3g}{unit}" if v < 100 else f"{v:.0f}{unit}"
    return f"{x:.0f}"


def _g(v: Any) -> str:
    return "n/a" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v)


def _cell(metrics: Any, key: str) -> str:
    """A metric of a :class:`~bcelab.metrics.BinaryMetrics` for a table: an infinite log
    loss reads inf (its JSON form, null, would read n/a), an undefined metric n/a."""
    v = getattr(metrics, key, None)
    return "n/a" if isinstance(v, float) and math.isnan(v) else _g(v)


def label_note(positive_label: object, no_positives: bool) -> str | None:
    """A note when a positive label was given and no used target equals it: every target
    then counts as 0, which is more often a mistyped label than data without positives."""
    if positive_label is None or not no_positives:
        return None
    return (
        f"The positive label {format_value(positive_label)} matched no used target, so every "
        "target counts as 0. The label must equal a value of the target column exactly "
        "(text as written, case included)."
    )


def render(res: EvalResult) -> str:
    """The metrics block, then one line per segment when ``by`` was given."""
    c = res.columns
    pred = f"logit {c.pred!r}" if c.logits else f"pred {c.pred!r}"
    where = count_of(res.files, "file") if res.files else "in memory"
    head = (
        f"{', '.join(res.source)}: {where}, target {c.target!r}, {pred}"
        + (f", weight {c.weight!r}" if c.weight else "")
        + (f", negatives x 1/{res.negative_rate:g}" if res.negative_rate is not None else "")
        + f"; {res.seconds:.2f} s, {format_rate(res.rows_per_second)} rows/s ({res.engine})"
    )
    lines = [head, "", str(res.metrics)]
    if res.decomposition is not None:
        lines.append(f"{'decomposition':<18}{res.decomposition.summary_line()}")
    note = label_note(c.positive_label, res.metrics.base_rate == 0.0)
    lines += [note] if note else []
    if res.segments:
        by = str(c.by)
        width = max(len(by), *(len(segment_label(s.value)) for s in res.segments))
        cols = ("rows", *SEGMENT_COLUMNS)
        lines += ["", f"{by:<{width}}  " + "  ".join(f"{h:>12}" for h in cols)]
        for s in res.segments:
            vals = [str(s.stats.rows)] + [_cell(s.metrics, k) for k in SEGMENT_COLUMNS]
            lines.append(
                f"{segment_label(s.value):<{width}}  " + "  ".join(f"{v:>12}" for v in vals)
            )
        legend = undefined_legend((s.metrics.to_dict() for s in res.segments), SEGMENT_COLUMNS)
        lines += [legend] if legend else []
    if res.recalibration is not None:
        lines += ["", *recalibration_lines(res)]
    return "\n".join(lines)


def _params(params: dict[str, Any]) -> str:
    """``a=0.4997, b=-0.0004``; an isotonic map by its number of steps."""
    if "values" in params:
        return f"{len(params['values'])} steps"
    return ", ".join(f"{k}={v:.6g}" for k, v in params.items())


def order_note(
    method: str, params: dict[str, Any], before: dict[str, Any], after: dict[str, Any]
) -> str | None:
    """Why ROC-AUC moved under a map that keeps the predictions' order (Platt with
    ``a > 0``, temperature, downsampling), or None: such a map leaves the true ROC-AUC as it
    was, and the change shown is the histograms' binning."""
    keeps = method in ("temperature", "downsampling") or (
        method == "platt" and float(params.get("a", 0.0)) > 0.0
    )
    a, b = before.get("roc_auc"), after.get("roc_auc")
    if not keeps or not isinstance(a, float) or not isinstance(b, float) or _g(a) == _g(b):
        return None  # nothing moved as shown
    bound = max(before.get("roc_auc_bound") or 0.0, after.get("roc_auc_bound") or 0.0)
    return (
        f"ROC-AUC: a {method} map keeps the predictions' order, so the true ROC-AUC does not "
        f"change; the {abs(b - a):.2g} between the two is the histograms' binning (error "
        f"≤ {bound:.2g} each)."
    )


def in_sample_note(files: list[str] | tuple[str, ...]) -> str | None:
    """Why the "after" column flatters a map whose calibration set holds evaluated files
    (or is the evaluated table), or None when it holds none of them."""
    if not files:
        return None
    return (
        f"in-sample: the calibration set holds the rows of the evaluated {', '.join(files)}, "
        "so the map is scored "
        "on rows it was fitted on and the after column flatters it (an isotonic map most); "
        "fit it on files that are not evaluated to judge it."
    )


def recalibration_lines(res: EvalResult) -> list[str]:
    """What was fitted on which rows, and the metrics before and after the map."""
    rec = res.recalibration
    if rec is None:
        return []
    where = "the evaluated rows" if rec.fitted_on is None else ", ".join(rec.fitted_on)
    how = f", {rec.passes} passes" if rec.method in ("platt", "temperature") else ""
    if rec.fit_rows_used < rec.fit_rows:  # the NaN and invalid rows the fit left out
        how = f", {rec.fit_rows_used:,} used{how}"
    fitted = (
        ""
        if rec.method == "downsampling"
        else f"; fitted on {where} ({count_of(rec.fit_rows, 'row')}{how})"
    )
    lines = [
        f"{'recalibrated':<18}{rec.method} ({_params(rec.recalibration_map.params)}){fitted}",
        f"{'':<18}{'before':>12}  {'after':>12}",
    ]
    before, after = res.metrics.to_dict(), rec.metrics.to_dict()
    for key, label in RECALIBRATED:
        cells = _cell(res.metrics, key), _cell(rec.metrics, key)
        lines.append(f"  {label:<16}{cells[0]:>12}  {cells[1]:>12}")
    notes = (
        order_note(rec.method, rec.recalibration_map.params, before, after),
        in_sample_note(rec.evaluated_in_fit),
    )
    return [*lines, *(n for n in notes if n)]
