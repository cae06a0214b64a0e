r"""Every metric from a :class:`~bcelab.metrics.BinaryStats` (nothing here reads rows).

Totals (all weighted; :math:`W = \sum w`):

.. math::

    \mathrm{LL} = \frac{\sum w\,\mathrm{BCE}}{W}, \quad
    \mathrm{floor} = \frac{\sum w\,H(y)}{W}, \quad
    \bar y = \frac{\sum w y}{W}, \quad
    \mathrm{NE} = \frac{\mathrm{LL}}{H(\bar y)}, \quad \mathrm{RIG} = 1 - \mathrm{NE}, \quad
    \mathrm{calibration} = \frac{\sum w p}{\sum w y}, \quad
    \mathrm{Brier} = \frac{\sum w (p - y)^2}{W}

The ranking, calibration-bin and threshold metrics come from the fine histogram (soft
labels count as a weight :math:`w y` of positives and :math:`w (1 - y)` of negatives);
see :mod:`bcelab.metrics.ranking` for ROC-AUC, PR-AUC and their bounds.
"""

from __future__ import annotations

import math
import sys
from dataclasses import fields
from typing import TYPE_CHECKING, Any

import numpy as np

from .._core import formulas
from .._core.display import count_of
from .._core.options import real_number
from .._core.reducing import weight_total_error
from ..errors import DomainError, EmptyReductionError, OptionError
from .calibration import ece_equal_mass, ece_uniform
from .histogram import layout
from .isotonic import single_score_bins
from .ranking import pr_auc, roc_auc
from .result import BinaryMetrics

if TYPE_CHECKING:
    from .stats import BinaryStats

__all__ = [
    "check_calibration_bins",
    "check_threshold",
    "compute_metrics",
    "confusion",
    "state_weight_error",
    "undefined_metrics",
    "weighted_sum_error",
]

#: the weighted sums of the state that a metric divides by the total weight, as text
_SUM_TEXT = {
    "wy": "Σw·y",
    "wp": "Σw·p",
    "wbce": "log loss Σw·BCE",
    "wh": "Σw·H(y)",
    "wsq": "Brier score Σw·(p − y)²",
}


def _div(a: float, b: float) -> float:
    return a / b if b != 0 else math.nan


def _effective_rows(w: float, w2: float) -> float:
    """Kish's effective sample size W^2 / sum(w^2); as (W / sqrt(sum w^2))^2 where W^2
    overflows (W beyond 1.3e154).  NaN when the sum of squares is infinite or below the
    smallest normal float64 (weights beyond 1e154 or below 1e-154, squared, overflow or
    lose their digits); squares of weights below 1e-154 inside a larger sum lose digits
    too, which the state cannot tell."""
    if not sys.float_info.min <= w2 < math.inf:
        return math.nan
    ww = w * w
    return ww / w2 if ww < math.inf else (w / math.sqrt(w2)) ** 2


def _may_hold_infinite_loss(stats: BinaryStats) -> bool:
    """Whether a row of ``stats`` may have an infinite loss: a prediction of exactly 0
    with a positive label, or of exactly 1 with a negative one.  Such a row lies in the
    lowest (highest) fine bin, and only if the smallest (largest) prediction is 0 (1)."""
    a = stats.to_arrays()
    hist = a["hist"]
    low = bool(a["pmin"][0] == 0.0 and hist[0, 0] > 0)
    return low or bool(a["pmax"][0] == 1.0 and hist[-1, 1] > 0)


def weighted_sum_error(
    stats: BinaryStats, fname: str, *, unchanged: str = "no metric"
) -> DomainError | None:
    """The error for a state whose weighted sums went beyond float64 (inf) although no
    row's loss is infinite: the weights times the losses (or p, y, (p - y)²) add up to
    more than 1.8e308 while the total weight does not.  An infinite log loss from a
    prediction of exactly 0 or 1 that was wrong is a value, not this error."""
    over = [name for name in _SUM_TEXT if not math.isfinite(stats.total(name))]
    if not over or (over == ["wbce"] and _may_hold_infinite_loss(stats)):
        return None
    sums = ", ".join(_SUM_TEXT[name] for name in over)
    return DomainError(
        f"{fname}: weights whose products with the losses add up within float64's range "
        "(below 1.8e308)",
        f"the weighted sums ({sums}) of {count_of(stats.rows_used, 'usable row')} add up to "
        f"more (inf), with a total weight of {stats.total('w'):.4g} and no prediction of "
        "exactly 0 or 1 that was wrong",
        f"multiply the weights by 1 / their largest value: a common factor changes {unchanged}",
    )


def state_weight_error(stats: BinaryStats, fname: str) -> DomainError | None:
    """The error for a state whose weights a weighted mean cannot use: a total beyond
    float64's range or too small to average (:func:`weight_total_error`), or weighted
    sums that overflow (:func:`weighted_sum_error`); ``None`` when every metric can be had."""
    w, used = stats.total("w"), stats.rows_used
    return weight_total_error(fname, w, used, raised=True) or weighted_sum_error(stats, fname)


def check_threshold(threshold: object, *, fname: str = "BinaryStats.compute") -> int:
    """Index of the fine bin edge equal to ``threshold``; OptionError when it is not an edge."""
    edges = layout().edges
    t = real_number(threshold)
    if math.isnan(t):
        raise OptionError(
            f"{fname}: threshold must be a number in (0, 1)",
            f"received threshold={threshold!r}",
            "pass e.g. threshold=0.5",
        )
    i = int(np.searchsorted(edges, t))
    if not (0.0 < t < 1.0) or edges[i] != t:
        raise OptionError(
            f"{fname}: threshold must be an exact bin edge in (0, 1): a multiple of 0.01, a "
            "multiple of 1/15, or a dyadic edge such as 0.5, 0.25 or 2**-10",
            f"received threshold={threshold!r}",
            f"round it, e.g. threshold={round(t, 2) if 0.01 <= t <= 0.99 else 0.5!r}",
        )
    return i


def check_calibration_bins(
    nb: object, *, fname: str = "BinaryStats.compute", name: str = "n_calibration_bins"
) -> int:
    """The number of calibration bins (the option ``name``): an integer in [1, 1000]."""
    if not isinstance(nb, (int, np.integer)) or isinstance(nb, bool) or not 1 <= nb <= 1000:
        raise OptionError(
            f"{fname}: {name} must be an integer in [1, 1000]",
            f"received {name}={nb!r}",
            f"pass e.g. {name}=15",
        )
    return int(nb)


def confusion(pos: np.ndarray, neg: np.ndarray, i: int) -> tuple[float, float, float, float]:
    """(tp, fp, tn, fn) when fine bins ``i`` and above are predicted positive."""
    tp = float(pos[i:].sum())
    fp = float(neg[i:].sum())
    return tp, fp, float(neg[:i].sum()), float(pos[:i].sum())


def _held_bins(hist: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The fine bins that hold weight, and their positive, negative and Σ w p columns.

    An empty bin adds nothing to any metric, and most fine bins are empty (a state of
    1e6 rows fills about a third of them), so the metrics read only these.
    """
    bins = np.flatnonzero((hist[:, 0] != 0) | (hist[:, 1] != 0))
    pos, neg, wp = (np.ascontiguousarray(hist[bins, k]) for k in range(3))
    return bins, pos, neg, wp


def compute_metrics(
    stats: BinaryStats, *, threshold: float = 0.5, n_calibration_bins: int = 15
) -> BinaryMetrics:
    """All metrics of :class:`BinaryMetrics` from ``stats``."""
    ti = check_threshold(threshold)
    nb = check_calibration_bins(n_calibration_bins)
    rows, used = stats.rows, stats.rows_used
    w = stats.total("w")
    if used == 0 or w == 0:
        raise EmptyReductionError(
            "BinaryStats.compute: at least one row with a valid target, a prediction and a weight > 0",
            f"received {count_of(rows, 'row')}, {used} usable ({count_of(stats.count('nan_pred'), 'NaN or null prediction')}, "
            f"{count_of(stats.count('invalid_target'), 'missing or invalid target')}), total weight {w!r}",
            "check the input columns and the filters",
        )
    err = state_weight_error(stats, "BinaryStats.compute")
    if err is not None:
        raise err
    a = stats.to_arrays()
    bins, pos, neg, wp_bins = _held_bins(a["hist"])
    ll = stats.total("wbce") / w
    floor = stats.total("wh") / w
    base = stats.total("wy") / w
    base = min(max(base, 0.0), 1.0)
    h_base = float(formulas.entropy(np, np.float64(base)))
    ne = _div(ll, h_base)
    wp_total, wy_total = stats.total("wp"), stats.total("wy")
    eu, mu, eu_bound = ece_uniform(pos, neg, wp_bins, nb, bins=bins)
    rows_in = a["hist_n"][bins]  # rows per occupied fine bin
    em, mm, em_bound = ece_equal_mass(pos, neg, wp_bins, nb, rows=rows_in)
    single = single_score_bins(layout().edges, wp_bins, pos + neg, rows_in, bins=bins)
    auc, auc_b = roc_auc(pos, neg, single=single)
    ap, ap_b = pr_auc(pos, neg, single=single)
    tp, fp, tn, fn = confusion(pos, neg, int(np.searchsorted(bins, ti)))
    return BinaryMetrics(
        **_counts(stats),
        effective_rows=_effective_rows(w, stats.total("w2")),
        log_loss=ll,
        log_loss_is_infinite=math.isinf(ll),
        floor=floor,
        excess=max(ll - floor, 0.0),
        base_rate=base,
        base_entropy=h_base,
        ne=ne,
        rig=1.0 - ne,
        mean_prediction=wp_total / w,
        calibration=_div(wp_total, wy_total),
        brier=stats.total("wsq") / w,
        pred_min=float(a["pmin"][0]),
        pred_max=float(a["pmax"][0]),
        n_calibration_bins=int(nb),
        ece_uniform=eu,
        mce_uniform=mu,
        ece_uniform_bound=eu_bound,
        ece_equal_mass=em,
        mce_equal_mass=mm,
        ece_equal_mass_bound=em_bound,
        roc_auc=auc,
        roc_auc_bound=auc_b,
        pr_auc=ap,
        pr_auc_bound=ap_b,
        threshold=float(threshold),
        tp=tp,
        fp=fp,
        tn=tn,
        fn=fn,
        accuracy=_div(tp + tn, tp + fp + tn + fn),
        precision=_div(tp, tp + fp),
        recall=_div(tp, tp + fn),
        f1=_div(2 * tp, 2 * tp + fp + fn),
    )


def undefined_metrics(
    stats: BinaryStats, *, threshold: float = 0.5, n_calibration_bins: int = 15
) -> BinaryMetrics:
    """The metrics of a state without a usable row (a segment whose targets are all
    missing, say): its row counts, zero weight and confusion counts, and NaN for every
    value that needs a row (``None`` in :meth:`BinaryMetrics.to_dict`)."""
    values: dict[str, Any] = {f.name: math.nan for f in fields(BinaryMetrics)}
    values.update(_counts(stats), effective_rows=0.0, log_loss_is_infinite=False)
    values.update(n_calibration_bins=int(n_calibration_bins), threshold=float(threshold))
    values.update(tp=0.0, fp=0.0, tn=0.0, fn=0.0)
    return BinaryMetrics(**values)


def _counts(stats: BinaryStats) -> dict[str, Any]:
    """The row counts and the total weight of a state (fields of :class:`BinaryMetrics`)."""
    rows, used = stats.rows, stats.rows_used
    return {
        "rows": rows,
        "rows_used": used,
        "rows_excluded": rows - used,
        "nan_predictions": stats.count("nan_pred"),
        "invalid_targets": stats.count("invalid_target"),
        "clipped_predictions": stats.count("clipped"),
        "weight_total": stats.total("w"),
    }
