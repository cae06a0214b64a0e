r"""The fused single-pass kernels (numba), one compiled variant per feature combination.

One pass over ``pred``, ``targets`` (and ``weights``) computes, per element, the
exact-convention loss of :mod:`bcelab._core.formulas`

.. math::

    \ell = w_+\, y\, a + (1 - y)\, b, \qquad
    a = \operatorname{softplus}(-x) \text{ or } -\log p, \quad
    b = \operatorname{softplus}(x) \text{ or } -\log(1 - p),

with the term whose coefficient is 0 dropped (the "double where" of the core), and
accumulates, per fixed-size chunk and in float64, the sums that every reduction needs:
:math:`\sum w \ell`, :math:`\sum w`, optionally :math:`\sum w H(y)` and
:math:`\sum w\,\mathrm{KL}(y \| p)`, and the number of invalid elements (NaN,
targets or probabilities outside [0, 1], negative/inf/NaN weights), so that the
caller can hand those inputs to the reference path, which raises the documented error.
Optionally it writes the per-element gradient (scaled by ``w / den``) or the
per-element loss into an output array of the input dtype.

The formulas are the core's, rearranged only where it is exact: ``softplus(x)`` and
``softplus(-x)`` share ``log1p(exp(-|x|))``, and ``sigmoid(±x)`` share
``exp(-|x|)``.  float32 inputs are computed in float64 with the vectorisable
:mod:`bcelab.kernels.fastmath` (its ``*_f32in`` functions, relative error < 2e-15);
float64 inputs use libm.

Per-element helpers are written for strict IEEE order; the kernel that inlines them is
compiled with ``fastmath={"contract"}`` only, which lets LLVM fuse ``a * b + c`` into one
FMA instruction (one rounding instead of two; the mpmath accuracy grid still passes; 7-23%
faster, see
BENCHMARKS.md) but never reorders operations.  Only the chunk loop that adds the
per-element values up is compiled with ``fastmath={"reassoc"}``, which lets LLVM keep several
partial sums in SIMD lanes (the order is fixed by the compiled code, so results are
deterministic).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

from .dispatch import SLOTS, WRITE_GRAD, WRITE_LOSS, WRITE_NONE
from .fastmath import exp_nonpos_f32in, log1p_any, log1p_unit_f32in, log_f32in, log_pos
from .logsum import hard_logits_block, hard_probs_block, logits_block, probs_block

__all__ = ["SLOTS", "WRITE_GRAD", "WRITE_LOSS", "WRITE_NONE", "get_kernel"]

_STRICT: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy", "inline": "always"}
BLOCK = 512  # elements per block: per-element values go to a small stack-like buffer
_INF = float("inf")
_TWO_M29 = 2.0**-29


# --- per-element pieces (strict IEEE, no fast-math) --------------------------------------------


@njit(**_STRICT)
def _pre_a(p: float, logits: bool, fast: bool) -> float:
    """Phase 1 of a block: ``exp(-|x|)`` (logits) or ``-log p`` (probabilities)."""
    if logits:
        return exp_nonpos_f32in(-abs(p)) if fast else math.exp(-abs(p))
    if fast:
        return -log_f32in(p)
    return -math.log(p) if p > 0.0 else _INF


@njit(**_STRICT)
def _pre_b(p: float, t: float, logits: bool, fast: bool) -> float:
    """Phase 2: ``log1p(exp(-|x|))`` from phase 1's ``t`` (logits) or ``-log1p(-p)``."""
    if logits:
        return log1p_unit_f32in(t) if fast else math.log1p(t)
    if fast:
        return p + 0.5 * p * p if p < _TWO_M29 else -log_f32in(1.0 - p)
    return -math.log1p(-p) if p < 1.0 else _INF


@njit(**_STRICT)
def _pre_hard(p: float, y: float) -> float:
    """The one term a hard target needs: ``-log p`` (y = 1) or ``-log1p(-p)`` (y = 0).

    One logarithm of the selected argument (``1 - p`` is exact in float64 for a float32
    ``p`` of at least 2^-29; below, the series of :func:`_pre_b`), so SIMD code does not
    evaluate both.  Only for float32 input (``fast``).
    """
    z = p if y == 1.0 else 1.0 - p
    t = -log_f32in(z)
    return p + 0.5 * p * p if (y != 1.0 and p < _TWO_M29) else t


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc"})
def _count_soft(tgt: Any, m: int) -> float:
    """How many of ``tgt[:m]`` are not exactly 0 or 1 (NaN included); exact, any order."""
    c = 0.0
    for j in range(m):
        v = tgt[j]
        c += 0.0 if (v == 0.0 or v == 1.0) else 1.0
    return c


@njit(**_STRICT)
def _combine(y: float, a: float, b: float, pw: float) -> float:
    pos = 0.0 if y == 0.0 else (pw * y) * a
    neg = 0.0 if y == 1.0 else (1.0 - y) * b
    return pos + neg


@njit(**_STRICT)
def _grad_logits(x: float, y: float, e: float, pw: float) -> float:
    """``(1 - y) sigmoid(x) - pw y sigmoid(-x)`` with ``e = exp(-|x|)``."""
    big = 1.0 / (1.0 + e)
    small = e / (1.0 + e)
    s_pos = big if x >= 0.0 else small
    s_neg = big if x <= 0.0 else small
    return (1.0 - y) * s_pos - (pw * y) * s_neg


@njit(**_STRICT)
def _grad_logits_fast(x: float, y: float, e: float, pw: float) -> float:
    """As :func:`_grad_logits` with one division (float32 results: 1 ulp of float64 is noise)."""
    big = 1.0 / (1.0 + e)
    small = e * big
    s_pos = big if x >= 0.0 else small
    s_neg = big if x <= 0.0 else small
    return (1.0 - y) * s_pos - (pw * y) * s_neg


@njit(**_STRICT)
def _grad_probs(p: float, y: float, pw: float) -> float:
    t1 = 0.0 if y == 0.0 else -(pw * y) / p
    t2 = 0.0 if y == 1.0 else (1.0 - y) / (1.0 - p)
    return t1 + t2


@njit(**_STRICT)
def _entropy_kl_fast(y: float, a: float, b: float) -> tuple[float, float]:
    """``(H(y), KL(y || p))`` from the cross-entropy terms; KL clamped at 0 like the core."""
    ly = log_pos(y)
    l1y = log1p_any(-y)
    h = (0.0 if y == 0.0 else -y * ly) + (0.0 if y == 1.0 else -(1.0 - y) * l1y)
    k = (0.0 if y == 0.0 else y * (ly + a)) + (0.0 if y == 1.0 else (1.0 - y) * (l1y + b))
    return h, (k if k > 0.0 else 0.0)


@njit(**_STRICT)
def _entropy_kl_libm(y: float, a: float, b: float) -> tuple[float, float]:
    ly = math.log(y) if y > 0.0 else 0.0
    l1y = math.log1p(-y) if y < 1.0 else 0.0
    h = (0.0 if y == 0.0 else -y * ly) + (0.0 if y == 1.0 else -(1.0 - y) * l1y)
    k = (0.0 if y == 0.0 else y * (ly + a)) + (0.0 if y == 1.0 else (1.0 - y) * (l1y + b))
    return h, (k if k > 0.0 else 0.0)


@njit(**_STRICT)
def _invalid(pred: float, y_raw: float, logits: bool) -> float:
    """1.0 for NaN, targets outside [0, 1] or (probabilities) predictions outside [0, 1]."""
    bad_y = not (0.0 <= y_raw <= 1.0)
    bad_p = (pred != pred) if logits else not (0.0 <= pred <= 1.0)
    return 1.0 if (bad_y or bad_p) else 0.0


@njit(**_STRICT)
def _scale(v: float, w: float, den: float) -> float:
    """The core's ``where(w == 0, 0, w * v) / den``."""
    return (0.0 if w == 0.0 else w * v) / den


@njit(**_STRICT)
def _smooth(y: float, keep: float, half: float) -> float:
    return y * keep + half


# --- the variant factory ----------------------------------------------------------------------

_KERNELS: dict[tuple[bool, bool, bool, bool, int], Callable[..., None]] = {}


def get_kernel(*, logits: bool, fast: bool, weighted: bool, decomp: bool, write: int) -> Any:
    """The compiled chunk kernel for one combination of features (built on first use).

    Signature: ``kernel(pred, targets, weights, out, part, c0, c1, chunk, pw, keep, half,
    smooth, den)``; it fills ``part[c, :SLOTS]`` for the chunks ``c0 <= c < c1`` of
    ``chunk`` elements.  ``weights``/``out`` are ignored (pass any 1-element array) when
    the variant does not use them.
    """
    key = (logits, fast, weighted, decomp, write)
    hit = _KERNELS.get(key)
    if hit is None:
        hit = _KERNELS[key] = _make(logits, fast, weighted, decomp, write)
    return hit


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc"})
def _block_sum(buf: Any, m: int) -> float:
    """Sum of ``buf[:m]`` with reassociation allowed, so LLVM keeps SIMD partial sums."""
    s = 0.0
    for j in range(m):
        s += buf[j]
    return s


def _make(LOGITS: bool, FAST: bool, W: bool, D: bool, WR: int) -> Any:
    # The flags are closure constants, so numba compiles one specialised loop per
    # combination (the cache key includes their values).  The per-element loop has no
    # reduction, so LLVM vectorises it under strict IEEE semantics; the values go to a
    # small buffer, which `_block_sum` adds up.
    # The plain sum (float32, unweighted, no decomposition, no per-element loss) of a block
    # of 0/1 targets goes through kernels.logsum: one logarithm per block, not per element.
    # With the gradient written too, the block's sums still need no per-element logarithm.
    SUMS = FAST and WR != WRITE_LOSS and not W and not D

    @njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
    def kernel(
        pred: Any,
        tgt: Any,
        wts: Any,
        out: Any,
        part: Any,
        c0: int,
        c1: int,
        chunk: int,
        pw: float,
        keep: float,
        half: float,
        smooth: bool,
        den: float,
    ) -> None:
        n = pred.size
        buf = np.empty((SLOTS, BLOCK), dtype=np.float64)
        ta = np.empty(BLOCK, dtype=np.float64)
        tb_ = np.empty(BLOCK, dtype=np.float64)
        for c in range(c0, c1):
            lo = c * chunk
            hi = min(lo + chunk, n)
            tot = np.zeros(SLOTS, dtype=np.float64)
            for b0 in range(lo, hi, BLOCK):
                m = min(BLOCK, hi - b0)
                # Views with a loop index from 0 let LLVM see that no index is negative
                # (numba wraps negative indices), so the loads stay contiguous, not gathers.
                pb = pred[b0 : b0 + m]
                tb = tgt[b0 : b0 + m]
                wb = wts[b0 : b0 + m] if W else wts
                ob = out[b0 : b0 + m] if WR != 0 else out
                # The transcendental functions run as separate short loops over the block:
                # each one vectorises into straight SIMD code, where one fused loop body
                # ran about 1.8x slower (register pressure; measured in L2, 1 thread).
                # With probabilities and a block of hard targets only one of -log p and
                # -log1p(-p) is needed per element (the other has coefficient 0).
                if SUMS and not smooth:
                    # Only the loss sum (and the gradient) is wanted: one logarithm per block
                    # (kernels.logsum), kept if every target is exactly 0 or 1.
                    if LOGITS:
                        for j in range(m):
                            ta[j] = _pre_a(np.float64(pb[j]), LOGITS, FAST)
                        if pw == 1.0:
                            s1, s0, nbad, nsoft = logits_block(pb, tb, ta, m)
                        else:
                            s1, s0, nbad, nsoft = hard_logits_block(pb, tb, ta, m)
                    elif pw == 1.0:
                        s1, s0, nbad, nsoft = probs_block(pb, tb, m)
                    else:
                        s1, s0, nbad, nsoft = hard_probs_block(pb, tb, m)
                    if nsoft == 0.0:
                        tot[0] += pw * s1 + s0
                        tot[4] += nbad
                        if WR == WRITE_GRAD:
                            for j in range(m):
                                p = np.float64(pb[j])
                                y = np.float64(tb[j])
                                if LOGITS:
                                    g = _grad_logits_fast(p, y, ta[j], pw)
                                else:
                                    g = _grad_probs(p, y, pw)
                                ob[j] = _scale(g, 1.0, den)
                        continue
                hard = FAST and (not LOGITS) and (not smooth) and _count_soft(tb, m) == 0.0
                if hard:
                    for j in range(m):
                        ta[j] = _pre_hard(np.float64(pb[j]), np.float64(tb[j]))
                else:
                    for j in range(m):
                        ta[j] = _pre_a(np.float64(pb[j]), LOGITS, FAST)
                    for j in range(m):
                        tb_[j] = _pre_b(np.float64(pb[j]), ta[j], LOGITS, FAST)
                for j in range(m):
                    p = np.float64(pb[j])
                    y_raw = np.float64(tb[j])
                    y = _smooth(y_raw, keep, half) if smooth else y_raw
                    bad = _invalid(p, y_raw, LOGITS)
                    if LOGITS:
                        # softplus(-x) and softplus(x) share log1p(exp(-|x|))
                        e = ta[j]
                        lp = tb_[j]
                        a = (-p if p < 0.0 else 0.0) + lp
                        b = (p if p > 0.0 else 0.0) + lp
                    else:
                        e = 0.0
                        a = ta[j]
                        b = ta[j] if hard else tb_[j]
                    loss = _combine(y, a, b, pw)
                    if W:
                        w = np.float64(wb[j])
                        bad += 0.0 if (w >= 0.0 and w < _INF) else 1.0
                        buf[0, j] = 0.0 if w == 0.0 else w * loss
                        buf[1, j] = w
                    else:
                        w = np.float64(1.0)
                        buf[0, j] = loss
                    if D:
                        if FAST:
                            h, k = _entropy_kl_fast(y, a, b)
                        else:
                            h, k = _entropy_kl_libm(y, a, b)
                        buf[2, j] = 0.0 if w == 0.0 else w * h
                        buf[3, j] = 0.0 if w == 0.0 else w * k
                    if WR == 1:
                        if LOGITS:
                            if FAST:
                                g = _grad_logits_fast(p, y, e, pw)
                            else:
                                g = _grad_logits(p, y, e, pw)
                        else:
                            g = _grad_probs(p, y, pw)
                        ob[j] = _scale(g, w, den)
                    elif WR == 2:
                        ob[j] = loss
                    buf[4, j] = bad
                tot[0] += _block_sum(buf[0], m)
                tot[4] += _block_sum(buf[4], m)
                if W:
                    tot[1] += _block_sum(buf[1], m)
                if D:
                    tot[2] += _block_sum(buf[2], m)
                    tot[3] += _block_sum(buf[3], m)
            if not W:
                tot[1] = float(hi - lo)
            part[c, :] = tot

    return kernel
