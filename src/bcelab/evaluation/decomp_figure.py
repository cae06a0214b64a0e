"""The report's decomposition figure: the isotonic recalibration curve over the
reliability diagram, and log loss = uncertainty − discrimination + miscalibration as bars.

Left: observed frequency against mean prediction (uniform calibration bins), the
isotonic (PAV) recalibration map fitted on the fine histogram as a step curve, and the
map fitted by ``recalibrate=`` when there is one.  Right: a waterfall from the
uncertainty (the log loss of always predicting the base rate) down by the
discrimination and up by the miscalibration to the log loss, whose bar is split into
what recalibrating would remove and the rest (the ranking's part).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..metrics import curves, decompose_stats
from ..metrics.isotonic import isotonic_curve

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..metrics import CalibrationDecomposition, RecalibrationMap

__all__ = ["decomposition_figure"]

_UNC, _DSC, _MCB, _REST, _ISO, _MAP = (
    "#95a5a6",
    "#117a65",
    "#c0392b",
    "#2c3e50",
    "#d35400",
    "#7d3c98",
)


def _draw_curves(ax: Axes, stats: Any, n_bins: int, fitted: RecalibrationMap | None) -> None:
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect calibration")
    uni = curves.reliability(stats, n_bins=n_bins, strategy="uniform")
    ax.plot(
        uni["mean_pred"],
        uni["frac_pos"],
        "o",
        color="#2471a3",
        ms=5,
        clip_on=False,  # whole markers at frequency 0 and 1
        label=f"{n_bins} uniform bins",
    )
    h = stats.histogram()
    iso = isotonic_curve(h["wpos"], h["wneg"], h["edges"], h["wp"])
    ax.stairs(
        iso.values,
        iso.edges,
        baseline=None,
        color=_ISO,
        lw=1.8,
        label="isotonic recalibration (PAV)",
    )
    if fitted is not None and fitted.method != "isotonic":
        grid = np.linspace(0.0, 1.0, 401)
        ax.plot(grid, fitted.apply(grid), color=_MAP, lw=1.5, ls="-.", label=f"{fitted.method} map")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed frequency / recalibrated probability")
    ax.set_title("Recalibration over the reliability diagram")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)


def _draw_bars(ax: Axes, d: CalibrationDecomposition | None) -> None:
    ax.set_title("log loss = uncertainty − discrimination + miscalibration", fontsize=10)
    if d is None:
        ax.text(0.5, 0.5, "no row with a weight > 0", ha="center", va="center",
                transform=ax.transAxes)  # fmt: skip
        ax.set_axis_off()
        return
    t = d.log_loss
    rest = t.uncertainty - t.discrimination
    infinite = not math.isfinite(t.score)
    right = max(t.uncertainty, rest if infinite else t.score) * 1.3
    mcb = 0.86 * right - rest if infinite else t.miscalibration  # an infinite part: an arrow
    rows = [
        ("uncertainty", [(0.0, t.uncertainty, _UNC)], f"{t.uncertainty:.4g}"),
        ("− discrimination", [(rest, t.discrimination, _DSC)], f"{0.0 - t.discrimination:+.4g}"),
        ("+ miscalibration", [(rest, mcb, _MCB)], "+inf →" if infinite else f"{mcb:+.4g}"),
        (
            "log loss",
            [(0.0, rest, _REST), (rest, mcb, _MCB)],
            "inf →" if infinite else f"{t.score:.4g}",
        ),
    ]
    for i, (_, parts, label) in enumerate(rows):
        for left, width, color in parts:
            hatch = "//" if infinite and color == _MCB else None
            ax.barh(i, width, left=left, color=color, height=0.6, hatch=hatch)
        end = max(left + width for left, width, _ in parts)
        ax.annotate(label, (end, i), xytext=(4, 0), textcoords="offset points", va="center",
                    fontsize=8)  # fmt: skip
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, right)
    if infinite:
        head = "the log loss is infinite (a prediction of exactly 0 or 1 was wrong);\n"
        head += f"recalibrating would bring it down to the ranking's {rest:.4g}\n"
    else:
        share = 100.0 * t.miscalibration / t.score if t.score > 0 else 0.0
        head = f"recalibrating would remove {t.miscalibration:.4g} ({share:.1f}%);\n"
        head += f"the rest, {rest:.4g}, is ranking "
    ax.set_xlabel(f"nats per row\n{head}(binning error ≤ {t.bound:.1e})", fontsize=9)
    ax.grid(alpha=0.3, axis="x")


def decomposition_figure(
    stats: Any,
    metrics: Any,
    *,
    decomposition: CalibrationDecomposition | None = None,
    fitted: RecalibrationMap | None = None,
) -> Figure:
    """The two panels described in the module docstring, as a bare ``Figure``.

    ``decomposition``: that of ``stats`` (computed here when None); ``fitted``: a
    recalibration map to draw too.
    """
    # optional dependency (matplotlib, the eval extra) and start-up time
    from matplotlib.figure import Figure

    if decomposition is None and stats.total("w") > 0 and stats.rows_used > 0:
        decomposition = decompose_stats(stats)
    fig = Figure(figsize=(11.0, 4.8), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1.1, 1])
    _draw_curves(left, stats, int(metrics.n_calibration_bins), fitted)
    _draw_bars(right, decomposition)
    return fig
