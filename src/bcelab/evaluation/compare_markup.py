"""HTML tables of a comparison, shared by the report page and the notebook view."""

from __future__ import annotations

import html
from typing import Any

from .compare_labels import LABELS
from .compare_text import SEGMENT_METRICS, keying_line, notes, segments_legend
from .markup import NOTEBOOK_CSS
from .text import segment_label

__all__ = ["metrics_table", "notebook_view", "segments_table"]


def _num(v: Any, spec: str = ".6g") -> str:
    return "n/a" if v is None else html.escape(format(v, spec))


def _ci(m: dict[str, Any]) -> str:
    lo, hi = m["ci"]
    return "n/a" if lo is None or hi is None else f"[{_num(lo, '+.4g')}, {_num(hi, '+.4g')}]"


def metrics_table(d: dict[str, Any]) -> str:
    """Per metric: A, B, B − A, its interval, p, the better direction and the SE."""
    pct = f"{100 * d['confidence']:g}%"
    head = "".join(
        f"<th>{h}</th>"
        for h in ("metric", "A", "B", "B − A", f"{pct} CI", "p", "better", "SE (bootstrap)")
    )
    rows = []
    for name, m in d["metrics"].items():
        rows.append(
            f"<tr><th>{html.escape(LABELS.get(name, name))}</th><td class=num>{_num(m['a'])}</td>"
            f"<td class=num>{_num(m['b'])}</td><td class=num>{_num(m['diff'], '+.4g')}</td>"
            f"<td class=num>{_ci(m)}</td><td class=num>{_num(m['p_value'], '.3g')}</td>"
            f"<td class=note>{html.escape(m['better'] or '')}</td>"
            f"<td class=num>{_num(m['se'], '.3g')}</td></tr>"
        )
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def segments_table(d: dict[str, Any]) -> str:
    """Per segment value: B − A, interval and p of the segment metrics ('' without segments)."""
    segs = d.get("segments")
    if not segs:
        return ""
    by = html.escape(str(d["columns"]["by"]))
    pct = f"{100 * d['confidence']:g}%"
    head = f"<th>{by}</th><th>rows</th>" + "".join(
        f"<th>{html.escape(LABELS[k])} B − A</th><th>{pct} CI</th><th>p</th>"
        for k in SEGMENT_METRICS
    )
    body = []
    for s in segs:
        cells = f"<th>{html.escape(segment_label(s['value']))}</th><td class=num>{s['rows']:,}</td>"
        for k in SEGMENT_METRICS:
            m = (s["metrics"] or {}).get(k)
            cells += (
                "<td class=num>n/a</td><td></td><td></td>"
                if m is None
                else f"<td class=num>{_num(m['diff'], '+.4g')}</td><td class=num>{_ci(m)}</td>"
                f"<td class=num>{_num(m['p_value'], '.3g')}</td>"
            )
        body.append(f"<tr>{cells}</tr>")
    legend = segments_legend(segs)
    note = f"<p class=note>{html.escape(legend)}</p>" if legend else ""
    return f"<h2>By {by}</h2><table><tr>{head}</tr>{''.join(body)}</table>{note}"


def notebook_view(d: dict[str, Any]) -> str:
    """A self-contained block for Jupyter: the verdict, the notes, the metrics and the
    segments, in the evaluation view's look (escaped, no external resources)."""
    src = ", ".join(html.escape(s) for s in d["source"])
    v = d["verdict"]
    texts = (v["text"], v["why"], *notes(d))
    paragraphs = "".join(f"<p>{html.escape(t)}</p>" for t in texts if t)
    keyed = html.escape(keying_line(d, "an id column"))
    method = (
        f"paired bootstrap, {d['replicates']} replicates (seed {d['seed']}); "
        f"{d['rows_used']:,} of {d['rows']:,} rows used; {keyed}"
    )
    segments = segments_table(d).replace("<h2>", "<b>").replace("</h2>", "</b>")
    return (
        f"<div class=bcelab-eval><style>{NOTEBOOK_CSS}</style>"
        f"<b>Model A vs model B on {src}</b><div class=note>{method}</div>"
        f"{paragraphs}{metrics_table(d)}{segments}</div>"
    )
