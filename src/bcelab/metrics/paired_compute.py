r"""Every compared metric from a paired state: the point values and the replicate values.

With :math:`W = \sum w`, :math:`\bar y = \sum w y / W` (weighted sums; a replicate
multiplies every row's weight by its Poisson weight):

* ``log_loss`` :math:`= \sum w\,\mathrm{BCE} / W`; ``ne`` = log loss / :math:`H(\bar y)`;
  ``brier`` :math:`= \sum w (p - y)^2 / W`; ``calibration`` :math:`= \sum w p / \sum w y`;
* ``ece``: uniform 15-bin expected calibration error (every :math:`k/15` is a bin edge
  in both layouts, so it is exact in every replicate);
* ``roc_auc``, ``pr_auc``: as :mod:`bcelab.metrics.ranking` (ties within a bin);
* ``uncertainty``, ``discrimination``, ``miscalibration`` of the log loss:
  :func:`bcelab.metrics.decomposition.log_loss_terms` on the model's histogram (the
  isotonic fit on its bins: :func:`~bcelab.metrics.decomposition.decompose_binned`'s
  log-loss terms, as in :func:`bcelab.evaluate`'s decomposition, without the bound).

Point values use the fine histogram and the exact sums (the numbers
:func:`bcelab.evaluate` reports for each model, to rounding); replicate values use the
coarse histogram.  Column ``R`` of the replicate arrays is the reference (every weight
1), so ``point - reference`` is the binning difference, which the intervals remove.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._core import formulas
from ..kernels.bootstrap_reference import MOMENT_PAIRS
from .calibration import ece_uniform
from .decomposition import log_loss_terms
from .intervals import delta_se
from .paired_layout import (
    KEYED_BY_ID,
    Q_PT,
    coarse_layout,
    limbs_to_float,
    limbs_to_int,
    split_to_float,
)
from .ranking import pr_auc, roc_auc

__all__ = [
    "METRICS",
    "delta_ses",
    "point_metrics",
    "point_weight",
    "replicate_metrics",
    "resampling_units",
]

METRICS = (
    "log_loss",
    "ne",
    "brier",
    "calibration",
    "ece",
    "roc_auc",
    "pr_auc",
    "uncertainty",
    "discrimination",
    "miscalibration",
)
_ECE_BINS = 15


def entropy(q: Any) -> np.ndarray:
    """Binary entropy in nats (``0 log 0 = 0``) of a base rate or an array of them."""
    return np.asarray(formulas.entropy(np, np.asarray(q, dtype=np.float64)))


def _div(a: Any, b: Any) -> Any:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b != 0, a / np.where(b != 0, b, 1.0), np.nan)


def _point_sums(a: dict[str, np.ndarray]) -> np.ndarray:
    return np.array([math.ldexp(float(v), -Q_PT) for v in limbs_to_int(a["pt_sums"])])


def _point_products(a: dict[str, np.ndarray]) -> list[float]:
    """The exact sums of the products of :data:`MOMENT_PAIRS`, in that order."""
    return [math.ldexp(float(v), -Q_PT) for v in limbs_to_int(a["pt_mom"])]


def point_weight(a: dict[str, np.ndarray]) -> float:
    """The total weight of the point estimate (every bootstrap weight 1)."""
    return float(_point_sums(a)[0])


_DECOMPOSITION = ("uncertainty", "discrimination", "miscalibration")


def _decompose(pos: np.ndarray, neg: np.ndarray, ll: float) -> tuple[float, float, float]:
    """(uncertainty, discrimination, miscalibration) of the log loss ``ll`` (NaN if empty)."""
    if not math.isfinite(ll) or not float(pos.sum() + neg.sum()) > 0:
        return math.nan, math.nan, math.nan
    return log_loss_terms(pos, neg, ll)


def _binned(want: tuple[str, ...], pos: np.ndarray, neg: np.ndarray, ll: float) -> dict[str, float]:
    """ROC-AUC, PR-AUC and the decomposition of one histogram (those in ``want``)."""
    out: dict[str, float] = {}
    if "roc_auc" in want:
        out["roc_auc"] = roc_auc(pos, neg)[0]
    if "pr_auc" in want:
        out["pr_auc"] = pr_auc(pos, neg)[0]
    if set(want) & set(_DECOMPOSITION):
        out.update(zip(_DECOMPOSITION, _decompose(pos, neg, ll), strict=True))
    return out


def point_metrics(
    a: dict[str, np.ndarray], want: tuple[str, ...] = METRICS
) -> dict[str, np.ndarray]:
    """``{metric: [A, B]}`` from the point-estimate arrays (fine histogram, exact sums)."""
    s = _point_sums(a)
    w, wy = s[0], s[1]
    h = limbs_to_float(a["pt_hist"])
    h_base = float(entropy(min(max(wy / w, 0.0), 1.0)))
    out: dict[str, list[float]] = {m: [] for m in want}
    for m in range(2):
        pos, neg, wp = h[m, :, 0], h[m, :, 1], h[m, :, 2]
        ll = s[5 + m] / w
        vals = {
            "log_loss": ll,
            "ne": _div(ll, h_base),
            "brier": s[7 + m] / w,
            "calibration": _div(s[3 + m], wy),
        }
        if "ece" in want:
            vals["ece"] = ece_uniform(pos, neg, wp, _ECE_BINS)[0]
        vals.update(_binned(want, pos, neg, ll))
        for k in want:
            out[k].append(float(vals[k]))
    return {k: np.asarray(v) for k, v in out.items()}


def _roc_auc_columns(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """ROC-AUC of every column (bins on axis 0), as :func:`bcelab.metrics.ranking.roc_auc`."""
    p_tot, n_tot = pos.sum(axis=0), neg.sum(axis=0)
    ps, ns = _div(pos, p_tot), _div(neg, n_tot)  # shares: P * N may leave float64's range
    above = np.cumsum(ps[::-1], axis=0)[::-1] - ps
    auc = np.sum(ns * (above + 0.5 * ps), axis=0)
    return np.clip(auc, 0.0, 1.0)


def _ece_columns(pos: np.ndarray, wp: np.ndarray, w: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """Uniform 15-bin ECE of every column; row ``i`` of ``pos``/``wp`` is coarse bin ``bins[i]``.

    Coarse bins go to the uniform bin of their lower edge (every k/15 is a coarse edge).
    """
    edges = coarse_layout().edges
    assign = np.searchsorted(np.arange(1, _ECE_BINS) / _ECE_BINS, edges[bins], side="right")
    starts = np.flatnonzero(np.concatenate(([True], assign[1:] != assign[:-1])))
    gap = np.abs(np.add.reduceat(wp, starts, axis=0) - np.add.reduceat(pos, starts, axis=0))
    return np.asarray(_div(gap.sum(axis=0), w))


def _used_bins(a: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Per model, the coarse bins that hold rows."""
    return [np.flatnonzero(a["rep_bin_rows"][m]) for m in range(2)]


def _replicate_totals(a: dict[str, np.ndarray], used: list[np.ndarray]) -> np.ndarray:
    """``(2, 3, R + 1)``: per model, the exact totals of ``w y``, ``w (1 - y)`` and ``w p``."""
    lo, hi = a["rep_hist_lo"], a["rep_hist_hi"]
    return np.stack(
        [split_to_float(lo[m, used[m]].sum(axis=0), hi[m, used[m]].sum(axis=0)) for m in range(2)]
    )


def resampling_units(a: dict[str, np.ndarray]) -> tuple[float, bool]:
    r"""How many independent units the bootstrap resamples, and whether there is only one.

    Rows keyed by their position are each a unit: the first value is then Kish's
    effective number of rows, :math:`W^2 / \sum w^2`, from the exact point sums (the
    number of rows when every weight is 1).  Rows keyed by an id column may share ids,
    and are counted from the replicates.  Rows that share a key share their Poisson(1)
    count, so replicate r's total
    weight :math:`W_r = \sum_k c_{rk} W_k` over the units k has mean :math:`W` and
    variance :math:`\sum_k W_k^2`.  The estimate is :math:`W^2 / \overline{(W_r - W)^2}`:
    the number of units when they weigh the same (Kish's effective number otherwise),
    with a relative error of about :math:`\sqrt{2 / R}`.  The second value is exact:
    every :math:`W_r` is a whole multiple of :math:`W` only when one unit holds all the
    weight (two units with the same count in every one of R replicates aside, a chance
    of about :math:`0.3^R`).  ``(nan, False)`` for a state without weight.
    """
    tot = _replicate_totals(a, _used_bins(a))
    w = tot[0, 0] + tot[0, 1]
    ref, reps = float(w[-1]), w[:-1]
    if not ref > 0:
        return math.nan, False
    ratio = reps / ref
    single = bool(np.all(np.abs(ratio - np.round(ratio)) <= 1e-9))
    if int(a["meta"][2]) != KEYED_BY_ID:  # each row its own key: Kish's number, exactly
        total = _point_sums(a)[0]
        squares = _point_products(a)[MOMENT_PAIRS.index((0, 0))]
        return (total * (total / squares) if squares > 0 else math.nan), single
    spread = float(np.mean(np.square(ratio - 1.0)))
    return (1.0 / spread if spread > 0 else math.inf), single


def replicate_metrics(
    a: dict[str, np.ndarray], want: tuple[str, ...] = METRICS
) -> dict[str, np.ndarray]:
    """``{metric: array of shape (2, R + 1)}`` (model, replicate column; the last is the reference)."""
    lo, hi = a["rep_hist_lo"], a["rep_hist_hi"]
    used = _used_bins(a)
    tot = _replicate_totals(a, used)
    sums = split_to_float(a["rep_sums_lo"], a["rep_sums_hi"])  # bce A, bce B, sq A, sq B
    w = tot[0, 0] + tot[0, 1]
    wy = tot[0, 0]
    h_base = entropy(np.clip(_div(wy, w), 0.0, 1.0))
    binned = bool({"ece", "roc_auc", "pr_auc", *_DECOMPOSITION} & set(want))
    per_col = tuple(k for k in want if k == "pr_auc" or k in _DECOMPOSITION)
    out: dict[str, list[np.ndarray]] = {m: [] for m in want}
    for m in range(2):
        ll = _div(sums[m], w)
        vals: dict[str, Any] = {
            "log_loss": ll,
            "ne": _div(ll, h_base),
            "brier": _div(sums[2 + m], w),
            "calibration": _div(tot[m, 2], wy),
        }
        if binned:
            hist = split_to_float(lo[m, used[m]], hi[m, used[m]])  # (used bins, 3, R + 1)
            pos, neg, wp = hist[:, 0], hist[:, 1], hist[:, 2]
            vals["roc_auc"] = _roc_auc_columns(pos, neg)
            if "ece" in want:
                vals["ece"] = _ece_columns(pos, wp, w, used[m])
            cols = [
                _binned(per_col, pos[:, c], neg[:, c], float(ll[c])) for c in range(pos.shape[1])
            ]
            vals.update({k: [col[k] for col in cols] for k in per_col})
        for k in want:
            out[k].append(np.asarray(vals[k], dtype=np.float64))
    return {k: np.stack(v) for k, v in out.items()}


def delta_ses(a: dict[str, np.ndarray], n_rows: int) -> dict[str, np.ndarray]:
    """Delta-method standard errors ``[A, B, B - A]`` of log loss, NE and calibration.

    Totals ``S = (w, wy, wp_a, wp_b, wbce_a, wbce_b)`` over ``n_rows`` i.i.d. rows with
    scatter matrix ``M - S S' / n`` from the exact products ``M`` of the point estimate.
    NaN for a state keyed by an id column: rows that share an id are not independent,
    and the state keeps no sums per id to take the clusters into account.
    """
    s = _point_sums(a)[[0, 1, 3, 4, 5, 6]]
    cols = (0, 1, 3, 4, 5, 6)
    prods = _point_products(a)
    m = np.zeros((6, 6))
    for (i, j), v in zip(MOMENT_PAIRS, prods, strict=True):
        m[cols.index(i), cols.index(j)] = m[cols.index(j), cols.index(i)] = v
    nan3 = np.full(3, np.nan)
    if n_rows < 2 or s[0] <= 0 or int(a["meta"][2]) == KEYED_BY_ID:
        return {"log_loss": nan3, "ne": nan3, "calibration": nan3}
    outer = np.outer(s, s) / n_rows
    scatter = m - outer
    size = np.abs(m) + np.abs(outer)  # the scatter's terms: its rounding is relative to these
    w, wy = s[0], s[1]
    ybar = wy / w
    h = float(entropy(ybar))
    # NE needs both classes (H(ybar) > 0) and calibration a positive label weight: where
    # they are undefined their errors are NaN, like the metrics themselves
    dh = math.log((1 - ybar) / ybar) if h > 0 else math.nan
    grads: dict[str, list[np.ndarray]] = {"log_loss": [], "ne": [], "calibration": []}
    for mdl in range(2):
        ll = s[4 + mdl] / w
        g = np.zeros(6)
        g[0], g[4 + mdl] = -ll / w, 1.0 / w
        grads["log_loss"].append(g)
        if h > 0:
            g = np.zeros(6)
            g[4 + mdl] = 1.0 / (w * h)
            g[1] = -ll * dh / (h * h * w)
            g[0] = (-ll / h + ll * dh * ybar / (h * h)) / w
            grads["ne"].append(g)
        if wy > 0:
            g = np.zeros(6)
            g[2 + mdl], g[1] = 1.0 / wy, -s[2 + mdl] / (wy * wy)
            grads["calibration"].append(g)
    out = dict.fromkeys(grads, nan3)
    for k, pair in grads.items():
        if pair:
            ga, gb = pair
            out[k] = np.array([delta_se(g, scatter, size) for g in (ga, gb, gb - ga)])
    return out
