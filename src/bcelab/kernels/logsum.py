r"""Block sums of hard-target losses with one logarithm per block instead of one per element.

For 0/1 targets and no per-element weight, the sum of a block's losses needs only the sum
of the logarithms in it, and a sum of logarithms is the logarithm of a product:

.. math::

    \sum_i \log f_i = \log \prod_i f_i .

So the per-element work is a multiplication, and ``math.log`` runs once per block per
class (512 elements), which is what makes the forward pass of the fused kernel several
times cheaper per element for float32 inputs (``bench/results/kernel.md``).

Accuracy.  The product loses about one float64 rounding (1.1e-16, relative) per factor,
which is an *absolute* error of 1.1e-16 on the sum of logarithms.  That is negligible
for terms of at least :data:`SMALL` = :math:`2^{-7}` (relative error below 3e-14 per
term), but not for tiny terms (a confident, correct prediction has a loss near 1e-9 or
smaller), so terms below :data:`SMALL` never enter the product: they are summed directly
from a polynomial of degree 6 for :math:`\log(1 + t)` (logits) or :math:`-\log(1 - u)`
(probabilities) on :math:`[0, 2^{-7}]`, relative error below 4e-17 (coefficients fitted
by ``bench/fit_fastmath.py``).  The sum is thus within ~3e-14 relative of the sum of
exact per-element losses, far inside the 1e-12 budget of the mean, and independent of the
thread count (the order is fixed by the compiled code).

With ``pos_weight = 1`` the kernel first tries :func:`plain_logits_pass` or
:func:`plain_probs_block`, which put every factor in the product (no series per element:
about 15% less work per element than :func:`logits_block` from logits, about half of
:func:`probs_block`'s from probabilities).  Their roundings, about ``2 m`` per block from
logits (``1 + t`` and the product) and ``m`` from probabilities (the product of exact
mantissas), are an absolute error of at most 1.1e-13 on a block of 512, so such a sum is
kept only when it is at least :data:`PLAIN_MIN` = 16 (7e-15 relative); a block of smaller
losses is summed again with the series, and so is the next block, until a sum reaches
twice the bound.  The kernel starts every chunk with the plain product, so the path a
block takes does not depend on the threads.

Each function comes in two compiled variants: ``split=True`` returns the sums over
y = 1 and y = 0 separately (the caller weights the first by ``pos_weight``), and
``split=False`` (``pos_weight = 1``, the common case) one sum, about 30% cheaper.

Only the loss *sum* is produced (and, by :func:`plain_logits_pass`, the gradient, which
the kernel otherwise writes beside the sums): per-element losses, weights and the
floor/excess decomposition keep the per-element path of :mod:`bcelab.kernels.loss`, and
so do soft targets and label smoothing, except for logits with ``pos_weight = 1``
(:func:`soft_logits_block`: there the logarithm does not depend on the target).  Each
function also counts the targets that are not exactly 0 or 1 and the invalid predictions;
the kernel keeps the sums only when both counts are 0 and otherwise evaluates the block
again per element.  The counts cost almost nothing
per element: a float32 sum of :math:`|y - y^2|` (0 exactly for 0/1 targets, NaN
included otherwise), a NaN in the result (logits: NaN is the only invalid logit, and it
reaches the product), or the sign and top exponent bits of :math:`z` and :math:`1 - z`
(probabilities: both are in [0, 1] exactly when the probability is); only a block they
flag is counted exactly, element by element.

The functions are inlined into the kernel that calls them (numba IR): a separate call
per block cost more than the block's arithmetic.  The accumulations go through
:func:`~bcelab.kernels.fastmath.add_reassoc` and
:func:`~bcelab.kernels.fastmath.mul_reassoc`, so they become SIMD reductions while the
rest keeps IEEE semantics (``a * b + c`` may become one FMA, as in the kernel).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from .constants import INLINE
from .fastmath import add_reassoc, exp_factor, mul_reassoc
from .logfactor import EXP_BIAS, SMALL, log1p_series, prob_counts, prob_factor
from .scalar import output_value
from .vector_width import prefer_wide_vectors

__all__ = [
    "SMALL",
    "hard_logits_block",
    "hard_probs_block",
    "logit_sums",
    "logits_block",
    "plain_logits_pass",
    "plain_probs_block",
    "prob_sums",
    "probs_block",
    "soft_logits_block",
]

PLAIN_MIN = 16.0  # a block sum from the plain product is kept when at least this
_LN2 = 0.6931471805599453
_ONE_BITS = 0x3FF0000000000000
_INF = float("inf")
_F0 = np.float32(0.0)
_F1 = np.float32(1.0)
_BLOCK: dict[str, Any] = {**INLINE, "fastmath": {"contract"}}


@njit(**_BLOCK)
def _flagged_counts(pb: Any, tb: Any, m: int, nan_sum: bool, soft: bool) -> tuple[float, float]:
    """The exact counts of a block of logits that its sums flagged: NaN logits (when a
    sum is NaN) and targets other than 0 and 1 (when the block's check was not 0).

    Called only for a flagged block: a call that takes the arrays makes numba count
    references to them, which every block would pay.
    """
    bad = 0.0
    if nan_sum:
        for j in range(m):
            bad = add_reassoc(bad, 0.0 if pb[j] == pb[j] else 1.0)
    nsoft = 0.0
    if soft:
        for j in range(m):
            nsoft = add_reassoc(nsoft, 0.0 if (tb[j] == 0.0 or tb[j] == 1.0) else 1.0)
    return bad, nsoft


def _make_logits(split: bool) -> Any:
    @njit(**_BLOCK)
    def block(pb: Any, tb: Any, ta: Any, m: int) -> tuple[float, float, float, float]:
        prefer_wide_vectors()  # the kernel's vector width, also when called alone
        lin1 = 0.0
        lin0 = 0.0
        prod1 = 1.0
        prod0 = 1.0
        soft = _F0
        for j in range(m):
            x = np.float64(pb[j])
            t = ta[j]
            yf = tb[j]
            soft = add_reassoc(soft, abs(yf - yf * yf))  # 0 exactly for 0/1 targets
            pos = yf == _F1
            xs = -x if pos else x
            small = t < SMALL
            ser = log1p_series(t)
            v = (xs if xs > 0.0 else 0.0) + (ser if small else 0.0)  # max(-+x, 0) + small
            f = 1.0 if small else 1.0 + t
            if split:
                lin1 = add_reassoc(lin1, v if pos else 0.0)
                lin0 = add_reassoc(lin0, 0.0 if pos else v)
                prod1 = mul_reassoc(prod1, f if pos else 1.0)
                prod0 = mul_reassoc(prod0, 1.0 if pos else f)
            else:
                lin0 = add_reassoc(lin0, v)
                prod0 = mul_reassoc(prod0, f)
        # 512 factors of at most 2 stay below 2^512: no overflow.  A NaN logit makes its
        # factor NaN (exp(-|NaN|) is NaN), so a NaN sum flags the block.
        s1 = lin1 + np.log(prod1)
        s0 = lin0 + np.log(prod0)
        nan_sum = not (s1 == s1 and s0 == s0)
        if nan_sum or soft != _F0:
            bad, nsoft = _flagged_counts(pb, tb, m, nan_sum, soft != _F0)
            return s1, s0, bad, nsoft
        return s1, s0, 0.0, 0.0

    return block


@njit(**_BLOCK)
def soft_logits_block(
    pb: Any, tb: Any, ta: Any, m: int, keep: float, half: float
) -> tuple[float, float, float, float]:
    """``pos_weight = 1``, any targets in [0, 1], label smoothing ``y -> y keep + half``.

    With ``pos_weight = 1`` the loss of a logit is ``y max(-x, 0) + (1 - y) max(x, 0) +
    log1p(exp(-|x|))`` for any target: the logarithm does not depend on ``y``, so the
    block's logarithms still sum as the log of one product.  Returns ``(0.0, sum,
    count of NaN logits and targets outside [0, 1], 0.0)``; ``ta[j]`` holds ``exp(-|x_j|)``.
    """
    prefer_wide_vectors()
    lin = 0.0
    prod = 1.0
    neg = _F0
    for j in range(m):
        x = np.float64(pb[j])
        t = ta[j]
        yf = tb[j]
        q = yf - yf * yf
        neg = add_reassoc(neg, q - abs(q))  # 0 for targets in [0, 1], else < 0 or NaN
        y = np.float64(yf) * keep + half
        small = t < SMALL
        ser = log1p_series(t)
        up = x if x > 0.0 else 0.0
        dn = -x if x < 0.0 else 0.0
        # a term with coefficient 0 is dropped (an infinite logit has a finite loss)
        v = (0.0 if y == 0.0 else y * dn) + (0.0 if y == 1.0 else (1.0 - y) * up)
        lin = add_reassoc(lin, v + (ser if small else 0.0))
        prod = mul_reassoc(prod, 1.0 if small else 1.0 + t)
    s = lin + np.log(prod)
    bad = 0.0
    if not (s == s and neg == _F0):  # exact count only for a flagged block
        for j in range(m):
            ok = pb[j] == pb[j] and 0.0 <= tb[j] <= 1.0
            bad = add_reassoc(bad, 0.0 if ok else 1.0)
    return 0.0, s, bad, 0.0


def _make_probs(split: bool, plain: bool = False) -> Any:
    # plain: every factor z goes into the product, no series (plain_probs_block)
    @njit(**_BLOCK)
    def block(pb: Any, tb: Any, m: int) -> tuple[float, float, float, float]:
        prefer_wide_vectors()  # the kernel's vector width, also when called alone
        ser1 = 0.0
        ser0 = 0.0
        exp1 = 0  # biased exponents, summed as integers (prob_factor)
        exp0 = 0
        prod1 = 1.0
        prod0 = 1.0
        low1 = _ONE_BITS  # the smallest bits of z, as int64: 0 (or less) for a zero
        low0 = _ONE_BITS
        chk = 0
        soft = _F0
        for j in range(m):
            yf = tb[j]
            soft = add_reassoc(soft, abs(yf - yf * yf))  # 0 exactly for 0/1 targets
            pos = yf == _F1
            s, ex, f, bits, ubits = prob_factor(np.float64(pb[j]), pos, plain)
            chk |= bits | ubits
            if split:
                ser1 = add_reassoc(ser1, s if pos else 0.0)
                ser0 = add_reassoc(ser0, 0.0 if pos else s)
                exp1 += ex if pos else EXP_BIAS
                exp0 += EXP_BIAS if pos else ex
                prod1 = mul_reassoc(prod1, f if pos else 1.0)
                prod0 = mul_reassoc(prod0, 1.0 if pos else f)
                low1 = min(low1, bits if pos else _ONE_BITS)
                low0 = min(low0, _ONE_BITS if pos else bits)
            else:
                ser0 = add_reassoc(ser0, s)
                exp0 += ex
                prod0 = mul_reassoc(prod0, f)
                low0 = min(low0, bits)
        # -log z = -(e ln 2 + log m); 512 mantissas below 2 stay below 2^512.  A z of 0
        # (its loss is infinite) has the class's smallest bits: 0, or negative for -0.0.
        e1 = exp1 - EXP_BIAS * m if split else 0  # every element added EXP_BIAS to both
        e0 = exp0 - EXP_BIAS * m
        s1 = ser1 - (e1 * _LN2 + np.log(prod1))
        s0 = ser0 - (e0 * _LN2 + np.log(prod0))
        bad = nsoft = 0.0
        if (chk >> 62) != 0 or soft != _F0:  # exact counts only for a flagged block
            bad, nsoft = prob_counts(pb, tb, m, (chk >> 62) != 0, soft != _F0)
        return (_INF if low1 <= 0 else s1), (_INF if low0 <= 0 else s0), bad, nsoft

    return block


_LOGITS = {True: _make_logits(True), False: _make_logits(False)}
_PROBS = {True: _make_probs(True), False: _make_probs(False)}

#: ``hard_logits_block(pb, tb, ta, m)``: loss sums of one block of logits with 0/1 targets,
#: ``(sum over y=1, sum over y=0, NaN count, count of targets not 0 or 1)`` (the sums are
#: meaningless unless both counts are 0); ``ta[j]`` must hold ``exp(-|x_j|)``.  The
#: loss is ``max(-+x, 0) + log1p(exp(-|x|))`` (upper sign for y = 1).
hard_logits_block = _LOGITS[True]
#: ``hard_probs_block(pb, tb, m)``: the same for probabilities, ``-log z`` with ``z = p``
#: (y = 1) or ``1 - p`` (y = 0, exact in float64 for a float32 ``p``); each ``z = 2^e m``
#: enters as its exponent (summed exactly) and its mantissa (multiplied in); ``z = 0``
#: gives ``inf``.  The count covers probabilities outside [0, 1] and NaN.
hard_probs_block = _PROBS[True]
#: The ``pos_weight = 1`` variants: ``(0.0, sum over all, count, count)``.
logits_block = _LOGITS[False]
probs_block = _PROBS[False]
#: ``plain_probs_block(pb, tb, m)``: :func:`probs_block` with every ``z`` in the product (no
#: series); its sum is kept when at least :data:`PLAIN_MIN`, as for logits.
plain_probs_block = _make_probs(False, plain=True)


@njit(**_BLOCK)
def plain_logits_pass(
    pb: Any, tb: Any, ob: Any, m: int, inv_den: float, gs: float, grad: bool, scaled: bool
) -> tuple[float, float, float, float]:
    """:func:`logits_block` with every factor ``1 + t``, ``t = exp(-|x|)``, in the product
    (no series), in one loop that, with ``grad`` (a compile-time constant), also writes the
    float32 gradient ``ob[j] = (sigmoid(x) - y) * inv_den`` (``inv_den <= 1``: a mean or a
    sum, never weights), with ``scaled`` (a compile-time constant too) times ``gs`` after
    its rounding (:func:`~bcelab.kernels.scalar.output_value`).

    Without the series the product's roundings, about ``2 m`` of them (1.1e-13 for a
    block of 512), are an *absolute* error of the block's sum; the kernel keeps the sum
    only when it is at least :data:`PLAIN_MIN` (7.1e-15 relative) and otherwise sums the
    block again with the series (computing ``t`` again), and writes its gradient again.
    One loop for all of it: the exponential, the product and the gradient in separate
    passes over the block cost about 10% more per element, and keeping each ``t`` for a
    block that is summed again cost 1.5% of every block.
    """
    prefer_wide_vectors()
    lin = 0.0
    prod = 1.0
    # targets other than 0 and 1, NaN included, counted as integers: 4% faster here than
    # the float32 sum of |y - y^2| that the other blocks use
    soft = 0
    for j in range(m):
        x = np.float64(pb[j])
        yf = tb[j]
        t = exp_factor(-abs(x))  # 3.3e-308 for |x| > 708: the same factor, the same gradient
        pos = yf == _F1
        soft += 0 if (pos or yf == _F0) else 1
        xs = -x if pos else x  # the loss is max(xs, 0) + log1p(t)
        lin = add_reassoc(lin, xs if xs > 0.0 else 0.0)
        a = 1.0 + t
        prod = mul_reassoc(prod, a)
        if grad:  # -+sigmoid(xs) / den, sigmoid(xs) = 1 / (1 + t) or t / (1 + t): one
            # division with the sign and 1 / den in its numerator (one multiplication less)
            q = (-inv_den if pos else inv_den) / a
            ob[j] = output_value(q if xs >= 0.0 else t * q, gs, True, scaled)
    s = lin + np.log(prod)  # a NaN logit makes its factor NaN: a NaN sum flags the block
    if not s == s or soft != 0:
        bad, nsoft = _flagged_counts(pb, tb, m, not s == s, soft != 0)
        return 0.0, s, bad, nsoft
    return 0.0, s, 0.0, 0.0


@njit(**_BLOCK)
def logit_sums(
    pb: Any,
    tb: Any,
    ta: Any,
    m: int,
    pw: float,
    keep: float,
    half: float,
    smooth: bool,
    soft_run: bool,
    series_run: bool,
) -> tuple[float, float, float, float, bool, bool]:
    """The block sums the kernel takes for logits after :func:`plain_logits_pass`:
    ``(s1, s0, invalid, soft, soft_run, series_run)``.

    ``pos_weight != 1``: :func:`hard_logits_block` (``soft`` > 0 sends the block to the
    per-element path).  ``pos_weight = 1``: the kernel first tries
    :func:`plain_logits_pass` (unless ``soft_run`` or ``series_run``) and comes here when
    that sum was not kept: below :data:`PLAIN_MIN` (the kernel passes ``series_run``) or
    with soft targets (``soft_run``).  Hard targets: :func:`logits_block`, the series,
    and after it (``series_run``) the next block starts with the series until a sum
    reaches twice the bound; soft targets, label smoothing or a block after a soft one
    (``soft_run``): :func:`soft_logits_block`.  The returned flags say which was needed.
    ``ta[j]`` must hold ``exp(-|x_j|)``.
    """
    prefer_wide_vectors()
    if pw != 1.0:
        s1, s0, bad, soft = hard_logits_block(pb, tb, ta, m)
        return s1, s0, bad, soft, soft_run, series_run
    if not (smooth or soft_run):
        s1, s0, bad, soft = logits_block(pb, tb, ta, m)
        if soft == 0.0:
            return s1, s0, bad, soft, False, s0 < 2.0 * PLAIN_MIN
    s1, s0, bad, soft = soft_logits_block(pb, tb, ta, m, keep, half)
    return s1, s0, bad, soft, True, series_run


@njit(**_BLOCK)
def prob_sums(
    pb: Any, tb: Any, m: int, pw: float, series_run: bool
) -> tuple[float, float, float, float, bool]:
    """The block sums the kernel takes for probabilities (0/1 targets only):
    ``(s1, s0, invalid, soft, series_run)``.

    ``pos_weight != 1``: :func:`hard_probs_block`.  ``pos_weight = 1``: as for logits
    (:func:`logit_sums`), :func:`plain_probs_block`, redone with :func:`probs_block` when
    its sum is below :data:`PLAIN_MIN`; after such a block the next ones start with the
    series (``series_run``) until a sum reaches twice the bound.  ``soft`` > 0 sends the
    block to the per-element path.
    """
    prefer_wide_vectors()
    if pw != 1.0:
        s1, s0, bad, soft = hard_probs_block(pb, tb, m)
        return s1, s0, bad, soft, series_run
    soft = 0.0
    if not series_run:
        s1, s0, bad, soft = plain_probs_block(pb, tb, m)
        if soft == 0.0 and not s0 < PLAIN_MIN:  # inf and a flagged block's sum are kept
            return s1, s0, bad, soft, False
    if soft == 0.0:
        s1, s0, bad, soft = probs_block(pb, tb, m)
        if soft == 0.0:
            return s1, s0, bad, soft, s0 < 2.0 * PLAIN_MIN
    return s1, s0, bad, soft, series_run
