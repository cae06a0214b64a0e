"""Curves for plots, from a state's fine histogram: ROC, PR, reliability, score histograms.

All of them read only :meth:`BinaryStats.histogram`; no rows are kept anywhere.  Fine
bins without any weight are dropped, so the curves have at most one point per
non-empty bin (about 20 600 at most); a state without weight gives curves of no points
(empty arrays), and bins of no weight in ``reliability`` hold NaN.
"""

from __future__ import annotations

import numpy as np

from .._core.options import check_instance
from ..errors import OptionError
from .calibration import coarse_sums, equal_mass_assignment, uniform_assignment
from .compute import check_calibration_bins
from .stats import BinaryStats

__all__ = ["pr_curve", "reliability", "roc_curve", "score_histogram"]


def _histogram(stats: object, fname: str) -> dict[str, np.ndarray]:
    state = check_instance(
        stats,
        BinaryStats,
        name="stats",
        fname=fname,
        what="a bcelab.metrics.BinaryStats",
        hint="pass BinaryStats().update(preds, targets), not the arrays themselves",
    )
    return state.histogram()


def _desc(stats: object, fname: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h = _histogram(stats, fname)
    keep = (h["wpos"] + h["wneg"]) > 0
    lower = h["edges"][:-1][keep][::-1]
    return lower, h["wpos"][keep][::-1], h["wneg"][keep][::-1]


def roc_curve(stats: BinaryStats) -> dict[str, np.ndarray]:
    """``fpr``, ``tpr`` and ``threshold`` (p >= threshold is positive), starting at (0, 0);
    empty arrays for a state without weight."""
    lower, pos, neg = _desc(stats, "roc_curve")
    if lower.size == 0:
        return {"fpr": np.zeros(0), "tpr": np.zeros(0), "threshold": np.zeros(0)}
    tp = np.concatenate([[0.0], np.cumsum(pos)])
    fp = np.concatenate([[0.0], np.cumsum(neg)])
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "fpr": fp / fp[-1],
            "tpr": tp / tp[-1],
            "threshold": np.concatenate([[np.inf], lower]),
        }


def pr_curve(stats: BinaryStats) -> dict[str, np.ndarray]:
    """``recall``, ``precision`` and ``threshold`` at every non-empty bin edge (descending);
    empty arrays for a state without weight."""
    lower, pos, neg = _desc(stats, "pr_curve")
    if lower.size == 0:
        return {"recall": np.zeros(0), "precision": np.zeros(0), "threshold": lower}
    tp, fp = np.cumsum(pos), np.cumsum(neg)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"recall": tp / tp[-1], "precision": tp / (tp + fp), "threshold": lower}


def reliability(
    stats: BinaryStats, *, n_bins: int = 15, strategy: str = "uniform"
) -> dict[str, np.ndarray]:
    """Per calibration bin: ``lo``, ``hi`` (p range), ``mean_pred``, ``frac_pos``, ``weight``,
    ``count``; ``strategy`` is ``"uniform"`` or ``"equal_mass"`` (as in ``compute``), and
    ``n_bins`` an integer in [1, 1000]."""
    h = _histogram(stats, "reliability")
    n_bins = check_calibration_bins(n_bins, fname="reliability", name="n_bins")
    pos, neg, wp, cnt, edges = h["wpos"], h["wneg"], h["wp"], h["count"], h["edges"]
    if strategy == "uniform":
        coarse = uniform_assignment(n_bins)
    elif strategy == "equal_mass":
        coarse = equal_mass_assignment(pos + neg, n_bins, cnt)
    else:
        raise OptionError(
            "reliability: strategy must be 'uniform' or 'equal_mass'",
            f"received {strategy!r}",
            "use strategy='uniform'",
        )
    wy, w, wpp = coarse_sums(pos, neg, wp, coarse, n_bins)  # the sums of the ECE
    n = np.bincount(coarse, weights=cnt, minlength=n_bins).astype(np.int64)
    lo = np.full(n_bins, np.nan)
    hi = np.full(n_bins, np.nan)
    for j in range(n_bins):
        idx = np.flatnonzero((coarse == j) & (cnt > 0))
        if idx.size:
            lo[j], hi[j] = edges[idx[0]], edges[idx[-1] + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "lo": lo,
            "hi": hi,
            "mean_pred": wpp / w,
            "frac_pos": wy / w,
            "weight": w,
            "count": n,
        }


def score_histogram(stats: BinaryStats, *, n_bins: int = 50) -> dict[str, np.ndarray]:
    """Prediction histogram by label on ``n_bins`` equal-width bins: ``edges``, ``wpos``,
    ``wneg``, ``count`` (exact when ``n_bins`` divides 100 or is 15; at most 1000)."""
    h = _histogram(stats, "score_histogram")
    n_bins = check_calibration_bins(n_bins, fname="score_histogram", name="n_bins")
    coarse = uniform_assignment(n_bins)
    return {
        "edges": np.arange(n_bins + 1) / n_bins,  # the cuts k / n the bins are made by
        "wpos": np.bincount(coarse, weights=h["wpos"], minlength=n_bins),
        "wneg": np.bincount(coarse, weights=h["wneg"], minlength=n_bins),
        "count": np.bincount(coarse, weights=h["count"], minlength=n_bins).astype(np.int64),
    }
