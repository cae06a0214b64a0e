"""HTML pieces shared by the report page and the notebook view of an evaluation.

Every value is escaped; nothing refers to an external resource.  The functions take the
plain dict of :meth:`~bcelab.evaluation.eval_result.EvalResult.to_dict`.
"""

from __future__ import annotations

import html
from typing import Any

from .._core.display import count_of
from ..metrics.result import infinite_text, undefined_reason
from .text import (
    RECALIBRATED,
    in_sample_note,
    label_note,
    order_note,
    segment_label,
    undefined_legend,
)

__all__ = [
    "CSS",
    "NOTEBOOK_CSS",
    "ROWS",
    "SEGMENT_COLUMNS",
    "bound_text",
    "counts",
    "decomposition_table",
    "metrics_table",
    "notebook_view",
    "num",
    "recalibration_table",
    "segments_table",
]

# (field, label, how to read it)
ROWS: tuple[tuple[str, str, str], ...] = (
    ("log_loss", "log loss", "mean BCE; lower is better"),
    ("floor", "floor H(y)", "the entropy of the targets: the best possible log loss"),
    ("excess", "excess KL", "log loss minus floor: the part a better model can remove"),
    ("base_rate", "base rate", "weighted mean target"),
    ("ne", "NE", "normalized entropy = log loss / H(base rate); < 1 beats the base rate"),
    ("rig", "RIG", "relative information gain = 1 - NE"),
    ("calibration", "calibration", "sum of predictions / sum of targets; 1 is calibrated"),
    ("brier", "Brier score", "mean squared error of the probabilities"),
    ("ece_uniform", "ECE (uniform bins)", "expected calibration error"),
    ("mce_uniform", "MCE (uniform bins)", "largest bin calibration error"),
    ("ece_equal_mass", "ECE (equal-mass bins)", "expected calibration error"),
    ("mce_equal_mass", "MCE (equal-mass bins)", "largest bin calibration error"),
    ("roc_auc", "ROC-AUC", "probability that a positive outranks a negative"),
    ("pr_auc", "PR-AUC", "area under the precision-recall curve"),
    ("accuracy", "accuracy", "at the threshold (p >= t is positive)"),
    ("precision", "precision", "at the threshold"),
    ("recall", "recall", "at the threshold"),
    ("f1", "F1", "at the threshold"),
)
SEGMENT_COLUMNS = {
    "log_loss": "log loss",
    "ne": "NE",
    "calibration": "calibration",
    "ece_equal_mass": "ECE (equal-mass)",
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
}
BOUND_NOTE = (
    "binning error: the largest difference to an exact in-memory computation that the "
    "fixed-size histogram allows (not a confidence interval)"
)

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#1c2833;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;
border-bottom:1px solid #d5d8dc;padding-bottom:.2rem}.sub{color:#566573;margin-top:0}
table{border-collapse:collapse;margin:.5rem 0;font-size:.92rem;display:block;
overflow-x:auto;max-width:100%}
td,th{padding:.25rem .7rem;border-bottom:1px solid #eaecee;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums;font-family:ui-monospace,monospace}
th{background:#f4f6f7}.note{color:#566573;font-size:.85rem}
.warn{background:#fef5e7;border-left:4px solid #f39c12;padding:.5rem .8rem;margin:1rem 0}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:1.2rem}
figure{margin:0;background:#fff;border:1px solid #eaecee;border-radius:6px;padding:.6rem}
figure img{width:100%;height:auto}figcaption{font-size:.85rem;color:#566573}
"""

# The notebook view: the same look, scoped to its own block.
NOTEBOOK_CSS = """
.bcelab-eval{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1c2833}
.bcelab-eval table{border-collapse:collapse;margin:.4rem 0;font-size:.9rem;display:block;
overflow-x:auto;max-width:100%}
.bcelab-eval td,.bcelab-eval th{padding:.2rem .6rem;border-bottom:1px solid #eaecee;
text-align:left}
.bcelab-eval td.num{text-align:right;font-variant-numeric:tabular-nums;
font-family:ui-monospace,monospace}
.bcelab-eval th{background:#f4f6f7}.bcelab-eval .note{color:#566573;font-size:.82rem}
.bcelab-eval .warn{background:#fef5e7;border-left:4px solid #f39c12;padding:.4rem .7rem}
"""


def num(v: Any) -> str:
    """A value for an HTML cell: ``n/a`` for missing, ``1,234`` for counts, 6 digits."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.6g}"
    return html.escape(str(v))


def bound_text(bound: Any) -> str:
    """``'binning error ≤ 1.7e-04'``, or ``''`` for an exact value."""
    if isinstance(bound, float) and bound > 0:
        return f"binning error ≤ {bound:.1e}"
    return ""


def cell(m: dict[str, Any], key: str) -> str:
    """The metric ``key`` of ``m`` (a metrics dict) for an HTML cell: an infinite log loss
    and its NE, excess and RIG read inf (their JSON null would read n/a)."""
    return infinite_text(m, key) or num(m.get(key))


def metrics_table(m: dict[str, Any]) -> str:
    rows = []
    for key, label, note in ROWS:
        bound = bound_text(m.get(f"{key}_bound"))
        extra = f" <span class=note>({bound})</span>" if bound else ""
        why = undefined_reason(m, key)
        read = f"undefined: {why}" if why else note
        rows.append(
            f"<tr><th>{label}</th><td class=num>{cell(m, key)}{extra}</td>"
            f"<td class=note>{html.escape(read)}</td></tr>"
        )
    return "<table>" + "".join(rows) + "</table>"


#: (term, how to read it) of the decomposition table
DECOMPOSITION_ROWS = (
    ("score", "= uncertainty − discrimination + miscalibration"),
    ("uncertainty", "the score of always predicting the base rate: the floor of a model "
     "that knows nothing"),
    ("discrimination", "what the ranking earns below the uncertainty"),
    ("miscalibration", "what the best monotone recalibration (isotonic) would remove"),
    ("bound", "binning error: the exact discrimination and miscalibration lie in "
     "[value, value + bound]"),
)  # fmt: skip


def decomposition_table(d: dict[str, Any]) -> str:
    """The decomposition of the log loss and the Brier score, with one line that reads it."""
    dec = d.get("decomposition")
    if not dec:
        return ""
    ll, bs = dec["log_loss"], dec["brier"]
    infinite = bool(d["metrics"].get("log_loss_is_infinite"))

    def log_loss_cell(key: str) -> str:  # an infinite log loss is infinite miscalibration
        return "inf" if infinite and ll[key] is None and key != "bound" else num(ll[key])

    rows = "".join(
        f"<tr><th>{key}</th><td class=num>{log_loss_cell(key)}</td><td class=num>{num(bs[key])}</td>"
        f"<td class=note>{html.escape(note)}</td></tr>"
        for key, note in DECOMPOSITION_ROWS
    )
    line = ""
    score, mcb = ll["score"], ll["miscalibration"]
    if isinstance(score, float) and isinstance(mcb, float) and score > 0:
        line = (
            f"<p>Recalibrating would remove <b>{mcb:.4g}</b> of the log loss "
            f"({100.0 * mcb / score:.1f}%); the rest, {score - mcb:.4g}, is ranking.</p>"
        )
    return (
        "<h2>Why: uncertainty − discrimination + miscalibration</h2>"
        f"<table><tr><th></th><th>log loss</th><th>Brier</th><th></th></tr>{rows}</table>{line}"
    )


def recalibration_table(d: dict[str, Any]) -> str:
    """The fitted map and the metrics before and after it."""
    rec = d.get("recalibrated")
    if not rec:
        return ""
    params = rec["params"]
    shown = (
        f"{len(params['values'])} steps"
        if "values" in params
        else ", ".join(f"{html.escape(k)} = {num(v)}" for k, v in params.items())
    )
    where = (
        "the evaluated rows"
        if rec["fitted_on"] is None
        else ", ".join(f"<code>{html.escape(s)}</code>" for s in rec["fitted_on"])
    )
    fitted = "" if rec["method"] == "downsampling" else f"; fitted on {where}"
    rows = "".join(
        f"<tr><th>{html.escape(label)}</th><td class=num>{cell(d['metrics'], key)}</td>"
        f"<td class=num>{cell(rec['metrics'], key)}</td></tr>"
        for key, label in RECALIBRATED
    )
    notes = (
        order_note(rec["method"], params, d["metrics"], rec["metrics"]),
        in_sample_note(rec.get("evaluated_in_fit") or ()),
    )
    return (
        f"<h2>Recalibrated: {html.escape(rec['method'])}</h2><p>{shown}{fitted}.</p>"
        f"<table><tr><th></th><th>before</th><th>after</th></tr>{rows}</table>"
        + "".join(f"<p class=note>{html.escape(n)}</p>" for n in notes if n)
    )


def counts(d: dict[str, Any]) -> str:
    """The rows read and used, the excluded ones, and a positive label that matched none."""
    m = d["metrics"]
    parts = [f"<b>{num(m['rows'])}</b> rows read, {num(m['rows_used'])} used"]
    if m.get("weight_total") != m.get("rows_used"):
        parts.append(f"total weight {num(m['weight_total'])}")
    text = "; ".join(parts) + "."
    excl = m.get("rows_excluded") or 0
    clipped = m.get("clipped_predictions") or 0
    if excl or clipped:
        text += (
            f"<div class=warn><b>{num(excl)} row{'' if excl == 1 else 's'} excluded</b>: "
            f"{num(m['nan_predictions'])} with a NaN or null prediction, "
            f"{num(m['invalid_targets'])} with a missing (NaN or null) or invalid target. "
            f"{num(clipped)} prediction{'' if clipped == 1 else 's'} clipped. Evaluate in "
            "strict mode to make these errors.</div>"
        )
    note = label_note(d["columns"].get("positive_label"), m.get("base_rate") == 0.0)
    text += f"<div class=warn>{html.escape(note)}</div>" if note else ""
    return f"<p>{text}</p>"


def segments_table(d: dict[str, Any]) -> str:
    segs = d.get("segments")
    if not segs:
        return ""
    by = html.escape(str(d["columns"]["by"]))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ("rows", *SEGMENT_COLUMNS.values()))
    body = "".join(
        f"<tr><th>{html.escape(segment_label(s['value']))}</th><td class=num>{num(s['rows'])}</td>"
        + "".join(f"<td class=num>{cell(s['metrics'], c)}</td>" for c in SEGMENT_COLUMNS)
        + "</tr>"
        for s in segs
    )
    legend = undefined_legend((s["metrics"] for s in segs), tuple(SEGMENT_COLUMNS))
    note = f"<p class=note>{html.escape(legend)}</p>" if legend else ""
    return f"<h2>By {by}</h2><table><tr><th>{by}</th>{head}</tr>{body}</table>{note}"


def columns_line(d: dict[str, Any]) -> str:
    """``target <code>y</code>, probability column <code>p</code>; 2 file(s); threshold 0.5``."""
    cols = d["columns"]
    pred = (
        f"logit column <code>{html.escape(cols['logit'])}</code>"
        if "logit" in cols
        else f"probability column <code>{html.escape(cols['pred'])}</code>"
    )
    weight = f", weights <code>{html.escape(cols['weight'])}</code>" if cols["weight"] else ""
    files = count_of(d["files"], "file") if d["files"] else "in memory"
    return (
        f"target <code>{html.escape(cols['target'])}</code>, {pred}{weight}; {files}; "
        f"threshold {d['threshold']:g}"
    )


def notebook_view(d: dict[str, Any]) -> str:
    """A self-contained block for Jupyter: the counts, the metrics and the segments."""
    src = ", ".join(html.escape(s) for s in d["source"])
    return (
        f"<div class=bcelab-eval><style>{NOTEBOOK_CSS}</style>"
        f"<b>Evaluation of {src}</b><div class=note>{columns_line(d)}</div>"
        f"{counts(d)}{metrics_table(d['metrics'])}"
        f"{_headings(decomposition_table(d) + recalibration_table(d))}"
        f"{_headings(segments_table(d))}"
        f"<div class=note>{html.escape(BOUND_NOTE)}.</div></div>"
    )


def _headings(text: str) -> str:
    """The notebook view's headings are bold text, not page headings."""
    return text.replace("<h2>", "<b>").replace("</h2>", "</b>")
