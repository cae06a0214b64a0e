"""The comparison report folder: comparison.json, forest plots (PNG) and a self-contained report.html.

The folder is built beside its target and swapped in whole
(:func:`bcelab._core.atomic.replace_dir`), so a failure leaves the previous
report as it was, never a mix of two.  The HTML embeds
the PNG bytes as base64, so it can be mailed or archived as one file.
"""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path
from typing import Any

from .. import __version__
from .._core.atomic import atomic_open, check_replaceable, replace_dir, write_json, write_text
from .._core.display import count_of
from .._core.replicates import smallest_p_value
from ..errors import MissingDependencyError
from .compare_figures import forest, forest_segments
from .compare_markup import metrics_table, segments_table
from .compare_result import ComparisonResult
from .compare_text import keying_line, notes, p_floor_note
from .markup import CSS

__all__ = ["REPORT_FILES", "check_report_dir", "render_html", "write_comparison_report"]

#: every file a report folder may hold (an existing folder is replaced only if it holds no other)
REPORT_FILES = ("comparison.json", "forest.png", "forest_segments.png", "report.html")

_CAPTIONS = {
    "forest": "B − A for every metric with its paired-bootstrap interval. Green: B is "
    "better (the interval excludes 0 on B's side); red: A is better; blue: a clear "
    "difference with no better side of B − A by itself (calibration: the ratio closer to "
    "1 is better); grey: no clear difference.",
    "forest_segments": "The same per value of the segment column, with the overall "
    "difference on top.",
}

_CSS = (
    CSS + ".verdict{background:#eaf2f8;border-left:4px solid #2471a3;padding:.6rem .9rem;"
    "margin:1rem 0}figure{margin:1rem 0}\n"
)


def check_report_dir(
    directory: str | os.PathLike[str],
    *,
    fname: str = "write_comparison_report",
    name: str = "directory",
) -> Path:
    """``directory`` can take a comparison report: absent, or a previous one (which is
    replaced whole), checked before any data is read.  matplotlib (the eval extra) must
    be installed.  The errors say ``"<fname>: <name> must ..."``."""
    try:
        import matplotlib  # noqa: F401  (optional dependency: the eval extra)
    except ImportError:
        raise MissingDependencyError(
            "matplotlib for the report's figures",
            "it is not installed",
            "pip install 'bcelab[eval]'",
        ) from None
    out = Path(directory)
    check_replaceable(out, REPORT_FILES, fname=fname, name=name)
    return out


def _png(fig: Any, dpi: int = 110) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _columns_line(d: dict[str, Any]) -> str:
    c = d["columns"]
    kind = "logit" if "logit" in c else "pred"
    a, b = c[kind]["a"], c[kind]["b"]
    parts = [
        f"target <code>{html.escape(c['target'])}</code>",
        f"model A: {kind} <code>{html.escape(a)}</code>",
        f"model B: {kind} <code>{html.escape(b)}</code>",
    ]
    parts += [f"{k} <code>{html.escape(c[k])}</code>" for k in ("weight", "by") if c[k]]
    return ", ".join(parts)


def render_html(result: ComparisonResult, images: dict[str, bytes]) -> str:
    """The report page, with ``images`` (stem -> PNG bytes) inline."""
    d = result.to_dict()
    v = d["verdict"]
    src = ", ".join(html.escape(s) for s in d["source"])
    figs = "".join(
        f"<figure><img alt='{stem}' src='data:image/png;base64,"
        f"{base64.b64encode(png).decode()}'><figcaption>{html.escape(_CAPTIONS[stem])}"
        "</figcaption></figure>"
        for stem, png in images.items()
    )
    keyed = html.escape(keying_line(d, "an id column"))
    warn = "" if d["keyed_by"] == "id" else f"<div class=warn>{keyed}.</div>"
    sub_keyed = f"; {keyed}" if d["keyed_by"] == "id" else ""  # else the warning says it
    warn += "".join(f"<div class=warn>{html.escape(t)}</div>" for t in notes(d))
    floor = smallest_p_value(d["replicates"])
    floor_line = (
        ""
        if p_floor_note(d)
        else f" The smallest p-value {d['replicates']} replicates can give is {floor:.3g}."
    )
    files = count_of(d["files"], "file") if d["files"] else "in memory"
    verdict = "".join(f"<p>{html.escape(t)}</p>" for t in (v["text"], v["why"]) if t)
    verdict = f"<div class=verdict>{verdict}</div>" if verdict else ""
    method = "".join(
        f"<tr><th>{html.escape(k)}</th><td class=note>{html.escape(str(x))}</td></tr>"
        for k, x in d["method"].items()
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bcelab comparison: {src}</title><style>{_CSS}</style></head><body>
<h1>Model A vs model B on {src}</h1>
<p class=sub>{_columns_line(d)}; {files}; <b>{d["rows_used"]:,}</b> of
{d["rows"]:,} rows used{sub_keyed}</p>
{warn}{verdict}
<h2>Metrics</h2>{metrics_table(d)}
<p class=note>B − A is model B's value minus model A's. The interval and the p-value
come from a paired bootstrap: {d["replicates"]} replicates (seed {d["seed"]}) that
reweight the same rows for both models, so the noise the models share cancels.{floor_line}</p>
<h2>Differences</h2>{figs}
{segments_table(d)}
<h2>Method</h2><table>{method}</table>
<p class=note>bcelab {__version__}, engine {html.escape(result.engine)},
{result.seconds:.2f} s. comparison.json holds every value.</p>
</body></html>
"""


def write_comparison_report(
    result: ComparisonResult, directory: str | os.PathLike[str]
) -> dict[str, Path]:
    """Write ``comparison.json``, the forest plot(s) and ``report.html`` into ``directory``.

    ``directory`` must be new or a previous comparison report (:func:`check_report_dir`);
    it is replaced whole, or left as it was when anything fails.
    """
    out = check_report_dir(directory)
    d = result.to_dict()
    images = {"forest": _png(forest(d))}
    if d.get("segments"):
        images["forest_segments"] = _png(forest_segments(d))
    page = render_html(result, images)
    with replace_dir(out, REPORT_FILES, fname="write_comparison_report", name="directory") as tmp:
        write_json(tmp / "comparison.json", d)
        for stem, png in images.items():
            with atomic_open(tmp / f"{stem}.png", "wb") as fh:
                fh.write(png)
        write_text(tmp / "report.html", page)
    return {name: out / name for name in REPORT_FILES if (out / name).exists()}
