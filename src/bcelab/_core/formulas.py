"""The formulas, written once against the Array API standard.

Every function here takes an array namespace ``xp`` and arrays that are already
validated and cast to the compute dtype.  There are no per-backend branches but one
(below): NumPy, PyTorch and JAX all run exactly these lines.

Two rules keep every formula exact at the edges and its autograd gradient finite:

1. Never evaluate ``exp`` of a large positive number.  ``softplus(x) = log(1 + e^x)``
   is evaluated as ``x + log1p(e^-x)`` for ``x > 0`` and ``log1p(e^x)`` otherwise;
   both branches only ever see ``exp`` of a non-positive number.
2. Never form ``0 * inf``.  Where a coefficient (``y`` or ``1 - y``) is exactly 0 and
   the log it multiplies is infinite, that log is replaced by 0 (from logits) or
   evaluated at a harmless stand-in input (from probabilities, "double where"), so the
   product is an exact 0 and autograd sees a finite local derivative.  This is what makes ``x = +inf, y = 1`` give 0 (not NaN)
   and ``p = 0, y = 0`` give a gradient of 1 (not NaN).  A finite log keeps its value
   (times 0 it is 0 anyway), so the derivative in the target is right at hard targets.

Every derivative, of every order, is exact at ``x = 0`` too (see :func:`_min_max`).
The one choice by library: where no autograd exists (NumPy), the kink at 0 is taken
with ``minimum``/``maximum``, which give the same values as the ``where`` that autograd
needs, several times faster.
"""

from __future__ import annotations

from typing import Any

from .arrays import has_autograd, is_jax_float64, may_need_gradient, namespace_of, stop_gradient

Array = Any
_TINY = 2.2250738585072014e-308  # the smallest normal float64


def _min_max(xp: Any, x: Array) -> tuple[Array, Array, Array]:
    """``(min(x, 0), max(x, 0), exp(-|x|))``, each taken from the side ``x >= 0`` at x = 0.

    Under autograd the two are selected with ``where`` rather than computed with
    ``minimum``/``maximum``: autograd splits the gradient of those evenly at a tie (JAX
    and PyTorch alike), which gets the first derivatives below right at x = 0 but loses
    ``d/dx (-|x|) = -1`` there, so every second derivative came out wrong
    (``softplus''(0) = 0``, not 1/4: a zero Hessian for a logistic regression started
    at zero weights).  Taking both from the same side keeps every derivative of every
    order exact at x = 0 (``softplus' = 1/2``, ``softplus'' = sigmoid' = 1/4``,
    ``sigmoid'' = 0``).  NaN goes to the other side, where ``exp`` propagates it.
    Without autograd (NumPy) ``minimum``/``maximum`` give the same values, faster.
    """
    if has_autograd(x):
        pos = x >= 0.0
        mn = xp.where(pos, 0.0, x)
        mx = xp.where(pos, x, 0.0)
    else:
        mn = xp.minimum(x, 0.0)
        mx = xp.maximum(x, 0.0)
    return mn, mx, xp.exp(mn - mx)


def log1p(xp: Any, x: Array) -> Array:
    """``log(1 + x)`` to 2 ulp on every backend.

    XLA's float64 ``log1p`` (JAX with ``jax_enable_x64``) is off by up to 121 ulp for x
    in (-0.5, -1e-4) (20,000 log-uniform points against mpmath; NumPy and torch: 1 ulp).
    There the value is Goldberg's ``log(u) x / (u - 1)`` with ``u = 1 + x``, within 2 ulp
    given a correctly rounded ``log`` (exact ``u - 1``, Sterbenz), and the derivatives
    are those of ``log1p``.  Elsewhere it is XLA's ``log1p`` itself, with its own
    derivative, also the infinite one at x = -1.
    """
    plain = xp.log1p(x)
    if not is_jax_float64(x):
        return plain
    bad = (x > -0.5) & (x < -1e-6)  # below 1e-4 XLA's is right, and u stays below 1
    u = 1.0 + xp.where(bad, x, -0.25)
    return xp.where(bad, accurate_value(xp, xp.log(u) * (x / (u - 1.0)), plain), plain)


def softplus(xp: Any, x: Array) -> Array:
    """``log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))``: no overflow, inf maps to inf.

    Branch-free (no ``where``): ``exp`` only ever sees a non-positive number.
    """
    _, mx, e = _min_max(xp, x)
    return mx + xp.log1p(e)


def sigmoid(xp: Any, x: Array) -> Array:
    """``exp(min(x, 0)) / (1 + exp(-|x|))``: branch-free, exact in both tails, no overflow.

    Under autograd written as ``where(x >= 0, 1, e) / (1 + e)`` with ``e = exp(-|x|)``:
    one ``exp``, the same values, and every derivative exact at x = 0 (see
    :func:`_min_max`).
    """
    if has_autograd(x):
        pos = x >= 0.0
        e = xp.exp(xp.where(pos, -x, x))
        return xp.where(pos, 1.0, e) / (1.0 + e)
    mn, _, e = _min_max(xp, x)
    return xp.exp(mn) / (1.0 + e)


def log_sigmoid(xp: Any, x: Array) -> Array:
    return -softplus(xp, -x)


def logaddexp(xp: Any, a: Array, b: Array) -> Array:
    """``log(e^a + e^b)`` that returns -inf (not NaN) when both inputs are -inf."""
    m = xp.maximum(a, b)
    finite = ~(m == -xp.inf)  # NaN counts as "finite" here so that it propagates
    m_safe = xp.where(finite, m, 0.0)
    d = xp.where(finite, -xp.abs(a - b), 0.0)
    return xp.where(finite, m_safe + xp.log1p(xp.exp(d)), -xp.inf)


def smooth(y: Array, label_smoothing: float) -> Array:
    """Keras/optax label smoothing: ``y (1 - ls) + ls / 2``."""
    if label_smoothing == 0.0:
        return y
    return y * (1.0 - label_smoothing) + 0.5 * label_smoothing


# --- cross-entropy terms -----------------------------------------------------------


def neglog_terms_logits(xp: Any, x: Array, y: Array, *, guard: bool = True) -> tuple[Array, Array]:
    """``(-log sigmoid(x), -log sigmoid(-x)) = (softplus(-x), softplus(x))``.

    Both terms share one ``log1p(exp(-|x|))``: ``t - min(x, 0)`` and ``t + max(x, 0)``.
    With ``guard=True`` each term is replaced by 0 where its coefficient is 0 and the
    term is infinite (``x = -inf`` where ``y == 0``, resp. ``x = +inf`` where
    ``y == 1``), so that an infinite logit with an agreeing hard target gives 0, not
    ``0 * inf = NaN``, and autograd sees a finite local derivative.  Finite logits keep
    their terms, so the derivative in the targets, ``a - b = -x``, is right at hard
    targets too.  Callers pass ``guard=False`` only after checking that every logit is
    finite: the same values without the two ``where``, which matters on CPUs, where a
    data-dependent ``where`` costs as much as ten multiplies.
    """
    mn, mx, e = _min_max(xp, x)
    t = xp.log1p(e)
    a, b = t - mn, t + mx
    if guard:
        a = xp.where((y == 0) & (x == -xp.inf), 0.0, a)
        b = xp.where((y == 1) & (x == xp.inf), 0.0, b)
    return a, b


def neglog_terms_probs(xp: Any, p: Array, y: Array) -> tuple[Array, Array]:
    """``(-log p, -log(1 - p))``, each made finite where its coefficient is 0.

    The guard is arithmetic, not a ``where``: adding the 0/1 indicator
    ``[y == 0 and p == 0]`` to p changes nothing elsewhere (p + 0 is exact) and turns
    ``log 0`` into the finite ``log 1`` where the coefficient y is exactly 0.  The same
    for ``1 - p`` with ``[y == 1 and p == 1]``.  Probabilities are finite, so no
    ``0 * inf`` arises, and every finite term is kept: the derivative in the targets,
    ``a - b``, is right at hard targets too.
    """
    # 0.0 - log(...) rather than -log(...): a log of exactly 0 gives +0.0, never -0.0
    a = 0.0 - xp.log(p + xp.astype((y == 0) & (p == 0), p.dtype))
    b = 0.0 - log1p(xp, xp.astype((y == 1) & (p == 1), p.dtype) - p)
    return a, b


def cross_entropy(y: Array, a: Array, b: Array, pos_weight: Array | float | None) -> Array:
    """``pw * y * a + (1 - y) * b`` for the (finite-where-needed) terms of the two functions above.

    Both terms are non-negative, so the sum has no cancellation: the result is
    as accurate as the terms (a few ulp), which is why this form is used instead
    of the popular ``max(x, 0) - x y + log1p(e^-|x|)``, whose ``x - x y`` loses
    digits for soft targets and large |x| and turns into ``inf - inf`` at x = inf.
    """
    if pos_weight is None:
        pos = y * a
    else:
        # a pos_weight of 0 removes the positive term, also where it is infinite (0 * inf);
        # a finite term stays in the product (0 * a = 0), for its derivative in y
        c = pos_weight * y
        pos = namespace_of(a).where((c == 0) & (a == float("inf")), 0.0, c * a)
    return pos + (1.0 - y) * b


def entropy(xp: Any, y: Array) -> Array:
    """Binary entropy ``-(y log y + (1 - y) log(1 - y))`` with ``0 log 0 = 0``."""
    a, b = neglog_terms_probs(xp, y, y)
    return y * a + (1.0 - y) * b


def kl(xp: Any, y: Array, a: Array, b: Array) -> Array:
    """``KL(y || p) = y (log y + a) + (1 - y) (log(1 - y) + b)`` from the cross-entropy terms.

    Cheap (it reuses ``a = -log p`` and ``b = -log(1 - p)``), and exact where KL is not
    small against the terms; near p = y it is a difference of nearly equal numbers,
    accurate only to a few ulp of ``BCE``.  Training uses it for the reported excess,
    which is a mean where that absolute error is negligible; :func:`kl_exact` is the
    per-element function.  Clamped at 0 (``p == y`` gives exactly 0).
    """
    ly = xp.log(y + xp.astype(y == 0, y.dtype))
    l1y = log1p(xp, xp.astype(y == 1, y.dtype) - y)
    val = y * (ly + a) + (1.0 - y) * (l1y + b)
    return xp.maximum(val, 0.0) + 0.0


def focal(
    xp: Any,
    y: Array,
    lp: Array,
    lq: Array,
    a: Array,
    b: Array,
    gamma: float,
    alpha: float | None,
    *,
    pq: tuple[Array, Array] | None = None,
) -> Array:
    """Focal loss ``alpha_t (1 - p_t)^gamma CE`` with the modulating factor computed in log space.

    ``lp = log p`` and ``lq = log(1 - p)`` are the *unguarded* logs (they may be -inf);
    ``a, b`` are the guarded cross-entropy terms.  Under autograd, where ``ce`` is
    infinite, the logs' derivatives must be finite (from logits they are; from
    probabilities the caller takes them at a stand-in p, the value coming from ``pq``).  For soft targets
    ``1 - p_t = y (1 - p) + (1 - y) p``, whose log is a logaddexp of two logs, so
    ``(1 - p_t)^gamma = exp(gamma log(1 - p_t))`` never raises 0 to a power below 1:
    the gradient stays finite for every finite logit and every gamma >= 0
    (the failure reported in tensorflow#70326 and kornia#2115).  The derivative in the
    targets comes from the direct form (:func:`_target_slope`), finite at 0/1 targets too.

    ``pq = (p, 1 - p)``, when given, makes the *value* of the factor accurate to a few
    ulp: ``exp(gamma L)`` has a relative error of about ``gamma |L|`` ulp (hundreds for
    tiny ``1 - p_t``), while ``(y (1 - p) + (1 - y) p) ** gamma`` adds two non-negative
    terms and then rounds once more.  The derivative stays that of the log-space form.
    """
    ce = cross_entropy(y, a, b, None)
    if gamma != 0.0:
        grad_y = may_need_gradient(y)
        yc = stop_gradient(y) if grad_y else y  # the targets' derivative: _target_slope
        log_y = xp.log(yc)  # -inf at y == 0 is fine: it only enters logaddexp
        log_1my = log1p(xp, -yc)
        log_1mpt = logaddexp(xp, log_y + lq, log_1my + lp)
        if grad_y:
            log_1mpt = log_1mpt + _target_slope(xp, y, lp, lq, log_1mpt)
        weight = xp.exp(gamma * log_1mpt)
        if pq is not None:
            weight = accurate_value(xp, focal_factor(xp, y, pq[0], pq[1], gamma), weight)
        # weight == 0 exactly where the prediction is perfect; ce is then 0 too.  Where ce
        # is infinite (a logit of -inf or +inf on the wrong side) the weight's derivative
        # is 0 and the product rule would give 0 * inf: there the derivative is the
        # weight times that of ce, the limit from finite logits (+-1, as the BCE's)
        inf = xp.isinf(ce)
        weighted = xp.where(inf, stop_gradient(weight) * ce, weight * xp.where(inf, 0.0, ce))
        ce = xp.where(weight == 0, 0.0, weighted)
    return _alpha_weighted(xp, ce, y, alpha)


def _target_slope(xp: Any, y: Array, lp: Array, lq: Array, log_u0: Array) -> Array:
    """Zero, with the derivatives of ``log(1 - p_t)`` that involve the targets.

    ``1 - p_t = u = y q + (1 - y) p``, so the derivative in y is ``(q - p) / u``.  The
    log-space form differentiates ``log y`` and ``log(1 - y)`` instead, which gives
    ``0 * inf`` (NaN) at a hard target, so :func:`focal` takes it at constant targets
    ``y0`` (``log_u0``, the log of ``u0 = u(x, y0)`` in log space) and adds this term,
    ``log(u(x, y) / u0) = log1p((y - y0)(q - p) / u0)``.  Its value is exactly 0
    (``y - y0`` is), and so is every derivative in the logits alone (each carries the
    factor ``y - y0``; no cancellation is relied on), so those stay the log-space
    form's, bit for bit; every derivative that involves y is that of ``log u``:
    ``(q - p) / u`` and ``-((q - p) / u)^2`` in y, and the mixed ``d/dx ((q - p) / u)``,
    which needs p and q live in the logits (taken as constants they gave the mixed
    second derivative of the log-space form alone, which has none in y: wrong).

    ``1 / u0`` is the correctly rounded reciprocal with the derivatives of
    ``exp(-log_u0)``: those of a quotient (``-1 / u0^2``, ``2 / u0^3``, ...) overflow
    long before ``1 / u0`` does and would meet the factor ``y - y0 = 0`` as
    ``0 * inf``, while ``exp(-log_u0)`` times the bounded derivatives of ``log_u0``
    stays finite at every order.  Where ``1 / u0`` is near overflow (a hard target and
    a confident logit, |x| > 76 in float32, > 697 in float64) p and q are constants, as
    before: the first derivatives are exact, the mixed second one misses the logits'
    part of ``(q - p) / u``.  Where ``u0`` is 0 (a perfect prediction whose ``1 - p``
    or ``p`` underflowed) the term is left at 0.
    """
    p, q = xp.exp(lp), xp.exp(lq)
    y0 = stop_gradient(y)
    u0 = stop_gradient(y0 * q + (1.0 - y0) * p)
    in_range = u0 > xp.finfo(u0.dtype).tiny * 65536.0  # 1 / u0 below max / 65536
    inv = accurate_value(
        xp, 1.0 / xp.where(in_range, u0, 1.0), xp.exp(-xp.where(in_range, log_u0, 0.0))
    )
    live = xp.log1p(((y - y0) * (q - p)) * inv)
    # far out: p and q as constants (no derivative in the logits)
    u = y * stop_gradient(q) + (1.0 - y) * stop_gradient(p)
    positive = u > 0
    log_u = xp.log(xp.where(positive, u, 1.0))
    const = xp.where(positive, log_u - stop_gradient(log_u), 0.0)
    return xp.where(in_range, live, const)


def focal_factor(xp: Any, y: Array, p: Array, q: Array, gamma: float) -> Array:
    """``(1 - p_t)^gamma = (y q + (1 - y) p)^gamma`` with ``q = 1 - p``, to a few ulp."""
    omp = y * q + (1.0 - y) * p
    positive = omp > 0
    return xp.where(positive, xp.pow(xp.where(positive, omp, 1.0), gamma), 0.0)


def accurate_value(xp: Any, value: Array, differentiable: Array) -> Array:
    """``value``, with the derivative of ``differentiable`` (an expression of nearly that value).

    ``differentiable - stop_gradient(differentiable)`` is exactly +0.0 (except inf - inf,
    which is replaced by 0), so the result is ``value`` bit for bit, while autograd sees
    only ``differentiable``.
    """
    zero = xp.where(xp.isinf(differentiable), 0.0, differentiable - stop_gradient(differentiable))
    return stop_gradient(value) + zero


def _alpha_weighted(xp: Any, v: Array, y: Array, alpha: float | None) -> Array:
    """``alpha_t * v`` with ``alpha_t = alpha y + (1 - alpha)(1 - y)``; ``0 * inf = 0``."""
    if alpha is None:
        return v
    at = alpha * y + (1.0 - alpha) * (1.0 - y)
    return xp.where((at == 0) & xp.isinf(v), 0.0, at * v)


# --- analytic gradients --------------------------------------------------------------


def grad_logits(xp: Any, x: Array, y: Array, pos_weight: Array | float | None) -> Array:
    """d/dx of ``cross_entropy`` from logits: ``(1 - y) sigmoid(x) - pw y sigmoid(-x)``.

    Written as two terms rather than ``sigmoid(x) - y`` so that a hard target and a
    large logit keep full relative accuracy (``sigmoid(-x)`` is not ``1 - sigmoid(x)``).
    """
    pw = 1.0 if pos_weight is None else pos_weight
    return (1.0 - y) * sigmoid(xp, x) - (pw * y) * sigmoid(xp, -x) + 0.0  # no -0.0


def grad_probs(xp: Any, p: Array, y: Array, pos_weight: Array | float | None) -> Array:
    """d/dp of ``cross_entropy`` from probabilities: ``-pw y / p + (1 - y) / (1 - p)``.

    With ``pos_weight`` 1 (or None), inside (0, 1) it is one fraction,
    ``(p - y) / (p (1 - p))``, whose numerator is exact near the gradient's zero
    (Sterbenz), where the two terms would cancel.  Otherwise, and at p = 0 or 1, the two
    terms, with arithmetic guards as in :func:`neglog_terms_probs` (a denominator only
    changes where its numerator is exactly 0, so 0/0 never happens).
    """
    pw = 1.0 if pos_weight is None else pos_weight
    c = pw * y
    t1 = -c / (p + xp.astype((c == 0) & (p == 0), p.dtype))
    t2 = (1.0 - y) / ((1.0 - p) + xp.astype((y == 1) & (p == 1), p.dtype))
    if not (isinstance(pw, float) and pw == 1.0):
        return t1 + t2 + 0.0  # + 0.0 turns -0.0 into 0.0
    inside = (p > 0) & (p < 1)
    pi = xp.where(inside, p, 0.5)
    return xp.where(inside, (pi - y) / (pi * (1.0 - pi)), t1 + t2) + 0.0


def grad_focal_logits(xp: Any, x: Array, y: Array, gamma: float, alpha: float | None) -> Array:
    """d/dx of the focal loss from logits, in log space (finite for all finite x, gamma >= 0).

    With ``w = (1 - p_t)^gamma`` and ``L = log(1 - p_t)``:
    ``d/dx [w CE] = w CE' + gamma (1 - 2y) exp((gamma - 1) L + log p + log(1 - p)) CE``.
    """
    a, b = neglog_terms_logits(xp, x, y)
    ce = cross_entropy(y, a, b, None)
    dce = grad_logits(xp, x, y, None)
    if gamma == 0.0:
        g = dce
    else:
        lp = log_sigmoid(xp, x)
        lq = log_sigmoid(xp, -x)
        p, q = sigmoid(xp, x), sigmoid(xp, -x)
        w = focal_factor(xp, y, p, q, gamma)
        # d w / dx / (gamma (1 - 2y)) = (1 - p_t)^(gamma - 1) p (1 - p): directly where
        # that is a normal number (a few ulp), else in log space (finite for every x)
        log_1mpt = logaddexp(xp, xp.log(y) + lq, log1p(xp, -y) + lp)
        # 1 - p_t = 0 (log -inf) only at an infinite logit with an agreeing hard target,
        # where log p + log(1 - p) is -inf: the power is taken as 0 there, so that
        # gamma < 1 gives exp(-inf) = 0 (the limit p^gamma q or q^gamma p), not inf - inf
        power = (gamma - 1.0) * xp.where(log_1mpt == -xp.inf, 0.0, log_1mpt)
        omp = y * q + (1.0 - y) * p
        direct = xp.pow(xp.where(omp > 0, omp, 1.0), gamma - 1.0) * (p * q)
        normal = (omp > 0) & xp.isfinite(direct) & (direct >= _TINY)
        dw_over = xp.where(normal, direct, xp.exp(power + lp + lq))
        t2 = (gamma * (1.0 - 2.0 * y)) * dw_over
        t2 = xp.where(t2 == 0, 0.0, t2 * ce)
        t1 = xp.where(w == 0, 0.0, w * dce)
        g = t1 + t2
    return _alpha_weighted(xp, g, y, alpha) + 0.0  # + 0.0 turns -0.0 into 0.0
