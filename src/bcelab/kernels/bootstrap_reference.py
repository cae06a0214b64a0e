"""The NumPy twin of :mod:`bcelab.kernels.bootstrap`: the same state, bit for bit, slower.

Used when numba is not installed (``bcelab[fast]``) and, in the tests, to check the
kernel.  Per-row values use :mod:`bcelab.kernels.fastmath_numpy` (the kernel's
``exp``/``log`` operation for operation) and :func:`bcelab.metrics.histogram.fine_index`
(the kernel's bins); every sum is an integer sum, so grouping the additions
differently (``np.add.reduceat`` over rows sorted by bin, integer matrix products)
gives the same integers as the kernel.
"""

from __future__ import annotations

import math

import numpy as np

from . import fastmath_numpy as fm
from .bootstrap_rng import weights

__all__ = [
    "MOMENT_PAIRS",
    "N_VALUES",
    "VALUE_NAMES",
    "point_add",
    "prob_loss",
    "replicate_add",
    "row_values",
    "split",
    "to_limbs",
]

#: the per-row weighted values, in the column order of ``vals``
VALUE_NAMES = ("w", "wy", "wn", "wp_a", "wp_b", "wbce_a", "wbce_b", "wsq_a", "wsq_b")
N_VALUES = len(VALUE_NAMES)
#: the values whose pairwise products the point estimate keeps (for the delta method)
MOMENT_COLS = (0, 1, 3, 4, 5, 6)
MOMENT_PAIRS = tuple((a, b) for i, a in enumerate(MOMENT_COLS) for b in MOMENT_COLS[i:])
_LOG2 = math.log(2.0)


def prob_loss(
    y: np.ndarray, z: np.ndarray, *, logits: bool, lo_c: float, hi_c: float
) -> tuple[np.ndarray, np.ndarray]:
    """(probability, BCE) per row, as the kernel's ``_prob_loss`` computes them."""
    y0 = y == 0.0
    y1 = y == 1.0
    with np.errstate(all="ignore"):
        if logits:
            e = fm.exp_nonpos(-np.abs(z))
            lg = fm.log1p_unit(e)
            a = np.where(y0, _LOG2, np.maximum(-z, 0.0) + lg)
            b = np.where(y1, _LOG2, np.maximum(z, 0.0) + lg)
            prob = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        else:
            prob = np.minimum(np.maximum(z, lo_c), hi_c)
            a = -fm.log_pos(np.where(y0, 1.0, prob))
            b = -fm.log1p_any(-np.where(y1, 0.0, prob))
        return prob, y * a + (1.0 - y) * b


def row_values(
    y: np.ndarray,
    pa: np.ndarray,
    pb: np.ndarray,
    w: np.ndarray | None,
    *,
    logits: bool,
    lo_c: float,
    hi_c: float,
    fine_index: object,
    of_fine: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(vals, bins, valid)`` as :func:`bcelab.kernels.bootstrap.row_values` computes them."""
    y = y.astype(np.float64)
    za, zb = pa.astype(np.float64), pb.astype(np.float64)
    wt = np.ones_like(y) if w is None else w.astype(np.float64)
    with np.errstate(invalid="ignore"):
        valid = (y >= 0) & (y <= 1) & ~np.isnan(za) & ~np.isnan(zb) & (wt > 0)
    n = y.shape[0]
    vals = np.zeros((n, 9))
    bins = np.zeros((n, 4), dtype=np.int64)
    yv, wv = y[valid], wt[valid]
    cols = [wv, wv * yv, wv * (1.0 - yv)]
    probs, losses = [], []
    for z in (za[valid], zb[valid]):
        prob, loss = prob_loss(yv, z, logits=logits, lo_c=lo_c, hi_c=hi_c)
        probs.append(prob)
        losses.append(loss)
    cols += [wv * probs[0], wv * probs[1], wv * losses[0], wv * losses[1]]
    cols += [wv * ((pr - yv) * (pr - yv)) for pr in probs]
    vals[valid] = np.stack(cols, axis=1)
    for m in range(2):
        fb = fine_index(probs[m])  # type: ignore[operator]
        bins[valid, m] = fb
        bins[valid, 2 + m] = of_fine[fb]
    return vals, bins, valid.astype(np.uint8)


def to_limbs(x: np.ndarray, n: int, top_unit: float) -> np.ndarray:
    """``round(x * 2**64)`` in ``n`` 32-bit limbs (last axis), as the kernels' limb splits."""
    out = np.empty((*x.shape, n), dtype=np.int64)
    t = x / top_unit
    for k in range(n - 1, 0, -1):
        lk = np.floor(t)
        out[..., k] = lk.astype(np.int64)
        t = (t - lk) * 4294967296.0
    out[..., 0] = np.floor(t + 0.5).astype(np.int64)
    return out


def point_add(
    vals: np.ndarray,
    bins: np.ndarray,
    valid: np.ndarray,
    hist: np.ndarray,
    bin_rows: np.ndarray,
    sums: np.ndarray,
    moments: np.ndarray,
    ma: np.ndarray,
    mb: np.ndarray,
) -> None:
    """:func:`bcelab.kernels.bootstrap.point_add` with ``np.add.at`` (integer sums)."""
    v = vals[valid.astype(bool)]
    b = bins[valid.astype(bool)]
    nl = hist.shape[-1]
    for m in range(2):
        bin_rows[m] += np.bincount(b[:, m], minlength=bin_rows.shape[1])
        for q, col in enumerate((1, 2, 3 + m)):
            np.add.at(hist[m, :, q], b[:, m], to_limbs(v[:, col], nl, 1.0))
    sums += to_limbs(v, sums.shape[-1], 1.0).sum(axis=0)
    prod = v[:, ma] * v[:, mb]
    moments += to_limbs(prod, moments.shape[-1], 4294967296.0).sum(axis=0)


def split(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``X = round(x * 2**32)`` as (lo, hi) with hi = X >> 40, as the kernel computes them."""
    hi = np.floor(x * 0.00390625)
    lo = np.floor((x * 4294967296.0 - hi * 1099511627776.0) + 0.5)
    return lo.astype(np.int64), hi.astype(np.int64)


def replicate_add(
    vals: np.ndarray,
    bins: np.ndarray,
    valid: np.ndarray,
    kk: np.ndarray,
    hist_lo: np.ndarray,
    hist_hi: np.ndarray,
    sums_lo: np.ndarray,
    sums_hi: np.ndarray,
    bin_rows: np.ndarray,
    *,
    n_rep: int,
    slice_rows: int = 1024,
) -> None:
    """Add the valid rows to every replicate column (``n_rep`` draws and the reference)."""
    ok = np.flatnonzero(valid)
    for m in range(2):
        bin_rows[m] += np.bincount(bins[ok, 2 + m], minlength=bin_rows.shape[1])
    for s in range(0, ok.shape[0], slice_rows):
        rows = ok[s : s + slice_rows]
        c = weights(kk[rows], 0, n_rep + 1)
        c[:, n_rep] = 1
        lo, hi = split(vals[rows])
        for m in range(2):
            b = bins[rows, 2 + m]
            order = np.argsort(b, kind="stable")
            bs = b[order]
            starts = np.flatnonzero(np.concatenate(([True], bs[1:] != bs[:-1])))
            for q, col in enumerate((1, 2, 3 + m)):
                for part, dst in ((lo, hist_lo), (hi, hist_hi)):
                    contrib = c[order] * part[order, col][:, None]
                    dst[m, bs[starts], q] += np.add.reduceat(contrib, starts, axis=0)
        for k, col in enumerate((5, 6, 7, 8)):
            sums_lo[k] += lo[:, col] @ c
            sums_hi[k] += hi[:, col] @ c
