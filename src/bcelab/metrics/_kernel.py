r"""The fused single-pass ``update`` kernel (numba), one pass over the rows on every core.

Per row it evaluates, in float64, the loss with the formulas of :mod:`bcelab._math`
transcribed to scalars (``softplus`` with its two branches, the guarded ``-log p`` and
``-log1p(-p)`` terms, ``cross_entropy`` and ``entropy``; the test suite checks every
row against :func:`bcelab.bce` / :func:`bcelab.bce_with_logits`), bins the prediction
(:mod:`bcelab.metrics.histogram`, same exact arithmetic as the NumPy twin) and adds
everything to per-thread partial states.

Summation stays exact at scale: each thread adds 1024 rows into plain float64 block
sums, then adds the block sum into a Neumaier-compensated (hi, lo) pair.  The error
is about :math:`32\,\epsilon` relative per block plus :math:`O(\epsilon)` overall,
whatever the number of rows (a plain running sum of 1e9 positive terms drifts by
~1e-12 to 1e-8 relative).

Import this module only when numba is installed; :mod:`bcelab.metrics.stats` falls
back to the NumPy reference path (:mod:`bcelab.metrics._reference`) otherwise.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from .histogram import NOCT, SIDE, K

__all__ = ["accumulate", "row_values", "scan"]

_JIT: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy"}

N_SUMS = 7
BLOCK = 1024
N_SCAN = (
    8  # nan_pred, invalid_target, excluded, clipped, bad_prob, first_bad_prob, bad_w, first_bad_w
)


@intrinsic
def _f64_bits(typingctx: Any, x: Any) -> Any:
    """Reinterpret a float64 as an int64 (an LLVM bitcast)."""
    if not isinstance(x, types.Float) or x.bitwidth != 64:
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@njit(inline="always", **_JIT)
def _log1p(v: float) -> float:
    """``log1p(v)`` for v > -1 as ``log(w) * v / (w - 1)``, ``w = fl(1 + v)`` (Kahan's trick).

    The factor ``v / (w - 1)`` puts back the rounding error of ``1 + v``; the result is
    within a few ulp of ``log1p`` (tested) and costs one ``log`` instead of libm's slower
    ``log1p``.  ``w == 1`` means ``|v| < 2**-53`` and ``log1p(v) = v`` to the last bit.
    """
    w = 1.0 + v
    if w == 1.0:
        return v
    if w == np.inf:
        return w
    return math.log(w) * (v / (w - 1.0))


@njit(inline="always", **_JIT)
def _sigmoid_e(x: float, e: float) -> float:
    """``sigmoid(x)`` given ``e = exp(-|x|)`` (as :func:`bcelab._math.sigmoid`)."""
    if x >= 0:
        return 1.0 / (1.0 + e)
    return e / (1.0 + e)


@njit(inline="always", **_JIT)
def _ce_probs(p: float, y: float) -> float:
    """``cross_entropy(y, *neglog_terms_probs(p, y))``.

    For a hard label only the term whose coefficient is not 0 is evaluated (the other
    is an exact 0 in the generic formula), and without a branch on the label:
    ``-log p`` for y = 1 and ``-log1p(-p) = -log(w) (-p) / (w - 1)``, ``w = 1 - p``, for
    y = 0 share one ``log``.
    """
    if (y == 0) | (y == 1):  # no short-circuit: a branch on y == 0 alone is unpredictable
        # every operand is computed unconditionally so that LLVM emits selects, not
        # branches (the label is unpredictable); w - 1 == 0 only when log(w) is unused
        one = y == 1
        w = 1.0 - p
        r = (-p) / (w - 1.0)
        lg = math.log(p if one else w)
        v = -lg * (1.0 if one else r)
        return p if (not one and w == 1.0) else v
    return y * -math.log(p) + (1.0 - y) * -_log1p(-p)


@njit(inline="always", **_JIT)
def _ce_logits(x: float, y: float, lg: float) -> float:
    """``cross_entropy(y, *neglog_terms_logits(x, y))`` given ``lg = log1p(exp(-|x|))``.

    ``softplus(t) = max(t, 0) + log1p(exp(-|t|))`` (the two branches of
    :func:`bcelab._math.softplus` in one line), and ``softplus(x)`` and ``softplus(-x)``
    share the log1p term.
    """
    if y == 1:
        return max(-x, 0.0) + lg
    if y == 0:
        return max(x, 0.0) + lg
    return y * (max(-x, 0.0) + lg) + (1.0 - y) * (max(x, 0.0) + lg)


_LOW44 = (1 << 44) - 1
_OFF = ((1022 - NOCT) << 8) if K == 256 else -1  # (biased exponent - 982) * 256 = o * K


@njit(inline="always", **_JIT)
def _base_bin(p: float) -> int:
    """:func:`bcelab.metrics.histogram.base_index` from the bits of ``q = min(p, 1 - p)``.

    With K = 256 the key ``bits >> 44`` is (biased exponent) * 256 + (top 8 mantissa
    bits); for p >= 1/2 a q exactly on an edge borrows into the bin below (key - 1).
    Written with selects only: the side of 1/2 is unpredictable in real data.
    """
    upper = p >= 0.5
    qb: int = _f64_bits(min(p, 1.0 - p))  # type: ignore[call-arg]
    key = (qb >> 44) - _OFF
    key -= 1 if (upper and (qb & _LOW44) == 0) else 0
    lo_idx = 0 if key < 0 else 1 + key
    hi_idx = 2 * SIDE - 1 if key < 0 else SIDE + (NOCT * K - 1 - key)
    return hi_idx if upper else lo_idx


@njit(inline="always", **_JIT)
def _two_add(hi: np.ndarray, lo: np.ndarray, j: int, v: float) -> None:
    """Neumaier: hi[j] + lo[j] += v, with the rounding error of the add kept in lo[j]."""
    s = hi[j]
    t = s + v
    if math.isfinite(t):
        if abs(s) >= abs(v):
            lo[j] += (s - t) + v
        else:
            lo[j] += (v - t) + s
    hi[j] = t


@njit(**_JIT)
def _scan_range(
    y: Any,
    p: Any,
    w: Any,
    has_w: bool,
    logits: bool,
    eps: float,
    start: int,
    stop: int,
    out: np.ndarray,
) -> None:
    lo_c = eps
    hi_c = 1.0 - eps
    for i in range(start, stop):
        yi = y[i]
        pi = p[i]
        bad_y = not (yi >= 0 and yi <= 1)
        nan_p = pi != pi
        if nan_p:
            out[0] += 1
        if bad_y:
            out[1] += 1
        if nan_p or bad_y:
            out[2] += 1
        elif not logits:
            if not (pi >= 0 and pi <= 1):
                out[4] += 1
                if out[5] < 0:
                    out[5] = i
            elif eps > 0 and (pi < lo_c or pi > hi_c):
                out[3] += 1
        if has_w:
            wi = w[i]
            if not (wi >= 0 and wi < np.inf):
                out[6] += 1
                if out[7] < 0:
                    out[7] = i


def scan(
    y: np.ndarray,
    p: np.ndarray,
    w: np.ndarray | None,
    *,
    logits: bool,
    eps: float,
    n_threads: int = 0,
) -> np.ndarray:
    """Counts ``[nan_pred, invalid_target, excluded, clipped, bad_prob, first_bad_prob,
    bad_weight, first_bad_weight]`` (first_* = -1 when none)."""
    has_w = w is not None
    ww = w if w is not None else _EMPTY
    n = y.shape[0]
    nt = _threads(n, n_threads)
    parts = np.zeros((nt, N_SCAN), dtype=np.int64)
    parts[:, 5] = parts[:, 7] = -1
    _run(
        nt,
        lambda t: _scan_range(
            y, p, ww, has_w, logits, eps, t * n // nt, (t + 1) * n // nt, parts[t]
        ),
    )
    out = parts.sum(axis=0)
    for col in (5, 7):
        found = parts[:, col][parts[:, col] >= 0]
        out[col] = found.min() if found.size else -1
    return out


@njit(**_JIT)
def _accum_range(
    y: Any,
    p: Any,
    w: Any,
    has_w: bool,
    logits: bool,
    eps: float,
    cut_val: np.ndarray,
    cut_off: np.ndarray,
    start: int,
    stop: int,
    hist: np.ndarray,
    hist_n: np.ndarray,
    hi: np.ndarray,
    lo: np.ndarray,
    mm: np.ndarray,
) -> None:
    blk = np.zeros(N_SUMS, dtype=np.float64)
    pmin = mm[0]
    pmax = mm[1]
    b0 = start
    while b0 < stop:
        b1 = min(b0 + BLOCK, stop)
        blk[:] = 0.0
        for i in range(b0, b1):
            yi = np.float64(y[i])
            zi = np.float64(p[i])
            if not (yi >= 0 and yi <= 1) or zi != zi:
                continue
            if logits:
                e = math.exp(-abs(zi))
                prob = _sigmoid_e(zi, e)
                loss = _ce_logits(zi, yi, _log1p(e))
            else:
                prob = zi
                if eps > 0:
                    prob = min(max(prob, eps), 1.0 - eps)
                loss = _ce_probs(prob, yi)
            pmin = min(pmin, prob)
            pmax = max(pmax, prob)
            bb = _base_bin(prob)
            fb = bb + cut_off[bb] + (1 if prob >= cut_val[bb] else 0)
            hist_n[fb] += 1
            wi = np.float64(w[i]) if has_w else 1.0
            if wi == 0:
                continue  # contributes exactly 0 (and 0 * inf must not become NaN)
            hy = 0.0 if (yi == 0) | (yi == 1) else _ce_probs(yi, yi)
            d = prob - yi
            wy = wi * yi
            wp = wi * prob
            hist[fb, 0] += wy
            hist[fb, 1] += wi * (1.0 - yi)
            hist[fb, 2] += wp
            blk[0] += wi
            blk[1] += wi * wi
            blk[2] += wy
            blk[3] += wp
            blk[4] += wi * loss
            blk[5] += wi * hy
            blk[6] += wi * (d * d)
        for j in range(N_SUMS):
            _two_add(hi, lo, j, blk[j])
        b0 = b1
    mm[0] = pmin
    mm[1] = pmax


@njit(**_JIT)
def _into(
    hist: np.ndarray,
    hist_n: np.ndarray,
    hi: np.ndarray,
    lo: np.ndarray,
    mm: np.ndarray,
    t_hist: np.ndarray,
    t_hist_n: np.ndarray,
    t_hi: np.ndarray,
    t_lo: np.ndarray,
    t_mm: np.ndarray,
) -> None:
    """Add the per-thread partial states (leading axis) into the state arrays, in place."""
    for t in range(t_hist.shape[0]):
        for b in range(t_hist.shape[1]):
            hist_n[b] += t_hist_n[t, b]
            for c in range(3):
                hist[b, c] += t_hist[t, b, c]
        for j in range(hi.shape[0]):
            _two_add(hi, lo, j, t_hi[t, j])
            lo[j] += t_lo[t, j]
        mm[0] = min(mm[0], t_mm[t, 0])
        mm[1] = max(mm[1], t_mm[t, 1])


_SERIAL_BELOW = 1 << 16
_EMPTY = np.empty(0, dtype=np.float64)
_POOL: ThreadPoolExecutor | None = None


def _threads(n: int, n_threads: int) -> int:
    """Threads for n rows: 1 below 65536 rows, else up to ``n_threads`` (0 = all cores)."""
    if n < _SERIAL_BELOW:
        return 1
    cap = n_threads if n_threads > 0 else (os.cpu_count() or 1)
    return max(1, min(cap, n // (_SERIAL_BELOW // 2)))


def _run(nt: int, fn: Any) -> None:
    """Run ``fn(0) ... fn(nt - 1)``; the kernels release the GIL, so threads run in parallel."""
    global _POOL
    if nt == 1:
        fn(0)
        return
    if _POOL is None or _POOL._max_workers < nt:
        _POOL = ThreadPoolExecutor(
            max_workers=max(nt, os.cpu_count() or 1), thread_name_prefix="bcelab-metrics"
        )
    for f in [_POOL.submit(fn, t) for t in range(nt)]:
        f.result()


def accumulate(
    y: np.ndarray,
    p: np.ndarray,
    w: np.ndarray | None,
    *,
    logits: bool,
    eps: float,
    cut_val: np.ndarray,
    cut_off: np.ndarray,
    hist: np.ndarray,
    hist_n: np.ndarray,
    hi: np.ndarray,
    lo: np.ndarray,
    mm: np.ndarray,
    n_threads: int = 0,
) -> None:
    """Add the rows to the state arrays in place (rows already validated by :func:`scan`)."""
    has_w = w is not None
    ww = w if w is not None else _EMPTY
    n = y.shape[0]
    nt = _threads(n, n_threads)
    if nt == 1:
        _accum_range(y, p, ww, has_w, logits, eps, cut_val, cut_off, 0, n, hist, hist_n, hi, lo, mm)
        return
    t_hist = np.zeros((nt, *hist.shape))
    t_hist_n = np.zeros((nt, *hist_n.shape), dtype=np.int64)
    t_hi = np.zeros((nt, hi.shape[0]))
    t_lo = np.zeros((nt, hi.shape[0]))
    t_mm = np.empty((nt, 2))
    t_mm[:, 0], t_mm[:, 1] = np.inf, -np.inf
    _run(
        nt,
        lambda t: _accum_range(
            y,
            p,
            ww,
            has_w,
            logits,
            eps,
            cut_val,
            cut_off,
            t * n // nt,
            (t + 1) * n // nt,
            t_hist[t],
            t_hist_n[t],
            t_hi[t],
            t_lo[t],
            t_mm[t],
        ),
    )
    _into(hist, hist_n, hi, lo, mm, t_hist, t_hist_n, t_hi, t_lo, t_mm)


@njit(**_JIT)
def _row_values(y: Any, p: Any, logits: bool, out: np.ndarray) -> None:
    for i in range(y.shape[0]):
        yi = np.float64(y[i])
        zi = np.float64(p[i])
        if logits:
            e = math.exp(-abs(zi))
            out[i, 0] = _ce_logits(zi, yi, _log1p(e))
            out[i, 1] = _sigmoid_e(zi, e)
        else:
            out[i, 0] = _ce_probs(zi, yi)
            out[i, 1] = zi
        out[i, 2] = 0.0 if (yi == 0) | (yi == 1) else _ce_probs(yi, yi)
        out[i, 3] = _base_bin(out[i, 1])


def row_values(y: np.ndarray, p: np.ndarray, *, logits: bool) -> np.ndarray:
    """Per-row ``[loss, probability, H(y), base bin]`` as the kernel sees them (for tests)."""
    out = np.empty((y.shape[0], 4), dtype=np.float64)
    _row_values(y, p, logits, out)
    return out
