r"""The fused single-pass loss kernels (numba), one compiled variant per feature combination.

One pass over ``pred``, ``targets`` (and ``weights``) computes, per element, the
exact-convention loss of :mod:`bcelab.kernels.scalar` and accumulates, per fixed-size
chunk and in float64, the sums that every reduction needs (:class:`LossSlot`):
:math:`\sum w \ell`, :math:`\sum w`, optionally :math:`\sum w H(y)` and
:math:`\sum w\,\mathrm{KL}(y \| p)`, and the number of invalid elements (NaN, targets
or probabilities outside [0, 1], negative/inf/NaN weights), so that the caller can hand
those inputs to the reference path, which raises the documented error.  Optionally it
writes the per-element gradient (scaled by ``w / den``) or the per-element loss into an
output array of the input dtype.

float32 inputs are computed in float64 with the vectorisable
:mod:`bcelab.kernels.fastmath` (its ``*_f32in`` functions, relative error < 2e-15);
float64 inputs use libm.

The kernel is compiled with ``fastmath={"contract"}`` only, which lets LLVM fuse
``a * b + c`` into one FMA instruction (one rounding instead of two; the mpmath
accuracy grid still passes) but never reorders operations.  Only the loop that adds a
block's per-element values up is compiled with ``fastmath={"reassoc"}``, which lets
LLVM keep several partial sums in SIMD lanes (the order is fixed by the compiled code,
so results are deterministic).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

from .constants import JIT, LOSS_BLOCK, LossSlot, Write
from .logsum import hard_logits_block, hard_probs_block, logits_block, probs_block
from .scalar import (
    cross_entropy,
    entropy_kl_fastmath,
    entropy_kl_libm,
    grad_logits,
    grad_logits_f32in,
    grad_probs,
    hard_term_f32in,
    invalid_element,
    output_value,
    scale_by_weight,
    smooth_target,
    softplus_pair,
    term_pass1,
    term_pass2,
)

__all__ = ["KERNELS", "get_kernel"]

_SUM = {**JIT, "fastmath": {"reassoc"}}
_SLOTS = len(LossSlot)
_INF = float("inf")

#: the compiled kernels built so far, by ``(logits, fast, weighted, decomp, write)``
KERNELS: dict[tuple[bool, bool, bool, bool, int], Callable[..., None]] = {}


def get_kernel(*, logits: bool, fast: bool, weighted: bool, decomp: bool, write: int) -> Any:
    """The compiled chunk kernel for one combination of features (built on first use).

    Signature: ``kernel(pred, targets, weights, out, part, c0, c1, chunk, pw, keep, half,
    smooth, den)``; it fills ``part[c, :]`` (the :class:`LossSlot` sums) for the chunks
    ``c0 <= c < c1`` of ``chunk`` elements.  ``weights``/``out`` are ignored (pass any
    1-element array) when the variant does not use them.
    """
    key = (logits, fast, weighted, decomp, write)
    hit = KERNELS.get(key)
    if hit is None:
        hit = KERNELS[key] = _make(logits, fast, weighted, decomp, write)
    return hit


@njit(**_SUM)
def _count_soft(tgt: Any, m: int) -> float:
    """How many of ``tgt[:m]`` are not exactly 0 or 1 (NaN included); exact, any order."""
    c = 0.0
    for j in range(m):
        v = tgt[j]
        c += 0.0 if (v == 0.0 or v == 1.0) else 1.0
    return c


@njit(**_SUM)
def _block_sum(buf: Any, m: int) -> float:
    """Sum of ``buf[:m]`` with reassociation allowed, so LLVM keeps SIMD partial sums."""
    s = 0.0
    for j in range(m):
        s += buf[j]
    return s


def _make(LOGITS: bool, FAST: bool, W: bool, D: bool, WR: int) -> Any:
    # The flags are closure constants, so numba compiles one specialised loop per
    # combination (the cache key includes their values) and drops the branches they rule
    # out.  The per-element loop has no reduction, so LLVM vectorises it under strict IEEE
    # semantics; the values go to a small buffer, which `_block_sum` adds up.
    # The plain sum (float32, unweighted, no decomposition, no per-element loss) of a block
    # of 0/1 targets goes through kernels.logsum: one logarithm per block, not per element.
    # With the gradient written too, the block's sums still need no per-element logarithm.
    GRAD, LOSS, OUT = WR == Write.GRAD, WR == Write.LOSS, WR != Write.NONE
    SUMS = FAST and not LOSS and not W and not D
    return _compile(LOGITS, FAST, W, D, GRAD, LOSS, OUT, SUMS)


def _compile(
    LOGITS: bool, FAST: bool, W: bool, D: bool, GRAD: bool, LOSS: bool, OUT: bool, SUMS: bool
) -> Any:
    # One function on purpose (longer than 80 lines): numba passes every array argument
    # of a helper with reference counting, even to an inlined one, which is costly in
    # these per-block and per-element loops and stops some of them from vectorising.
    # The per-element formulas take only scalars: they are kernels.scalar's, inlined.

    @njit(**JIT, fastmath={"contract"})
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
        buf = np.empty((_SLOTS, LOSS_BLOCK), dtype=np.float64)
        ta = np.empty(LOSS_BLOCK, dtype=np.float64)
        tb_ = np.empty(LOSS_BLOCK, dtype=np.float64)
        for c in range(c0, c1):
            lo = c * chunk
            hi = min(lo + chunk, n)
            tot = np.zeros(_SLOTS, dtype=np.float64)
            for b0 in range(lo, hi, LOSS_BLOCK):
                m = min(LOSS_BLOCK, hi - b0)
                # Views with a loop index from 0 let LLVM see that no index is negative
                # (numba wraps negative indices), so the loads stay contiguous, not gathers.
                pb = pred[b0 : b0 + m]
                tb = tgt[b0 : b0 + m]
                wb = wts[b0 : b0 + m] if W else wts
                ob = out[b0 : b0 + m] if OUT else out
                if SUMS and not smooth:
                    # Only the loss sum (and the gradient) is wanted: one logarithm per block
                    # (kernels.logsum), kept if every target is exactly 0 or 1.
                    if LOGITS:
                        for j in range(m):
                            ta[j] = term_pass1(np.float64(pb[j]), LOGITS, FAST)
                        if pw == 1.0:
                            s1, s0, nbad, nsoft = logits_block(pb, tb, ta, m)
                        else:
                            s1, s0, nbad, nsoft = hard_logits_block(pb, tb, ta, m)
                    elif pw == 1.0:
                        s1, s0, nbad, nsoft = probs_block(pb, tb, m)
                    else:
                        s1, s0, nbad, nsoft = hard_probs_block(pb, tb, m)
                    if nsoft == 0.0:
                        tot[LossSlot.LOSS] += (0.0 if pw == 0.0 else pw * s1) + s0
                        tot[LossSlot.INVALID] += nbad
                        if GRAD:
                            for j in range(m):
                                p = np.float64(pb[j])
                                y = np.float64(tb[j])
                                if LOGITS:
                                    g = grad_logits_f32in(p, y, ta[j], pw)
                                else:
                                    g = grad_probs(p, y, pw)
                                ob[j] = output_value(scale_by_weight(g, 1.0, den), FAST)
                        continue
                # The transcendental functions run as separate short loops over the block:
                # each one vectorises into straight SIMD code, where one fused loop body
                # runs about 1.8x slower (register pressure).  With probabilities and a
                # block of hard targets only one of -log p and -log1p(-p) is needed per
                # element (the other has coefficient 0).
                hard = FAST and (not LOGITS) and (not smooth) and _count_soft(tb, m) == 0.0
                if hard:
                    for j in range(m):
                        ta[j] = hard_term_f32in(np.float64(pb[j]), np.float64(tb[j]))
                else:
                    for j in range(m):
                        ta[j] = term_pass1(np.float64(pb[j]), LOGITS, FAST)
                    for j in range(m):
                        tb_[j] = term_pass2(np.float64(pb[j]), ta[j], LOGITS, FAST)
                for j in range(m):
                    p = np.float64(pb[j])
                    y_raw = np.float64(tb[j])
                    y = smooth_target(y_raw, keep, half) if smooth else y_raw
                    bad = invalid_element(p, y_raw, LOGITS)
                    if LOGITS:
                        e = ta[j]
                        a, b = softplus_pair(p, tb_[j])
                    else:
                        e = 0.0
                        a = ta[j]
                        b = ta[j] if hard else tb_[j]
                    loss = cross_entropy(y, a, b, pw)
                    if W:
                        w = np.float64(wb[j])
                        bad += 0.0 if (w >= 0.0 and w < _INF) else 1.0
                        buf[LossSlot.LOSS, j] = 0.0 if w == 0.0 else w * loss
                        buf[LossSlot.WEIGHT, j] = w
                    else:
                        w = np.float64(1.0)
                        buf[LossSlot.LOSS, j] = loss
                    if D:
                        if FAST:
                            h, k = entropy_kl_fastmath(y, a, b)
                        else:
                            h, k = entropy_kl_libm(y, a, b)
                        buf[LossSlot.FLOOR, j] = 0.0 if w == 0.0 else w * h
                        buf[LossSlot.EXCESS, j] = 0.0 if w == 0.0 else w * k
                    if GRAD:
                        if LOGITS:
                            if FAST:
                                g = grad_logits_f32in(p, y, e, pw)
                            else:
                                g = grad_logits(p, y, e, pw)
                        else:
                            g = grad_probs(p, y, pw)
                        ob[j] = output_value(scale_by_weight(g, w, den), FAST)
                    elif LOSS:
                        ob[j] = loss
                    buf[LossSlot.INVALID, j] = bad
                tot[LossSlot.LOSS] += _block_sum(buf[LossSlot.LOSS], m)
                tot[LossSlot.INVALID] += _block_sum(buf[LossSlot.INVALID], m)
                if W:
                    tot[LossSlot.WEIGHT] += _block_sum(buf[LossSlot.WEIGHT], m)
                if D:
                    tot[LossSlot.FLOOR] += _block_sum(buf[LossSlot.FLOOR], m)
                    tot[LossSlot.EXCESS] += _block_sum(buf[LossSlot.EXCESS], m)
            if not W:
                tot[LossSlot.WEIGHT] = float(hi - lo)
            part[c, :] = tot

    return kernel
