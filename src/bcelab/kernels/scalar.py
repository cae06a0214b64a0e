r"""The scalar BCE formulas of the compiled kernels, one element at a time (numba).

These are the formulas of :mod:`bcelab._core.formulas` transcribed to scalars, used by
both the loss kernel (:mod:`bcelab.kernels.loss`) and the metric rows
(:mod:`bcelab.kernels.stats_rows`):

.. math::

    \ell = w_+\, y\, a + (1 - y)\, b, \qquad
    a = \operatorname{softplus}(-x) \text{ or } -\log p, \quad
    b = \operatorname{softplus}(x) \text{ or } -\log(1 - p),

with the term whose coefficient is 0 dropped (the "double where" of the core), the
entropy :math:`H(y)` and :math:`\mathrm{KL}(y \| p) = \ell - H(y)` from the same terms,
and the gradients.  The formulas are the core's, rearranged only where it is exact:
``softplus(x)`` and ``softplus(-x)`` share ``log1p(exp(-|x|))``, and ``sigmoid(±x)``
share ``exp(-|x|)``.

Each function is written for strict IEEE order and inlined into the loop that calls it
(numba IR), so it is compiled with that loop's flags: the loss kernel lets LLVM fuse
``a * b + c`` into one FMA, the metric loops do not.  Where a function comes in an
``_f32in`` and a ``_libm`` variant, the first uses :mod:`bcelab.kernels.fastmath`
(vectorisable, for float32 inputs computed in float64) and the second libm.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .constants import INLINE
from .fastmath import exp_nonpos_f32in, log1p_any, log1p_unit_f32in, log_f32in, log_pos

__all__ = [
    "cross_entropy",
    "entropy_from_logs",
    "entropy_kl_fastmath",
    "entropy_kl_libm",
    "entropy_soft",
    "grad_logits",
    "grad_logits_f32in",
    "grad_probs",
    "hard_term_f32in",
    "invalid_element",
    "kl_from_logs",
    "output_value",
    "scale_by_weight",
    "sigmoid_from_exp",
    "smooth_target",
    "softplus_pair",
    "term_pass1",
    "term_pass2",
]

_INF = float("inf")
_TWO_M29 = 2.0**-29


# --- the cross-entropy terms ----------------------------------------------------------------


@njit(**INLINE)
def term_pass1(p: float, logits: bool, fast: bool) -> float:
    """First pass of the terms: ``exp(-|x|)`` (logits) or ``-log p`` (probabilities)."""
    if logits:
        return exp_nonpos_f32in(-abs(p)) if fast else math.exp(-abs(p))
    if fast:
        return -log_f32in(p)
    return -math.log(p) if p > 0.0 else _INF


@njit(**INLINE)
def term_pass2(p: float, t: float, logits: bool, fast: bool) -> float:
    """Second pass: ``log1p(exp(-|x|))`` from the first pass's ``t`` (logits) or ``-log1p(-p)``."""
    if logits:
        return log1p_unit_f32in(t) if fast else math.log1p(t)
    if fast:
        return p + 0.5 * p * p if p < _TWO_M29 else -log_f32in(1.0 - p)
    return -math.log1p(-p) if p < 1.0 else _INF


@njit(**INLINE)
def hard_term_f32in(p: float, y: float) -> float:
    """The one term a hard target needs: ``-log p`` (y = 1) or ``-log1p(-p)`` (y = 0).

    One logarithm of the selected argument (``1 - p`` is exact in float64 for a float32
    ``p`` of at least 2^-29; below, the series of :func:`term_pass2`), so SIMD code does
    not evaluate both.  Only for float32 input.
    """
    z = p if y == 1.0 else 1.0 - p
    t = -log_f32in(z)
    return p + 0.5 * p * p if (y != 1.0 and p < _TWO_M29) else t


@njit(**INLINE)
def softplus_pair(x: float, lg: float) -> tuple[float, float]:
    """``(softplus(-x), softplus(x))`` from ``lg = log1p(exp(-|x|))``, which they share."""
    a = (-x if x < 0.0 else 0.0) + lg
    b = (x if x > 0.0 else 0.0) + lg
    return a, b


@njit(**INLINE)
def sigmoid_from_exp(x: float, e: float) -> float:
    """``sigmoid(x)`` from ``e = exp(-|x|)``: ``1 / (1 + e)`` for x >= 0, else ``e / (1 + e)``."""
    return 1.0 / (1.0 + e) if x >= 0.0 else e / (1.0 + e)


@njit(**INLINE)
def cross_entropy(y: float, a: float, b: float, pw: float) -> float:
    """``pw y a + (1 - y) b``, a term with coefficient 0 dropped (so ``0 * inf`` is 0).

    A ``pos_weight`` of 0 drops the positive term too, also where it is infinite.
    """
    c = pw * y
    pos = 0.0 if c == 0.0 else c * a
    neg = 0.0 if y == 1.0 else (1.0 - y) * b
    return pos + neg


# --- entropy and KL ---------------------------------------------------------------------------


@njit(**INLINE)
def entropy_from_logs(y: float, ly: float, l1y: float) -> float:
    """``H(y) = -y log y - (1 - y) log(1 - y)`` from ``ly = log y`` and ``l1y = log(1 - y)``."""
    return (0.0 if y == 0.0 else -y * ly) + (0.0 if y == 1.0 else -(1.0 - y) * l1y)


@njit(**INLINE)
def kl_from_logs(y: float, ly: float, l1y: float, a: float, b: float) -> float:
    """``KL(y || p)`` from the logs of y and the terms ``a``, ``b``; clamped at 0 like the core."""
    k = (0.0 if y == 0.0 else y * (ly + a)) + (0.0 if y == 1.0 else (1.0 - y) * (l1y + b))
    return k if k > 0.0 else 0.0


@njit(**INLINE)
def entropy_kl_fastmath(y: float, a: float, b: float) -> tuple[float, float]:
    """``(H(y), KL(y || p))`` from the cross-entropy terms, with the fastmath logarithms."""
    ly = log_pos(y)
    l1y = log1p_any(-y)
    return entropy_from_logs(y, ly, l1y), kl_from_logs(y, ly, l1y, a, b)


@njit(**INLINE)
def entropy_kl_libm(y: float, a: float, b: float) -> tuple[float, float]:
    """As :func:`entropy_kl_fastmath`, with libm's logarithms."""
    ly = math.log(y) if y > 0.0 else 0.0
    l1y = math.log1p(-y) if y < 1.0 else 0.0
    return entropy_from_logs(y, ly, l1y), kl_from_logs(y, ly, l1y, a, b)


@njit(**INLINE)
def entropy_soft(y: float) -> float:
    """``H(y)`` of one soft label (0 < y < 1) with the fastmath logarithms (about 1 ulp)."""
    return entropy_from_logs(y, log_pos(y), log1p_any(-y))


# --- gradients ------------------------------------------------------------------------------


@njit(**INLINE)
def grad_logits(x: float, y: float, e: float, pw: float) -> float:
    """``(1 - y) sigmoid(x) - pw y sigmoid(-x)`` with ``e = exp(-|x|)``."""
    big = 1.0 / (1.0 + e)
    small = e / (1.0 + e)
    s_pos = big if x >= 0.0 else small
    s_neg = big if x <= 0.0 else small
    return (1.0 - y) * s_pos - (pw * y) * s_neg


@njit(**INLINE)
def grad_logits_f32in(x: float, y: float, e: float, pw: float) -> float:
    """As :func:`grad_logits` with one division (float32 results: 1 ulp of float64 is noise)."""
    big = 1.0 / (1.0 + e)
    small = e * big
    s_pos = big if x >= 0.0 else small
    s_neg = big if x <= 0.0 else small
    return (1.0 - y) * s_pos - (pw * y) * s_neg


@njit(**INLINE)
def grad_probs(p: float, y: float, pw: float) -> float:
    """``-pw y / p + (1 - y) / (1 - p)``, as :func:`bcelab._core.formulas.grad_probs`.

    With ``pw == 1`` and p inside (0, 1) one fraction, ``(p - y) / (p (1 - p))``, whose
    numerator is exact near the gradient's zero; otherwise the two terms, a term with
    coefficient 0 dropped.
    """
    if pw == 1.0 and 0.0 < p < 1.0:
        return (p - y) / (p * (1.0 - p)) + 0.0
    c = pw * y
    t1 = 0.0 if c == 0.0 else -c / p
    t2 = 0.0 if y == 1.0 else (1.0 - y) / (1.0 - p)
    return t1 + t2 + 0.0


@njit(**INLINE)
def output_value(v: float, scale: float, f32: bool, scaled: bool) -> float:
    """``v`` as written to the output array, never ``-0.0`` (a tiny negative float64
    rounds to ``-0.0`` in float32, and adding ``+0.0`` after the rounding clears the
    sign); with ``scaled`` (a compile-time constant: a multiplication per element costs
    5% of the plain gradient loop), then times ``scale`` in the output's dtype: the bits of
    writing ``v`` and multiplying the array by ``scale`` afterwards (a backward pass's
    incoming gradient, ``g.mul_(scale)``)."""
    if f32:
        v32 = np.float32(v) + np.float32(0.0)
        return v32 * np.float32(scale) if scaled else v32  # type: ignore[return-value]
    return (v + 0.0) * scale if scaled else v + 0.0


# --- weights, smoothing, validity -------------------------------------------------------------


@njit(**INLINE)
def scale_by_weight(v: float, w: float, den: float, inv_den: float, f32: bool) -> float:
    """The core's ``where(w == 0, 0, w * v) / den``.

    For a float32 output (``f32``) the division is a multiplication by ``inv_den = 1 / den``:
    one float64 rounding more (about 1e-16, relative), a billion times below the float32
    ulp, where a SIMD division per element costs as much as the rest of the gradient.
    """
    wv = 0.0 if w == 0.0 else w * v
    return wv * inv_den if f32 else wv / den


@njit(**INLINE)
def smooth_target(y: float, keep: float, half: float) -> float:
    """Label smoothing: ``y (1 - s) + s / 2`` with ``keep = 1 - s`` and ``half = s / 2``."""
    return y * keep + half


@njit(**INLINE)
def invalid_element(pred: float, y_raw: float, logits: bool) -> float:
    """1.0 for NaN, targets outside [0, 1] or (probabilities) predictions outside [0, 1]."""
    bad_y = not (0.0 <= y_raw <= 1.0)
    bad_p = (pred != pred) if logits else not (0.0 <= pred <= 1.0)
    return 1.0 if (bad_y or bad_p) else 0.0
