"""Matplotlib figures of a metric state: reliability diagram, ROC, PR, score histograms.

Each function takes a :class:`~bcelab.metrics.BinaryStats` (the curves come from its fine
histogram through :mod:`bcelab.metrics.curves`) and its
:class:`~bcelab.metrics.BinaryMetrics` (for the numbers in the legends) and returns a new
figure (a bare ``Figure``: no pyplot state); the report writes them atomically.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..metrics import curves

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["histograms", "overview", "pr", "reliability", "roc"]

_POS, _NEG, _UNI, _EQM = "#c0392b", "#2471a3", "#117a65", "#7d3c98"


def _figure(size: tuple[float, float]) -> Figure:
    from matplotlib.figure import Figure

    # A bare Figure (no pyplot): no GUI backend, no global state, safe in threads.
    return Figure(figsize=size, layout="constrained")


def _fmt(x: float | None, d: int = 4) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{d}f}"


def _bound(b: float) -> str:
    """The histogram's bound on the error of a value, named as such (not a CI)."""
    return f"(binning error ≤ {b:.1e})" if np.isfinite(b) and b > 0 else ""


def _draw_reliability(ax: Axes, ax_n: Axes | None, stats: Any, m: Any) -> None:
    nb = int(m.n_calibration_bins)
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect calibration")
    uni = curves.reliability(stats, n_bins=nb, strategy="uniform")
    eqm = curves.reliability(stats, n_bins=nb, strategy="equal_mass")
    ax.plot(
        uni["mean_pred"],
        uni["frac_pos"],
        "o-",
        color=_UNI,
        ms=5,
        clip_on=False,  # whole markers at frequency 0 and 1
        label=f"{nb} uniform bins (ECE {_fmt(m.ece_uniform)})",
    )
    ax.plot(
        eqm["mean_pred"],
        eqm["frac_pos"],
        "s--",
        color=_EQM,
        ms=4,
        alpha=0.85,
        clip_on=False,
        label=f"{nb} equal-mass bins (ECE {_fmt(m.ece_equal_mass)})",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("observed frequency of the positive class")
    ax.set_title("Reliability diagram")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    if ax_n is None:
        ax.set_xlabel("mean predicted probability")
        return
    edges = np.arange(nb + 1) / nb
    counts = np.asarray(uni["count"], dtype=np.float64)
    nz = counts > 0
    top = max(float(counts.max()), 1.0)
    low = float(counts[nz].min()) if nz.any() else 1.0
    # Linear when the counts are within a factor 50 of each other; otherwise a log axis
    # whose floor sits just below the smallest bin (not at 1 row: bars that all start
    # many decades below the data look equally tall).
    log = top / low > 50
    floor = 10.0 ** np.floor(np.log10(low)) / 2 if log else 0.0
    ax_n.bar(
        edges[:-1][nz],
        counts[nz] - floor,
        width=1.0 / nb,
        bottom=floor,
        align="edge",
        color=_UNI,
        alpha=0.6,
        edgecolor="white",
        linewidth=0.5,
    )
    for x, c in zip((edges[:-1] + edges[1:]) / 2, counts, strict=True):
        if c:
            ax_n.annotate(_short(int(c)), (x, c), ha="center", va="bottom", fontsize=6)
    if log:
        ax_n.set_yscale("log")
        ax_n.set_ylim(floor, top * 4)  # room for the labels
    else:
        ax_n.set_ylim(0, top * 1.2)
    ax_n.set_xlim(0, 1)
    ax_n.set_xlabel("predicted probability")
    ax_n.set_ylabel("rows per bin")
    ax_n.grid(alpha=0.3)


def _short(n: int) -> str:
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.3g}{unit}"
    return str(n)


def reliability(stats: Any, metrics: Any) -> Figure:
    """Observed frequency against mean prediction per calibration bin, with bin counts below."""
    fig = _figure((6.0, 7.0))
    ax, ax_n = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    _draw_reliability(ax, ax_n, stats, metrics)
    return fig


def _draw_roc(ax: Axes, stats: Any, m: Any) -> None:
    c = curves.roc_curve(stats)
    fpr, tpr = c["fpr"], c["tpr"]
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="random (AUC 0.5)")
    ax.plot(
        fpr, tpr, color=_UNI, lw=2, label=f"ROC-AUC {_fmt(m.roc_auc)} {_bound(m.roc_auc_bound)}"
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate (recall)")
    ax.set_title("ROC curve")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)


def roc(stats: Any, metrics: Any) -> Figure:
    """The ROC curve of the binned scores."""
    fig = _figure((6.0, 5.5))
    _draw_roc(fig.subplots(), stats, metrics)
    return fig


def _draw_pr(ax: Axes, stats: Any, m: Any) -> None:
    c = curves.pr_curve(stats)
    recall, precision = c["recall"], c["precision"]
    ax.axhline(m.base_rate, color="0.6", lw=1, ls="--", label=f"base rate {_fmt(m.base_rate)}")
    ax.plot(
        recall,
        precision,
        color=_EQM,
        lw=2,
        marker="o" if recall.size == 1 else None,  # one score: a point, which a line is not
        label=f"PR-AUC {_fmt(m.pr_auc)} {_bound(m.pr_auc_bound)}",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("Precision-recall curve")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)


def pr(stats: Any, metrics: Any) -> Figure:
    """Precision against recall over all thresholds (one point per non-empty fine bin)."""
    fig = _figure((6.0, 5.5))
    _draw_pr(fig.subplots(), stats, metrics)
    return fig


def _draw_histograms(ax: Axes, stats: Any, m: Any, n: int = 50) -> None:
    g = curves.score_histogram(stats, n_bins=n)
    width = np.diff(g["edges"])
    for w, color, label in (
        (g["wneg"], _NEG, "negatives (y = 0)"),
        (g["wpos"], _POS, "positives (y = 1)"),
    ):
        tot = w.sum()
        dens = w / (tot * width) if tot > 0 else w
        ax.stairs(dens, g["edges"], color=color, lw=1.8, label=f"{label}: weight {tot:,.6g}")
        ax.stairs(dens, g["edges"], color=color, alpha=0.15, fill=True)
    ax.axvline(m.threshold, color="0.3", lw=1, ls=":", label=f"threshold {m.threshold:g}")
    ax.set_xlim(0, 1)
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("density (the area of each class is 1)")
    ax.set_title("Scores by label")
    ax.legend(loc="best", fontsize=8)  # the place that covers the least of the bars
    ax.grid(alpha=0.3)


def histograms(stats: Any, metrics: Any) -> Figure:
    """Histogram of the predictions for each label (soft labels split by their weight)."""
    fig = _figure((6.5, 4.5))
    _draw_histograms(fig.subplots(), stats, metrics)
    return fig


def overview(stats: Any, metrics: Any, *, title: str = "") -> Figure:
    """All four panels in one 2x2 figure (what :meth:`EvalResult.plot` returns)."""
    fig = _figure((11.0, 10.0))
    axes = fig.subplots(2, 2)
    _draw_reliability(axes[0, 0], None, stats, metrics)
    _draw_roc(axes[0, 1], stats, metrics)
    _draw_pr(axes[1, 0], stats, metrics)
    _draw_histograms(axes[1, 1], stats, metrics)
    if title:
        fig.suptitle(title)
    return fig
