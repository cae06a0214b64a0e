"""The NumPy reference path of ``update``: the same state as the compiled kernel, vectorised.

The loss, the entropy floor and the sigmoid come straight from :mod:`bcelab._core.formulas`
(the one implementation of the formulas), evaluated in float64.  It processes the rows
in slices of 2**16 so that its temporaries stay small, and adds every slice's sums with
the same Neumaier compensation as the kernel.  It is used when numba is missing
(``bcelab[fast]`` not installed) and, in the tests, to check the kernel.
"""

from __future__ import annotations

import numpy as np

from .._core import formulas
from ..kernels.constants import SMALLEST_WEIGHT, ScanSlot
from ..kernels.stats_driver import ScanCounts
from .histogram import fine_index

__all__ = ["accumulate", "scan"]

_SLICE = 1 << 16


def scan(
    y: np.ndarray, p: np.ndarray, w: np.ndarray | None, *, logits: bool, eps: float
) -> ScanCounts:
    """Same counts as :func:`bcelab.kernels.stats_driver.scan`."""
    out = np.zeros(len(ScanSlot), dtype=np.int64)
    with np.errstate(invalid="ignore"):
        bad_y = ~((y >= 0) & (y <= 1))
        nan_p = np.isnan(p)
        excl = bad_y | nan_p
        out[ScanSlot.NAN_PRED] = np.count_nonzero(nan_p)
        out[ScanSlot.INVALID_TARGET] = np.count_nonzero(bad_y)
        out[ScanSlot.EXCLUDED] = np.count_nonzero(excl)
        out[ScanSlot.FIRST_BAD_PROB] = out[ScanSlot.FIRST_BAD_WEIGHT] = -1
        if not logits:
            bad_p = ~excl & ~((p >= 0) & (p <= 1))
            out[ScanSlot.BAD_PROB] = np.count_nonzero(bad_p)
            if out[ScanSlot.BAD_PROB]:
                out[ScanSlot.FIRST_BAD_PROB] = int(np.flatnonzero(bad_p)[0])
            if eps > 0:
                clipped = ~excl & ~bad_p & ((p < eps) | (p > 1.0 - eps))
                out[ScanSlot.CLIPPED] = np.count_nonzero(clipped)
        if w is not None:
            bad_w = ~((w >= 0) & (w < np.inf))
            out[ScanSlot.BAD_WEIGHT] = np.count_nonzero(bad_w)
            if out[ScanSlot.BAD_WEIGHT]:
                out[ScanSlot.FIRST_BAD_WEIGHT] = int(np.flatnonzero(bad_w)[0])
    return ScanCounts.from_array(out)


def _neumaier(hi: np.ndarray, lo: np.ndarray, v: np.ndarray) -> None:
    t = hi + v
    fin = np.isfinite(t)
    big = np.abs(hi) >= np.abs(v)
    err = np.where(big, (hi - t) + v, (v - t) + hi)
    lo += np.where(fin, err, 0.0)
    hi[:] = t


def accumulate(
    y: np.ndarray,
    p: np.ndarray,
    w: np.ndarray | None,
    *,
    logits: bool,
    eps: float,
    hist: np.ndarray,
    hist_n: np.ndarray,
    hi: np.ndarray,
    lo: np.ndarray,
    mm: np.ndarray,
) -> None:
    """Add the rows to the state arrays in place (rows already validated by :func:`scan`)."""
    with np.errstate(all="ignore"):
        for s in range(0, y.shape[0], _SLICE):
            _slice(
                y[s : s + _SLICE],
                p[s : s + _SLICE],
                None if w is None else w[s : s + _SLICE],
                logits=logits,
                eps=eps,
                hist=hist,
                hist_n=hist_n,
                hi=hi,
                lo=lo,
                mm=mm,
            )


def _slice(
    y: np.ndarray,
    z: np.ndarray,
    w: np.ndarray | None,
    *,
    logits: bool,
    eps: float,
    hist: np.ndarray,
    hist_n: np.ndarray,
    hi: np.ndarray,
    lo: np.ndarray,
    mm: np.ndarray,
) -> None:
    y = y.astype(np.float64)
    z = z.astype(np.float64)
    keep = (y >= 0) & (y <= 1) & ~np.isnan(z)
    y, z = y[keep], z[keep]
    if y.size == 0:
        return
    if logits:
        prob = formulas.sigmoid(np, z)
        a, b = formulas.neglog_terms_logits(np, z, y)
    else:
        prob = np.clip(z, eps, 1.0 - eps) if eps > 0 else z
        a, b = formulas.neglog_terms_probs(np, prob, y)
    loss = formulas.cross_entropy(y, a, b, None)
    h = formulas.entropy(np, y)
    mm[0] = min(mm[0], float(prob.min()))
    mm[1] = max(mm[1], float(prob.max()))
    fb = fine_index(prob)
    np.add.at(hist_n, fb, 1)
    wt = np.ones_like(y) if w is None else w.astype(np.float64)[keep]
    wt = np.where((wt > 0) & (wt < SMALLEST_WEIGHT), SMALLEST_WEIGHT, wt)  # a subnormal weight
    nz = wt != 0  # a zero weight contributes exactly 0 (0 * inf must not become NaN)
    y, prob, loss, h, wt, fb = y[nz], prob[nz], loss[nz], h[nz], wt[nz], fb[nz]
    n = hist.shape[0]
    hist[:, 0] += np.bincount(fb, weights=wt * y, minlength=n)
    hist[:, 1] += np.bincount(fb, weights=wt * (1.0 - y), minlength=n)
    hist[:, 2] += np.bincount(fb, weights=wt * prob, minlength=n)
    d = prob - y
    v = np.array(  # in StatsSum order
        [
            wt.sum(),
            (wt * wt).sum(),
            (wt * y).sum(),
            (wt * prob).sum(),
            (wt * loss).sum(),
            (wt * h).sum(),
            (wt * (d * d)).sum(),
        ]
    )
    _neumaier(hi, lo, v)
