r"""ROC-AUC and PR-AUC from the fine histogram, each with the error bound the bins imply.

Bins are visited from the highest predictions down; :math:`P = \sum_b P_b`,
:math:`N = \sum_b N_b` are the positive and negative weights (a soft label y counts
:math:`w y` and :math:`w (1 - y)`).

**ROC-AUC** counts a (positive, negative) pair in one bin as a tie (credit 1/2), exactly
as scikit-learn does for equal scores:

.. math::

    \mathrm{AUC} = \frac{1}{PN} \sum_b N_b \Bigl(\sum_{b' > b} P_{b'} + \tfrac12 P_b\Bigr),
    \qquad |\mathrm{AUC} - \mathrm{AUC}_{\text{exact}}| \le \frac{1}{2PN} \sum_b P_b N_b

since the exact order inside a bin can move each of its pairs' credit by at most 1/2.
A bin whose rows share one prediction (``single``: hard 0/1 predictions, scores rounded
to bin edges) has no order inside it: its pairs are ties in the exact count too, so it
adds nothing to the bound.  The state keeps sums, not rows, so predictions within a
few float64 ulps of a bin edge count as that edge (as in the decomposition's bound).

**PR-AUC** uses the interpolation of Davis & Goadrich (2006): between the operating
points :math:`A = (TP_A, FP_A)` before bin b and :math:`B = A + (P_b, N_b)` after it,
true and false positives grow together, so precision along the way is
:math:`\pi(t) = (a + P_b t) / (c + d t)`, :math:`t \in [0, 1]`, with :math:`a = TP_A`,
:math:`c = TP_A + FP_A`, :math:`d = P_b + N_b`, and the bin contributes

.. math::

    \frac{P_b}{P} \int_0^1 \pi(t)\,dt = \frac{P_b}{P}\Bigl[\frac{P_b}{d}(1 - g) +
    \frac{a}{c} g\Bigr], \qquad g = \frac{\log(1 + d/c)}{d/c}

(:math:`P_b^2 / (P d)` when :math:`c = 0`).  Whatever the order inside a bin, every
precision reached in it lies in :math:`[a / (c + N_b),\ (a + P_b) / (c + P_b)]`, and so
do the interpolated curve and scikit-learn's step-wise ``average_precision_score``
(with or without ties); the bound is :math:`\sum_b \frac{P_b}{P}` times that range.
A bin whose rows share one prediction is one operating point in any exact computation:
the interpolation above is then exact, and scikit-learn's step takes the precision at
B, :math:`(a + P_b) / (c + d)`, for the whole bin, so such a bin adds only the
difference between the two, :math:`\frac{P_b}{P}\,|\int_0^1 \pi(t)\,dt - \pi(1)|`.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["pr_auc", "roc_auc"]


def roc_auc(
    pos: np.ndarray, neg: np.ndarray, *, single: np.ndarray | None = None
) -> tuple[float, float]:
    """(ROC-AUC, bound); NaN when there are no positives or no negatives.

    ``single``: optional bool per bin, True where the bin holds one distinct prediction
    (:func:`bcelab.metrics.isotonic.single_score_bins`); such bins add nothing to the
    bound.  Without it every bin may hold several, which gives a valid but larger bound.
    """
    p_tot, n_tot = float(pos.sum()), float(neg.sum())
    if p_tot == 0 or n_tot == 0:
        return math.nan, math.nan
    # shares of each total first: P * N over- or underflows for weights beyond 1e154 or
    # below 1e-154, where every share still lies in [0, 1]
    ps, ns = pos / p_tot, neg / n_tot
    above = np.cumsum(ps[::-1])[::-1] - ps  # positive share in strictly higher bins
    auc = float(np.sum(ns * (above + 0.5 * ps)))
    ties = ps * ns if single is None else np.where(single, 0.0, ps * ns)
    bound = 0.5 * float(np.sum(ties))
    return min(max(auc, 0.0), 1.0), bound


def pr_auc(
    pos: np.ndarray, neg: np.ndarray, *, single: np.ndarray | None = None
) -> tuple[float, float]:
    """(PR-AUC with Davis-Goadrich interpolation, bound); NaN when there are no positives.

    ``single``: as for :func:`roc_auc`; a bin of one prediction adds to the bound only
    the difference between the interpolation and scikit-learn's step.
    """
    p_tot = float(pos.sum())
    if p_tot == 0:
        return math.nan, math.nan
    nz = (pos + neg) > 0
    pb = pos[nz][::-1]
    nb = neg[nz][::-1]
    one = np.zeros(pb.shape, bool) if single is None else np.asarray(single, bool)[nz][::-1]
    a = np.cumsum(pb) - pb  # TP before the bin
    c = a + (np.cumsum(nb) - nb)  # TP + FP before the bin
    d = pb + nb
    # d / c overflows where the weight before a bin is tiny next to the bin's (c below
    # d / 1.8e308, a subnormal c say): there g = log1p(u) / u is 0, its limit, as the
    # integral's first term P_b / d is the whole precision curve
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        u = d / c
        g = np.where(u > 1e-8, np.log1p(u) / u, 1.0 - u / 2.0)
        g = np.where(np.isinf(u), 0.0, g)
        integral = np.where(c > 0, (pb / d) * (1.0 - g) + (a / c) * g, pb / d)
        hi = (a + pb) / (c + pb)
        lo = np.where(c + nb > 0, a / (c + nb), 0.0)
        step = np.abs(integral - (a + pb) / (c + d))  # one operating point: its step
    contrib = np.where(pb > 0, pb * integral, 0.0)
    spread = np.where(pb > 0, pb * np.where(one, step, hi - lo), 0.0)
    return float(contrib.sum() / p_tot), float(spread.sum() / p_tot)
