"""The report folder: metrics.json, four PNG figures and a self-contained report.html.

Every file is written atomically (:mod:`bcelab._core.atomic`): a reader never sees a half-written
report.  The HTML embeds the same PNG bytes as base64, so it can be mailed or archived
as one file.
"""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path
from typing import Any

from .. import __version__
from .._core.atomic import atomic_open, write_json, write_text
from . import figures
from .eval_result import EvalResult
from .text import format_rate

__all__ = ["FIGURES", "render_html", "write_report"]

#: file stem -> (figure function, caption)
FIGURES = {
    "reliability": (
        figures.reliability,
        "Reliability diagram: observed frequency against mean prediction per "
        "calibration bin (uniform and equal-mass); the bars below count the rows "
        "in each uniform bin. Points on the diagonal are perfectly calibrated.",
    ),
    "roc": (
        figures.roc,
        "ROC curve of the binned scores; the legend gives the ROC-AUC and the "
        "largest error the histogram allows.",
    ),
    "pr": (
        figures.pr,
        "Precision-recall curve; the dashed line is the base rate (a random "
        "ranking). PR-AUC uses Davis-Goadrich interpolation.",
    ),
    "histograms": (
        figures.histograms,
        "Distribution of the predicted probabilities for each "
        "label; the dotted line is the decision threshold.",
    ),
}

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

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#1c2833;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;
border-bottom:1px solid #d5d8dc;padding-bottom:.2rem}.sub{color:#566573;margin-top:0}
table{border-collapse:collapse;margin:.5rem 0;font-size:.92rem}
td,th{padding:.25rem .7rem;border-bottom:1px solid #eaecee;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums;font-family:ui-monospace,monospace}
th{background:#f4f6f7}.note{color:#566573;font-size:.85rem}
.warn{background:#fef5e7;border-left:4px solid #f39c12;padding:.5rem .8rem;margin:1rem 0}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:1.2rem}
figure{margin:0;background:#fff;border:1px solid #eaecee;border-radius:6px;padding:.6rem}
figure img{width:100%;height:auto}figcaption{font-size:.85rem;color:#566573}
"""


def _num(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.6g}"
    return html.escape(str(v))


def _png(fig: Any, dpi: int = 110) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _metrics_table(m: dict[str, Any]) -> str:
    rows = []
    for key, label, note in ROWS:
        v = m.get(key)
        bound = m.get(f"{key}_bound")
        extra = f" ± {bound:.1e}" if isinstance(bound, float) and bound > 0 else ""
        rows.append(
            f"<tr><th>{label}</th><td class=num>{_num(v)}{extra}</td>"
            f"<td class=note>{html.escape(note)}</td></tr>"
        )
    return "<table>" + "".join(rows) + "</table>"


def _counts(m: dict[str, Any]) -> str:
    parts = [f"<b>{_num(m['rows'])}</b> rows read, {_num(m['rows_used'])} used"]
    if m.get("weight_total") != m.get("rows_used"):
        parts.append(f"total weight {_num(m['weight_total'])}")
    text = "; ".join(parts) + "."
    excl = m.get("rows_excluded") or 0
    clipped = m.get("clipped_predictions") or 0
    if excl or clipped:
        text += (
            f"<div class=warn><b>{_num(excl)} rows excluded</b>: "
            f"{_num(m['nan_predictions'])} with a NaN prediction, "
            f"{_num(m['invalid_targets'])} with a target outside [0, 1] or NaN. "
            f"{_num(clipped)} predictions clipped. Evaluate in strict mode to make these "
            "errors.</div>"
        )
    return f"<p>{text}</p>"


def _segments(d: dict[str, Any]) -> str:
    segs = d.get("segments")
    if not segs:
        return ""
    by = html.escape(str(d["columns"]["by"]))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ("rows", *SEGMENT_COLUMNS.values()))
    body = "".join(
        f"<tr><th>{_num(s['value'])}</th><td class=num>{_num(s['rows'])}</td>"
        + "".join(f"<td class=num>{_num(s['metrics'].get(c))}</td>" for c in SEGMENT_COLUMNS)
        + "</tr>"
        for s in segs
    )
    return f"<h2>By {by}</h2><table><tr><th>{by}</th>{head}</tr>{body}</table>"


def render_html(result: EvalResult, images: dict[str, bytes]) -> str:
    """The report page, with ``images`` (stem -> PNG bytes) inline."""
    d = result.to_dict()
    m = d["metrics"]
    cols = d["columns"]
    pred = (
        f"logit column <code>{html.escape(cols['logit'])}</code>"
        if "logit" in cols
        else f"probability column <code>{html.escape(cols['pred'])}</code>"
    )
    weight = f", weights <code>{html.escape(cols['weight'])}</code>" if cols["weight"] else ""
    src = ", ".join(html.escape(s) for s in d["source"])
    figs = "".join(
        f"<figure><img alt='{stem}' src='data:image/png;base64,"
        f"{base64.b64encode(png).decode()}'><figcaption>{html.escape(FIGURES[stem][1])}"
        "</figcaption></figure>"
        for stem, png in images.items()
    )
    run = d["run"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bcelab evaluation: {src}</title><style>{_CSS}</style></head><body>
<h1>Evaluation of {src}</h1>
<p class=sub>target <code>{html.escape(cols["target"])}</code>, {pred}{weight};
{d["files"]} file(s); threshold {d["threshold"]:g}</p>
{_counts(m)}
<h2>Metrics</h2>{_metrics_table(m)}
{_segments(d)}
<h2>Figures</h2><div class=grid>{figs}</div>
<p class=note>bcelab {__version__}, engine {html.escape(run["engine"])}, {run["seconds"]:.2f} s
({format_rate(run["rows_per_second"])} rows/s). The numbers come from a fixed-size mergeable state;
the &plusmn; bounds are the largest difference to an in-memory computation that its
histogram allows. metrics.json holds every value.</p>
</body></html>
"""


def write_report(result: EvalResult, directory: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``metrics.json``, ``<figure>.png`` and ``report.html`` into ``directory``."""
    out = Path(directory)
    images = {stem: _png(fn(result.stats, result.metrics)) for stem, (fn, _) in FIGURES.items()}
    written: dict[str, Path] = {"metrics.json": write_json(out / "metrics.json", result.to_dict())}
    for stem, png in images.items():
        with atomic_open(out / f"{stem}.png", "wb") as fh:
            fh.write(png)
        written[f"{stem}.png"] = out / f"{stem}.png"
    written["report.html"] = write_text(out / "report.html", render_html(result, images))
    return written
