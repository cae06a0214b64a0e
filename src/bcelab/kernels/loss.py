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
accuracy grid still passes) but never reorders operations.  Only the additions (and the
products of :mod:`bcelab.kernels.logsum`) that accumulate a block's values are
reassociable (:func:`~bcelab.kernels.fastmath.add_reassoc`), which lets LLVM keep several
partial sums in SIMD lanes (the order is fixed by the compiled code, so results are
deterministic).  Everything else runs inside the one compiled function: calling another
compiled function per block, with arrays, cost more than the block's arithmetic.  The
exception is called once per chunk: the common sums-only case (0/1 targets, no weights,
no smoothing) runs first in a loop compiled on its own (``*_run``), which LLVM compiles
better apart from the kernel's other paths; the kernel goes on from the first block that
loop cannot sum, so the sums are the same, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

from .constants import INLINE, JIT, LOSS_BLOCK, PREFETCH_AHEAD, LossSlot, Write
from .fastmath import add_reassoc, borrowed, exp_nonpos_sum
from .grad_pairs import hard_prob_grad_block, plain_probs_grad_block
from .logsum import PLAIN_MIN, logit_sums, plain_logits_pass, prob_sums
from .prefetch import prefetch_range
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
from .vector_width import prefer_wide_vectors

__all__ = ["KERNELS", "get_kernel"]

_SLOTS = len(LossSlot)
_INF = float("inf")

#: the compiled kernels built so far, by ``(logits, fast, weighted, decomp, write)``
KERNELS: dict[tuple[bool, bool, bool, bool, int], Callable[..., None]] = {}


@njit(**INLINE)
def grad_rows(
    pb: Any,
    tb: Any,
    ta: Any,
    ob: Any,
    m: int,
    pw: float,
    keep: float,
    half: float,
    smooth: bool,
    den: float,
    inv_den: float,
    gs: float,
    scaled: bool,
    logits: bool,
) -> None:
    """The float32 gradient beside the block sums (``ta[j] = exp(-|x_j|)`` for logits).

    Probabilities reach it only in blocks of 0/1 targets without label smoothing.

    A module-level function, not a closure of the kernel: numba keys a cached closure by
    its captured values, and a captured compiled function differs in every process, so
    the kernel would be compiled again each time.  ``logits`` is the kernel's constant.
    """
    if not logits:  # one division per two elements
        hard_prob_grad_block(pb, tb, ob, m, pw, inv_den, gs, scaled)
        return
    for j in range(m):
        p = np.float64(pb[j])
        y = np.float64(tb[j])
        y = smooth_target(y, keep, half) if smooth else y
        g = grad_logits_f32in(p, y, ta[j], pw)
        ob[j] = output_value(scale_by_weight(g, 1.0, den, inv_den, True), gs, True, scaled)


def _make_run(logits: bool, grad: bool, scaled: bool = False) -> Any:
    # A closure over bools only: numba's cache keys it by their values (see grad_rows).
    @njit(**JIT, fastmath={"contract"})
    def run(
        pred: Any,
        tgt: Any,
        out: Any,
        ta: Any,
        lo: int,
        hi: int,
        pw: float,
        den: float,
        inv_den: float,
        gs: float,
    ) -> tuple[float, float, int, bool]:
        prefer_wide_vectors()
        pred, tgt, out = borrowed(pred), borrowed(tgt), borrowed(out)
        total = 0.0
        invalid = 0.0
        series_run = False  # as the kernel's (probabilities; logits stop instead)
        b0 = lo
        while b0 < hi:
            m = min(LOSS_BLOCK, hi - b0)
            # the inputs' cache lines from a quarter of a block ahead (kernels.prefetch)
            prefetch_range(pred, b0 + PREFETCH_AHEAD, b0 + PREFETCH_AHEAD + m)
            prefetch_range(tgt, b0 + PREFETCH_AHEAD, b0 + PREFETCH_AHEAD + m)
            pb = pred[b0 : b0 + m]
            tb = tgt[b0 : b0 + m]
            ob = out[b0 : b0 + m] if grad else out
            done = False  # probabilities: sums and gradient from one pass, kept
            if logits:  # the gradient too: the kernel writes it again if it stops here
                s1, s0, bad, soft = plain_logits_pass(pb, tb, ob, m, inv_den, gs, grad, scaled)
                if soft != 0.0 or s0 < PLAIN_MIN:  # a NaN sum is kept: its block is flagged
                    break
            else:
                if grad and pw == 1.0 and not series_run:
                    s1, s0, bad, soft = plain_probs_grad_block(pb, tb, ob, m, inv_den, gs, scaled)
                    done = soft == 0.0 and not s0 < PLAIN_MIN
                if not done:
                    s1, s0, bad, soft, series = prob_sums(pb, tb, m, pw, series_run)
                    if soft != 0.0:
                        break
                    series_run = series
            total += (0.0 if pw == 0.0 else pw * s1) + s0  # the kernel's own sum, in order
            invalid += bad
            if grad and not (logits or done):
                grad_rows(pb, tb, ta, ob, m, pw, 1.0, 0.0, False, den, inv_den, gs, scaled, logits)
            b0 += m
        return total, invalid, b0, series_run

    return run


# ``*_run(pred, targets, out, ta, lo, hi, pos_weight, den, inv_den, gs) -> (loss sum, invalid
# count, stop, series_run)``: float32 inputs with 0/1 targets and no label smoothing (from
# logits: pos_weight 1), the blocks of ``lo:hi`` whose sums kernels.logsum gives alone, up
# to the first block that needs more (``stop``; ``hi`` when none does), and the kernel's
# ``series_run`` state there: the kernel's own sums, in loops compiled apart from its
# other paths, where LLVM makes faster code of them (bench/results/kernel.md).  The
# ``*_grad_run`` ones also write the gradient; from probabilities (pos_weight 1) in the
# pass of the sums (grad_pairs.plain_probs_grad_block: the product in another order).
logits_run = _make_run(True, False)
logits_grad_run = _make_run(True, True)
probs_run = _make_run(False, False)
probs_grad_run = _make_run(False, True)
# the gradient times ``gs`` (the kernel takes these when ``gs != 1``)
logits_scaled_grad_run = _make_run(True, True, True)
probs_scaled_grad_run = _make_run(False, True, True)


def get_kernel(*, logits: bool, fast: bool, weighted: bool, decomp: bool, write: int) -> Any:
    """The compiled chunk kernel for one combination of features (built on first use).

    Signature: ``kernel(pred, targets, weights, out, part, c0, c1, chunk, pw, keep, half,
    smooth, den, gs)``; it fills ``part[c, :]`` (the :class:`LossSlot` sums) for the chunks
    ``c0 <= c < c1`` of ``chunk`` elements, and a gradient it writes is multiplied by
    ``gs`` after its rounding (1: unchanged).  ``weights``/``out`` are ignored (pass any
    1-element array) when the variant does not use them.
    """
    key = (logits, fast, weighted, decomp, write)
    hit = KERNELS.get(key)
    if hit is None:
        hit = KERNELS[key] = _make(logits, fast, weighted, decomp, write)
    return hit


def _make(LOGITS: bool, FAST: bool, W: bool, D: bool, WR: int) -> Any:
    # The flags are closure constants, so numba compiles one specialised loop per
    # combination (the cache key includes their values) and drops the branches they rule
    # out.  The per-element loop has no reduction, so LLVM vectorises it under strict IEEE
    # semantics; the values go to a small buffer, added up by a reassociable SIMD sum.
    # The plain sum (float32, unweighted, no decomposition, no per-element loss) of a block
    # of 0/1 targets goes through kernels.logsum: one logarithm per block, not per element.
    # With the gradient written too, the block's sums still need no per-element logarithm.
    GRAD, LOSS, OUT = WR == Write.GRAD, WR == Write.LOSS, WR != Write.NONE
    SUMS = FAST and not LOSS and not W and not D
    return _compile(LOGITS, FAST, W, D, GRAD, LOSS, OUT, SUMS)


def _compile(
    LOGITS: bool, FAST: bool, W: bool, D: bool, GRAD: bool, LOSS: bool, OUT: bool, SUMS: bool
) -> Any:
    # The gradient's factor gs: the plain runs below have a variant of their own for it
    # (chosen per chunk); the other paths always multiply (by 1 when unscaled: the same
    # bits, a few percent of a per-element path that is several times slower anyway).
    SCALED = True
    # One function on purpose (longer than 80 lines): a compiled helper called per block
    # with arrays costs more than the block's arithmetic, and array arguments stop some
    # per-element loops from vectorising.  The per-element formulas take only scalars
    # (kernels.scalar's) and the block sums of kernels.logsum are inlined (numba IR).
    # The slots the per-element path fills (the others stay 0 or are set at the end).
    SUMMED = tuple(
        k in (LossSlot.LOSS, LossSlot.INVALID)
        or (W and k == LossSlot.WEIGHT)
        or (D and k in (LossSlot.FLOOR, LossSlot.EXCESS))
        for k in range(_SLOTS)
    )

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
        gs: float,
    ) -> None:
        prefer_wide_vectors()
        n = pred.size
        inv_den = 1.0 / den
        # The caller holds the arrays: views of these aliases cost no reference counting.
        pred, tgt, wts, out = borrowed(pred), borrowed(tgt), borrowed(wts), borrowed(out)
        buf = np.empty((_SLOTS, LOSS_BLOCK), dtype=np.float64)
        ta = np.empty(LOSS_BLOCK, dtype=np.float64)
        tb_ = np.empty(LOSS_BLOCK, dtype=np.float64)
        for c in range(c0, c1):
            lo = c * chunk
            hi = min(lo + chunk, n)
            # Each chunk starts afresh, so the path a block takes, and so the sums' last
            # bits, do not depend on how the chunks are shared among threads.
            soft_run = False  # the last block had targets other than 0 and 1
            series_run = False  # the last block's sum needed the series (logsum)
            tot = np.zeros(_SLOTS, dtype=np.float64)
            start = lo
            if SUMS and not smooth and (pw == 1.0 or not LOGITS):
                # the common case first, in a loop of its own (the *_run functions); the
                # blocks from the first one it cannot sum on continue below, in the state
                # the loop below would have reached
                args = (pred, tgt, out, ta, lo, hi, pw, den, inv_den, gs)
                if LOGITS and GRAD:
                    r = logits_grad_run(*args) if gs == 1.0 else logits_scaled_grad_run(*args)
                elif LOGITS:
                    r = logits_run(*args)
                elif GRAD:
                    r = probs_grad_run(*args) if gs == 1.0 else probs_scaled_grad_run(*args)
                else:
                    r = probs_run(*args)
                tot[LossSlot.LOSS] += r[0]
                tot[LossSlot.INVALID] += r[1]
                start = r[2]
                series_run = r[3]
            for b0 in range(start, hi, LOSS_BLOCK):
                m = min(LOSS_BLOCK, hi - b0)
                ahead = b0 + PREFETCH_AHEAD
                prefetch_range(pred, ahead, ahead + m)
                prefetch_range(tgt, ahead, ahead + m)
                if W:
                    prefetch_range(wts, ahead, ahead + m)
                # Views with a loop index from 0 let LLVM see that no index is negative
                # (numba wraps negative indices), so the loads stay contiguous, not gathers.
                pb = pred[b0 : b0 + m]
                tb = tgt[b0 : b0 + m]
                wb = wts[b0 : b0 + m] if W else wts
                ob = out[b0 : b0 + m] if OUT else out
                if SUMS and (
                    (LOGITS and (pw == 1.0 or not smooth)) or not (LOGITS or smooth or soft_run)
                ):
                    # Only the loss sum (and the gradient) is wanted: one logarithm per block
                    # (kernels.logsum), kept if every target is exactly 0 or 1, or, for
                    # logits with pos_weight 1, in [0, 1] (soft or smoothed).  After a block
                    # with soft targets the next one starts with the soft variant (logits)
                    # or the per-element path (probabilities).
                    kept = False  # the plain logits pass's sum (and gradient) stand
                    nsoft = 0.0
                    if LOGITS:
                        plain = pw == 1.0 and not (smooth or soft_run or series_run)
                        if plain:  # the run's pass: the sums and the gradient in one loop
                            s1, s0, nbad, nsoft = plain_logits_pass(
                                pb, tb, ob, m, inv_den, gs, GRAD, SCALED
                            )
                            kept = nsoft == 0.0 and not s0 < PLAIN_MIN  # NaN sums are kept
                        if not kept:  # soft targets, or the series from here on
                            for j in range(m):  # exp(-|x|), only summed (and in gradients)
                                ta[j] = exp_nonpos_sum(-abs(np.float64(pb[j])))
                            soft_in = soft_run or (plain and nsoft != 0.0)
                            series_in = series_run or (plain and nsoft == 0.0)
                            s1, s0, nbad, nsoft, soft_run, series_run = logit_sums(
                                pb, tb, ta, m, pw, keep, half, smooth, soft_in, series_in
                            )
                    else:
                        s1, s0, nbad, nsoft, series_run = prob_sums(pb, tb, m, pw, series_run)
                        soft_run = nsoft != 0.0
                    if nsoft == 0.0:
                        tot[LossSlot.LOSS] += (0.0 if pw == 0.0 else pw * s1) + s0
                        tot[LossSlot.INVALID] += nbad
                        if GRAD and not (LOGITS and kept):
                            # fmt: off
                            grad_rows(pb, tb, ta, ob, m, pw, keep, half, smooth,
                                      den, inv_den, gs, SCALED, LOGITS)
                            # fmt: on
                        continue
                # The transcendental functions run as separate short loops over the block:
                # each one vectorises into straight SIMD code, where one fused loop body
                # runs about 1.8x slower (register pressure).  With probabilities and a
                # block of hard targets only one of -log p and -log1p(-p) is needed per
                # element (the other has coefficient 0).
                hard = FAST and (not LOGITS) and (not smooth)
                if hard:
                    nsoft = 0.0
                    for j in range(m):
                        yv = tb[j]
                        nsoft = add_reassoc(nsoft, 0.0 if (yv == 0.0 or yv == 1.0) else 1.0)
                    hard = nsoft == 0.0
                    soft_run = not hard
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
                        ob[j] = output_value(
                            scale_by_weight(g, w, den, inv_den, FAST), gs, FAST, SCALED
                        )
                    elif LOSS:
                        ob[j] = loss
                    buf[LossSlot.INVALID, j] = bad
                for k in range(_SLOTS):
                    if SUMMED[k]:
                        row = buf[k]
                        acc = 0.0
                        for j in range(m):
                            acc = add_reassoc(acc, row[j])
                        tot[k] += acc
            if not W:
                tot[LossSlot.WEIGHT] = float(hi - lo)
            part[c, :] = tot

    return kernel
