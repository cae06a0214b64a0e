"""Forest plots of a comparison: B − A per metric with its interval, overall and per segment.

Each metric gets its own row (overall) or panel (per segment) with its own scale, since
a log-loss difference of 0.003 and an AUC difference of 0.02 share no axis.  A point is
green where B is better (the interval excludes 0 on B's side), red where A is, blue
where the interval excludes 0 for a metric with no better direction of B − A by itself
(calibration: the ratio closer to 1 is better), grey where the interval includes 0.  The functions take the dict of
:meth:`~bcelab.evaluation.compare_result.ComparisonResult.to_dict` and return a bare
matplotlib ``Figure`` (no pyplot state).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .compare_labels import LABELS
from .text import segment_label

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["FOREST_METRICS", "forest", "forest_segments"]

#: the differences drawn (the uncertainty is the same for both models)
FOREST_METRICS = tuple(k for k in LABELS if k != "uncertainty")
_B, _A, _NONE, _DIFFERENT = "#1e8449", "#c0392b", "#7f8c8d", "#2471a3"
_LEGEND = (
    "green: B better · red: A better · blue: differs, no better side by itself · "
    "grey: no clear difference"
)


def _figure(size: tuple[float, float]) -> Figure:
    # start-up time: matplotlib (the eval extra) is imported only to draw
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained")


def _winner(m: dict[str, Any]) -> str | None:
    """``"B"``, ``"A"`` or None: who is better where the interval excludes 0."""
    lo, hi = m["ci"]
    better = m.get("better")
    if lo is None or hi is None or better not in ("lower", "higher") or lo <= 0 <= hi:
        return None
    b_higher = lo > 0
    return "B" if b_higher == (better == "higher") else "A"


def _colour(m: dict[str, Any]) -> str:
    winner = _winner(m)
    if winner is not None:
        return _B if winner == "B" else _A
    lo, hi = m["ci"]
    clear = lo is not None and hi is not None and not lo <= 0 <= hi
    return _DIFFERENT if clear else _NONE


def _draw(ax: Axes, rows: list[tuple[str, dict[str, Any] | None]]) -> None:
    """One interval per row, top to bottom, with a line at 0."""
    ax.axvline(0.0, color="0.55", lw=1, ls="--", zorder=1)
    for i, (_, m) in enumerate(rows):
        y = len(rows) - 1 - i
        if m is None or m["diff"] is None:
            ax.text(0.0, y, "n/a", ha="center", va="center", fontsize=7, color="0.45")
            continue
        lo, hi = m["ci"]
        c = _colour(m)
        if lo is not None and hi is not None:
            ax.plot([lo, hi], [y, y], color=c, lw=2.2, solid_capstyle="butt", zorder=2)
            ax.plot([lo, hi], [y, y], "|", color=c, ms=9, zorder=2)
        ax.plot([m["diff"]], [y], "o", color=c, ms=6, zorder=3)
    ax.set_yticks(range(len(rows)), [name for name, _ in reversed(rows)])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    # start-up time: matplotlib (the eval extra) is imported only to draw
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(nbins=5, symmetric=True))
    ax.xaxis.set_major_formatter("{x:.2g}")  # plain numbers: no offset label in the way
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", color="0.92")


def _hint(better: str | None) -> str:
    if better == "lower":
        return "B better  ←   →  A better"
    if better == "higher":
        return "A better  ←   →  B better"
    if better == "closer to 1":
        return "B − A; closer to 1 is better"
    return "B − A"


def _numbers(m: dict[str, Any], pct: str) -> str:
    if m["diff"] is None:
        return "undefined for both models" if m["a"] is None and m["b"] is None else "n/a"
    lo, hi = m["ci"]
    ci = "  no interval" if lo is None or hi is None else f"  {pct} CI [{lo:+.3g}, {hi:+.3g}]"
    p = "" if m["p_value"] is None else f"  p = {m['p_value']:.3g}"
    sides = ""
    if m.get("better") == "closer to 1" and m["a"] is not None and m["b"] is not None:
        sides = f"  (A {m['a']:.3g}, B {m['b']:.3g})"
    return f"{m['diff']:+.3g}{ci}{p}{sides}"


def forest(d: dict[str, Any]) -> Figure:
    """Overall: one row per metric, B − A with its interval and the numbers beside it."""
    pct = f"{100 * d['confidence']:g}%"
    names = [k for k in FOREST_METRICS if k in d["metrics"]]
    fig = _figure((9.0, 0.62 * len(names) + 1.3))
    axes = fig.subplots(len(names), 1, squeeze=False)[:, 0]
    for ax, name in zip(axes, names, strict=True):
        m = d["metrics"][name]
        _draw(ax, [(LABELS[name], m)])
        ax.set_yticks([0], [LABELS[name]], fontsize=10)
        ax.set_title(
            f"{_numbers(m, pct)}      ({_hint(m.get('better'))})",
            fontsize=8,
            loc="right",
            color="0.3",
            pad=2,
        )
        _symmetric(ax, m)
        if m["diff"] is None:  # no value to place: no scale either
            ax.set_xticks([])
    fig.suptitle(
        f"B − A with {pct} paired-bootstrap intervals ({d['replicates']} replicates)\n{_LEGEND}",
        fontsize=10,
    )
    return fig


def _symmetric(ax: Axes, *ms: dict[str, Any] | None) -> None:
    """An x range around 0 that holds every interval, so 0 is always in view."""
    ends = [
        abs(v)
        for m in ms
        if m is not None
        for v in (m["diff"], *m["ci"])
        if v is not None and math.isfinite(v)
    ]
    span = max(ends, default=0.0) * 1.15
    ax.set_xlim(-(span or 1.0), span or 1.0)
    if span == 0.0:  # every value is 0: one tick, not a scale of nothing
        ax.set_xticks([0.0])


def forest_segments(d: dict[str, Any]) -> Figure:
    """Per segment: one panel per metric, one row per segment value plus "all"."""
    pct = f"{100 * d['confidence']:g}%"
    segs = d.get("segments") or []
    by = str(d["columns"]["by"])
    names = [k for k in FOREST_METRICS if k in d["metrics"]]
    ncol = 3
    nrow = -(-len(names) // ncol)
    height = max(2.0, 0.32 * (len(segs) + 1) + 0.9)
    fig = _figure((12.0, nrow * height + 0.6))
    axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
    for ax, name in zip(axes, names, strict=False):
        rows: list[tuple[str, dict[str, Any] | None]] = [("all", d["metrics"][name])]
        rows += [
            (
                f"{by} = {segment_label(s['value'])}",
                None if s["metrics"] is None else s["metrics"].get(name),
            )
            for s in segs
        ]
        _draw(ax, rows)
        ax.tick_params(axis="y", labelsize=8)
        ax.set_title(f"{LABELS[name]} ({_hint(d['metrics'][name].get('better'))})", fontsize=9)
        _symmetric(ax, *(m for _, m in rows))
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"B − A per value of {by!r}, {pct} paired-bootstrap intervals\n{_LEGEND}", fontsize=11
    )
    return fig
