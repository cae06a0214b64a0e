r"""Curves for the report, derived from the fine histogram of a metric state.

Everything here works on a :class:`Hist`: the bin edges and, per fine bin, the weight
of positives :math:`\sum w y`, of negatives :math:`\sum w (1 - y)` and the weighted
sum of predictions :math:`\sum w p`.  Rows that share a bin are treated as tied, so
the ROC curve is the one of the binned scores (its area is what ``roc_auc`` reports
up to the histogram's error bound).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "Hist",
    "Reliability",
    "equal_mass_groups",
    "histogram",
    "pr_curve",
    "regroup",
    "reliability",
    "roc_curve",
]


class Hist(NamedTuple):
    """Per fine bin ``edges[i] <= p < edges[i + 1]``: positive and negative weight, sum of w*p."""

    edges: np.ndarray
    pos: np.ndarray
    neg: np.ndarray
    wp: np.ndarray

    @property
    def weight(self) -> np.ndarray:
        return np.asarray(self.pos + self.neg)


class Reliability(NamedTuple):
    """Calibration bins: mean prediction, observed rate and total weight per bin."""

    lo: np.ndarray
    hi: np.ndarray
    mean_pred: np.ndarray
    observed: np.ndarray
    weight: np.ndarray


def regroup(h: Hist, starts: np.ndarray) -> Hist:
    """Merge fine bins into groups that start at fine-bin indices ``starts`` (ascending, 0 first)."""
    starts = np.asarray(starts, dtype=np.int64)
    edges = np.append(h.edges[starts], h.edges[-1])
    return Hist(
        edges,
        np.add.reduceat(h.pos, starts),
        np.add.reduceat(h.neg, starts),
        np.add.reduceat(h.wp, starts),
    )


def uniform_groups(h: Hist, n: int) -> np.ndarray:
    """Start indices of ``n`` uniform bins in p (exact where k/n is a fine edge)."""
    cuts = np.arange(n) / n
    return np.unique(np.searchsorted(h.edges[:-1], cuts, side="left").clip(0, len(h.pos) - 1))


def equal_mass_groups(h: Hist, n: int) -> np.ndarray:
    """Start indices of up to ``n`` groups of fine bins holding about equal weight each."""
    w = h.weight
    total = w.sum()
    if total <= 0:
        return np.array([0])
    cum = np.cumsum(w)
    targets = total * np.arange(1, n) / n
    starts = np.searchsorted(cum, targets, side="right") + 1
    return np.unique(np.concatenate([[0], starts[starts < len(w)]]))


def reliability(h: Hist, n: int = 15, *, equal_mass: bool = False) -> Reliability:
    """Reliability-diagram bins (empty bins are left out)."""
    g = regroup(h, equal_mass_groups(h, n) if equal_mass else uniform_groups(h, n))
    w = g.weight
    keep = w > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_pred = g.wp / w
        observed = g.pos / w
    return Reliability(
        g.edges[:-1][keep], g.edges[1:][keep], mean_pred[keep], observed[keep], w[keep]
    )


def roc_curve(h: Hist) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates, thresholds from high to low (starts at (0, 0))."""
    tp = np.concatenate([[0.0], np.cumsum(h.pos[::-1])])
    fp = np.concatenate([[0.0], np.cumsum(h.neg[::-1])])
    keep = np.concatenate([[True], (h.pos[::-1] + h.neg[::-1]) > 0])
    tp, fp = tp[keep], fp[keep]
    return fp / max(fp[-1], np.finfo(float).tiny), tp / max(tp[-1], np.finfo(float).tiny)


def pr_curve(h: Hist) -> tuple[np.ndarray, np.ndarray]:
    """Recall and precision, thresholds from high to low (each non-empty bin is one point)."""
    tp = np.cumsum(h.pos[::-1])
    fp = np.cumsum(h.neg[::-1])
    keep = (h.pos[::-1] + h.neg[::-1]) > 0
    tp, fp = tp[keep], fp[keep]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 1.0)
    recall = tp / max(tp[-1], np.finfo(float).tiny) if len(tp) else tp
    return recall, precision


def histogram(h: Hist, n: int = 50) -> Hist:
    """The fine histogram merged into ``n`` uniform bins in p."""
    return regroup(h, uniform_groups(h, n))
