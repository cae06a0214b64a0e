"""The report folder: metrics.json, four PNG figures and a self-contained report.html.

The folder is written all or nothing (:func:`bcelab._core.atomic.replace_dir`): it is built beside the
target and swapped in when complete, so a failure (a full disk, a read-only folder, an
interrupt) leaves the previous report whole and no partial files.  The HTML embeds the
same PNG bytes as base64, so it can be mailed or archived as one file.
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
from ..errors import MissingDependencyError
from . import figures
from .decomp_figure import decomposition_figure
from .eval_result import EvalResult
from .markup import (
    BOUND_NOTE,
    CSS,
    columns_line,
    counts,
    decomposition_table,
    metrics_table,
    recalibration_table,
    segments_table,
)
from .recal_apply import MAP_FILE
from .text import format_rate

__all__ = ["FIGURES", "MAP_FILE", "REPORT_FILES", "check_report_dir", "render_html", "write_report"]

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
    "decomposition": (
        decomposition_figure,
        "Left: the isotonic (PAV) recalibration map, the best monotone map on these rows, "
        "over the reliability diagram (and the fitted recalibration map, if any). Right: "
        "log loss = uncertainty (the log loss of predicting the base rate) − "
        "discrimination (what the ranking earns) + miscalibration (what recalibrating "
        "would remove).",
    ),
}
REPORT_FILES = (
    "metrics.json",
    *(f"{stem}.png" for stem in FIGURES),
    MAP_FILE,
    "report.html",
)


def _png(fig: Any, dpi: int = 110) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _figure(stem: str, png: bytes) -> str:
    return (
        f"<figure><img alt='{stem}' src='data:image/png;base64,"
        f"{base64.b64encode(png).decode()}'><figcaption>{html.escape(FIGURES[stem][1])}"
        "</figcaption></figure>"
    )


def render_html(result: EvalResult, images: dict[str, bytes]) -> str:
    """The report page, with ``images`` (stem -> PNG bytes) inline."""
    d = result.to_dict()
    m = d["metrics"]
    src = ", ".join(html.escape(s) for s in d["source"])
    figs = "".join(_figure(stem, png) for stem, png in images.items() if stem != "decomposition")
    why = decomposition_table(d)
    if why and "decomposition" in images:
        why += _figure("decomposition", images["decomposition"])
    run = d["run"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bcelab evaluation: {src}</title><style>{CSS}</style></head><body>
<h1>Evaluation of {src}</h1>
<p class=sub>{columns_line(d)}</p>
{counts(d)}
<h2>Metrics</h2>{metrics_table(m)}
{why}
{recalibration_table(d)}
{segments_table(d)}
<h2>Figures</h2><div class=grid>{figs}</div>
<p class=note>bcelab {__version__}, engine {html.escape(run["engine"])}, {run["seconds"]:.2f} s
({format_rate(run["rows_per_second"])} rows/s). The numbers come from a fixed-size mergeable
state; {html.escape(BOUND_NOTE)}. metrics.json holds every value.</p>
</body></html>
"""


def check_report_dir(
    directory: str | os.PathLike[str], *, fname: str = "write_report", name: str = "directory"
) -> Path:
    """``directory`` can take a report: absent, or a previous report folder (checked
    before any data is read).  matplotlib (the eval extra) must be installed.  The errors
    say ``"<fname>: <name> must ..."``."""
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


def write_report(result: EvalResult, directory: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``metrics.json``, ``<figure>.png`` and ``report.html`` into ``directory``,
    and ``map.json`` (the fitted map, for ``bcelab recalibrate``) after a recalibration.

    All or nothing: the folder is built beside ``directory`` and swapped in complete, so
    a failure leaves a previous report there whole.  ``directory`` must be new or hold a
    previous report (it is replaced as a whole, never mixed with other files).
    """
    out = check_report_dir(directory)
    rec = result.recalibration
    extra: dict[str, dict[str, Any]] = {
        "decomposition": {
            "decomposition": result.decomposition,
            "fitted": None if rec is None else rec.recalibration_map,
        }
    }
    images = {
        stem: _png(fn(result.stats, result.metrics, **extra.get(stem, {})))
        for stem, (fn, _) in FIGURES.items()
    }
    page = render_html(result, images)
    with replace_dir(out, REPORT_FILES, fname="write_report", name="directory") as tmp:
        write_json(tmp / "metrics.json", result.to_dict())
        for stem, png in images.items():
            with atomic_open(tmp / f"{stem}.png", "wb") as fh:
                fh.write(png)
        if rec is not None:
            write_json(tmp / MAP_FILE, rec.map_document(result.columns))
        write_text(tmp / "report.html", page)
    names = [n for n in REPORT_FILES if n != MAP_FILE or rec is not None]
    return {name: out / name for name in names}
