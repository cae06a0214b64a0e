"""The KL divergence KL(y || p) per element without cancellation (the excess of BCE).

A difference of two nearly equal logarithms loses every digit when p is close to y;
these functions rearrange the divergence so that nothing large cancels, using
:func:`log1pmx` (``log1p(u) - u``) and :func:`expm1mx` (``expm1(d) - d``) evaluated
from their series where the argument is small.  Written against the Array API, like
:mod:`bcelab._core.formulas`.
"""

from __future__ import annotations

from typing import Any

from .arrays import namespace_of
from .formulas import log1p

__all__ = ["expm1mx", "kl_exact", "log1pmx", "logit"]

Array = Any

_LOG1PMX_SERIES = (-0.7, 2.0)  # log1pmx sums its series for u in this interval
_LOG1PMX_TERMS = 32  # |s| < 0.54 there: s^64 / 65 is below float64's precision
_EXPM1MX_SMALL = 0.5  # expm1mx uses its series for |d| below this


def log1pmx(xp: Any, u: Array) -> Array:
    r"""``log1p(u) - u`` for ``u > -1``, accurate to a few ulp also for tiny ``|u|``.

    With :math:`s = u / (2 + u)`, :math:`\log(1 + u) = 2\,\mathrm{atanh}(s)`, so
    :math:`\log(1 + u) - u = -u^2 / (2 + u) + 2 (s^3/3 + s^5/5 + \dots)`: no
    cancellation (the series is under a third of the first term).  For ``u`` in
    [-0.7, 2), :math:`|s| < 0.54` and 32 terms reach float64's precision; outside,
    ``log1p(u) - u`` loses at most a factor 4 to cancellation.
    """
    lo, hi = _LOG1PMX_SERIES
    small = (u >= lo) & (u < hi)
    us = xp.where(small, u, 0.0)
    s = us / (2.0 + us)
    s2 = s * s
    series = xp.zeros_like(s2)
    for k in range(_LOG1PMX_TERMS, 0, -1):  # sum_{k >= 1} s^(2k) / (2k + 1), by Horner in s^2
        series = (series + 1.0 / (2 * k + 1)) * s2
    near = -(us * us) / (2.0 + us) + 2.0 * s * series
    far = log1p(xp, xp.where(small, 0.0, u)) - xp.where(small, 0.0, u)
    return xp.where(small, near, far)


def expm1mx(xp: Any, d: Array) -> Array:
    """``expm1(d) - d``, accurate to a few ulp also for tiny ``|d|`` (series below 0.5)."""
    small = xp.abs(d) < _EXPM1MX_SMALL
    ds = xp.where(small, d, 0.0)
    series = xp.zeros_like(ds)
    for k in range(17, 1, -1):  # sum_{k >= 2} d^k / k!, by Horner
        series = (series + 1.0) * ds / float(k)
    series = series * ds
    far = xp.expm1(xp.where(small, 1.0, d)) - xp.where(small, 1.0, d)
    return xp.where(small, series, far)


def logit(xp: Any, y: Array) -> Array:
    """``log(y / (1 - y))`` to a few ulp: ``log1p`` of ``(2y - 1) / (1 - y)`` near 1/2."""
    mid = (y >= 0.25) & (y <= 0.75)
    ym = xp.where(mid, y, 0.5)
    near = log1p(xp, (2.0 * ym - 1.0) / (1.0 - ym))
    far = xp.log(y) - log1p(xp, -y)
    return xp.where(mid, near, far)


def _kl_soft_probs(xp: Any, p: Array, y: Array) -> Array:
    """KL(y || p) for soft targets 0 < y < 1 from probabilities, without cancellation.

    With ``u = (y - p) / p`` and ``v = (p - y) / (1 - p)``, KL is
    ``y log1p(u) + (1 - y) log1p(v)`` (the *ratio form*, each logarithm from its
    relative difference, see :func:`_log_ratio`).  Near p = y the first-order terms of
    the two logarithms cancel; there the *difference form*
    ``y log1pmx(u) + (1 - y) log1pmx(v) - u v`` has no such cancellation: ``y - p`` is
    exact (Sterbenz), and ``-u v = (y - p)^2 / (p (1 - p))`` is what those first-order
    terms sum to.  Each element takes the form whose rounding error bound (the sum of
    the magnitudes it adds up) is smaller.
    """
    d = y - p
    q = 1.0 - p
    inside = (p > 0) & (q > 0)
    u = d / xp.where(p > 0, p, 1.0)
    v = -d / xp.where(q > 0, q, 1.0)
    ui, vi = xp.where(inside, u, 0.0), xp.where(inside, v, 0.0)
    parts_d = (y * log1pmx(xp, ui), (1.0 - y) * log1pmx(xp, vi), -(ui * vi))
    t1 = y * _log_ratio(xp, y, p, u)
    t2 = (1.0 - y) * _log_ratio(xp, 1.0 - y, q, v)
    k_diff = parts_d[0] + parts_d[1] + parts_d[2]
    # what each form's rounding scales with (log1pmx evaluated directly adds |u| and |v|)
    err_d = xp.abs(parts_d[0]) + xp.abs(parts_d[1]) + xp.abs(parts_d[2])
    err_d = (
        err_d
        + y * xp.abs(ui) * _outside_series(ui)
        + (1.0 - y) * xp.abs(vi) * (_outside_series(vi))
    )
    err_r = xp.abs(t1) + xp.abs(t2)
    use_diff = inside & (err_d <= err_r)
    return xp.where(use_diff, k_diff, t1 + t2)


def _outside_series(u: Array) -> Array:
    """1.0 where :func:`log1pmx` evaluates ``log1p(u) - u`` directly, else 0.0."""
    lo, hi = _LOG1PMX_SERIES
    xp = namespace_of(u)
    return xp.astype((u < lo) | (u >= hi), u.dtype)


def _log_ratio(xp: Any, a: Array, b: Array, rel: Array) -> Array:
    """``log(a / b)`` given ``rel = (a - b) / b``: ``log1p(rel)`` unless the ratio is small.

    ``b = 0`` gives +inf (``a > 0``); a ratio that overflows (subnormal ``b``) falls back
    to ``log(a) - log(b)``.
    """
    big = (rel > -0.5) & xp.isfinite(rel)  # rel overflows for a subnormal b
    via_rel = log1p(xp, xp.where(big & (b > 0), rel, 0.0))
    ratio = a / b
    via_ratio = xp.where(
        xp.isfinite(ratio) | (b == 0), xp.log(ratio), xp.log(a) - xp.log(xp.where(b > 0, b, 1.0))
    )
    return xp.where(big & (b > 0), via_rel, via_ratio)


def _kl_soft_logits(xp: Any, x: Array, y: Array, a: Array, b: Array) -> Array:
    """KL(y || sigmoid(x)) for soft targets 0 < y < 1 from logits, without cancellation.

    KL is the Bregman divergence of softplus between x and t = logit(y):
    ``softplus(x) - softplus(t) - y (x - t) = log1p(y expm1(d)) - y d`` with
    ``d = x - t``, evaluated as ``log1pmx(y expm1(d)) + y expm1mx(d)`` on the side
    where ``y <= 1/2`` (KL(y || p) = KL(1 - y || 1 - p)), where the two terms do not
    cancel.  Used for ``|d| <= 1``; elsewhere the log-ratio form from the softplus
    terms ``a``, ``b``.  The result's accuracy is limited by that of ``t``: an absolute
    error of a few ulp of ``|t|`` in ``d``.
    """
    d = x - logit(xp, y)
    flip = y > 0.5
    ys = xp.where(flip, 1.0 - y, y)
    ds = xp.where(flip, -d, d)
    near = xp.abs(ds) <= 1.0
    dn = xp.where(near, ds, 0.0)
    k_near = log1pmx(xp, ys * xp.expm1(dn)) + ys * expm1mx(xp, dn)
    k_far = y * (xp.log(y) + a) + (1.0 - y) * (log1p(xp, -y) + b)
    return xp.where(near, k_near, k_far)


def kl_exact(xp: Any, pred: Array, y: Array, a: Array, b: Array, *, logits: bool) -> Array:
    """KL(y || p) per element to a few ulp, for probabilities or logits ``pred``.

    ``a``, ``b`` are the guarded cross-entropy terms of ``pred``; for a hard target the
    KL *is* the cross-entropy (``a`` for y = 1, ``b`` for y = 0), bit for bit.  Soft
    targets go through :func:`_kl_soft_probs` or :func:`_kl_soft_logits`.
    """
    soft = (y > 0) & (y < 1)
    ys = xp.where(soft, y, 0.5)
    if logits:
        k_soft = _kl_soft_logits(xp, pred, ys, a, b)
    else:
        k_soft = _kl_soft_probs(xp, pred, ys)
    hard = xp.where(y == 1, a, b)
    return xp.maximum(xp.where(soft, k_soft, hard), 0.0) + 0.0
