"""Element-wise binary cross-entropy and focal loss, for NumPy, PyTorch and JAX arrays.

Every function takes the prediction first and the target second, like PyTorch, optax
and torchmetrics; both may also be passed by keyword (``preds=`` or ``logits=``, and
``targets=``).  Options are keyword-only and checked before the data is looked at.
Each function then decides between the compiled kernel (:mod:`bcelab.kernels`, for
NumPy arrays it can take) and the generic formula (:mod:`bcelab._core.formulas`),
which give the same numbers, and hands the per-element values to :func:`bcelab.reduce`.
"""

from __future__ import annotations

from typing import Any

from ._core import conventions as framework_conventions
from ._core import formulas
from ._core.arrays import asarray, dtypes_for, has_autograd, namespace, quiet, quiet_numpy
from ._core.options import (
    AxisArg,
    check_axis,
    check_convention,
    check_focal,
    check_nan_policy,
    check_reduction,
    check_unit_interval,
    reject_with_convention,
)
from ._core.prepare import Prepared, clip_bound, finish, pos_weight_array, prepare, shield
from ._core.validate import check_preds_dtype
from .kernels import dispatch

__all__ = ["bce", "bce_with_logits", "focal", "focal_with_logits", "sigmoid"]

Array = Any
_PLAIN_REDUCTIONS = frozenset(("none", "mean", "sum"))


def check_loss_options(
    *,
    fname: str,
    reduction: object,
    nan_policy: object,
    label_smoothing: object,
    convention: object = "exact",
) -> float:
    """The options every loss shares, checked at the door; returns the label smoothing."""
    if (  # the defaults of a plain call: nothing to check (a few microseconds per call)
        type(label_smoothing) is float
        and label_smoothing == 0.0
        and type(nan_policy) is str
        and nan_policy == "raise"
        and type(convention) is str
        and convention == "exact"
        and type(reduction) is str
        and reduction in _PLAIN_REDUCTIONS
    ):
        return 0.0
    check_reduction(reduction, fname=fname)
    check_nan_policy(nan_policy, fname=fname)
    check_convention(convention, fname=fname)
    return check_unit_interval(label_smoothing, name="label_smoothing", fname=fname)


def bce_with_logits(
    logits: Array,
    targets: Array,
    *,
    pos_weight: Array | float | None = None,
    label_smoothing: float = 0.0,
    convention: str = "exact",
    reduction: str = "none",
    weights: Array | None = None,
    mask: Array | None = None,
    axis: AxisArg = None,
    nan_policy: str = "raise",
) -> Array:
    r"""Binary cross-entropy from logits, exact and stable for every logit, including ±inf.

    .. math::

        \ell(x, y) = w_+\, y\, \operatorname{softplus}(-x) + (1 - y)\, \operatorname{softplus}(x)
        = -\bigl(w_+\, y \log\sigma(x) + (1 - y) \log(1 - \sigma(x))\bigr)

    where :math:`w_+` is ``pos_weight`` (default 1).  Both terms are non-negative, so
    nothing cancels; ``softplus`` never evaluates ``exp`` of a positive number.  For
    :math:`x = \pm\infty` the result is the limit: 0 when the sign agrees with a hard
    target, +inf otherwise, never NaN.  Label smoothing replaces y by
    :math:`y(1 - s) + s/2` first.

    Args:
        logits: the prediction, first: a real floating array of any shape (NumPy,
            PyTorch or JAX).
        targets: the target, second: same shape, values in [0, 1] (soft targets
            allowed); bool and int accepted.
        pos_weight: weight of the positive term: a number, one per label (shape = last
            axis), or the inputs' shape.
        label_smoothing: s in [0, 1].
        convention: ``"exact"`` or a framework's formula, see :mod:`bcelab.conventions`.
        reduction, weights, mask, axis: passed to :func:`bcelab.reduce`.
        nan_policy: ``"raise"`` (default), ``"propagate"`` or ``"omit"`` (NaN elements are
            left out of reductions; with ``reduction="none"`` they stay NaN).

    Returns:
        ``reduction="none"``: the per-element loss, float32 for float16/bfloat16/float32
        inputs and float64 for float64; otherwise a float64 reduction.

    >>> import numpy as np
    >>> bce_with_logits(np.array([1.5, -np.inf, np.inf]), np.array([1.0, 0.0, 0.0]))
    array([0.20141328, 0.        ,        inf])
    """
    return _cross_entropy(
        "bce_with_logits",
        logits,
        targets,
        logits=True,
        clip=None,
        pos_weight=pos_weight,
        label_smoothing=label_smoothing,
        convention=convention,
        reduction=reduction,
        weights=weights,
        mask=mask,
        axis=axis,
        nan_policy=nan_policy,
    )


def bce(
    preds: Array,
    targets: Array,
    *,
    clip: float | None = None,
    pos_weight: Array | float | None = None,
    label_smoothing: float = 0.0,
    convention: str = "exact",
    reduction: str = "none",
    weights: Array | None = None,
    mask: Array | None = None,
    axis: AxisArg = None,
    nan_policy: str = "raise",
) -> Array:
    r"""Binary cross-entropy from probabilities, exact by default (no hidden epsilon).

    .. math::

        \ell(p, y) = -\bigl(w_+\, y \log p + (1 - y) \log(1 - p)\bigr)

    with :math:`0 \log 0 = 0`, so ``p = 0, y = 1`` gives +inf and ``p = 0, y = 0``
    gives 0.  ``log(1 - p)`` is evaluated as ``log1p(-p)``.  With ``clip=eps`` the
    probabilities are clipped once to ``[eps, 1 - eps]``; ``1 - eps`` must be below 1
    in the input dtype (``1 - 1e-7`` is 1.0 in float16).

    Args:
        preds: the prediction, first: probabilities in [0, 1], any shape.
        targets: the target, second: same shape, values in [0, 1].
        clip: optional eps in (0, 0.5).
        pos_weight, label_smoothing, convention, reduction, weights, mask, axis,
        nan_policy: as in :func:`bce_with_logits`.

    >>> import numpy as np
    >>> y = np.array([0.5, 0.3, 0.5, 0.9])
    >>> round(float(bce(np.array([0.1, 0.3, 0.5, 0.8]), y, reduction="mean")), 8)
    0.71743932
    >>> round(float(bce(y, y, reduction="mean")), 8)  # the floor: mean entropy of y
    0.58056041
    """
    return _cross_entropy(
        "bce",
        preds,
        targets,
        logits=False,
        clip=clip,
        pos_weight=pos_weight,
        label_smoothing=label_smoothing,
        convention=convention,
        reduction=reduction,
        weights=weights,
        mask=mask,
        axis=axis,
        nan_policy=nan_policy,
    )


def _cross_entropy(
    fname: str,
    pred: Array,
    targets: Array,
    *,
    logits: bool,
    clip: float | None,
    pos_weight: Array | float | None,
    label_smoothing: float,
    convention: str,
    reduction: str,
    weights: Array | None,
    mask: Array | None,
    axis: AxisArg,
    nan_policy: str,
) -> Array:
    """:func:`bce` and :func:`bce_with_logits`: options, then the kernel or the formula."""
    ls = check_loss_options(
        fname=fname,
        reduction=reduction,
        nan_policy=nan_policy,
        label_smoothing=label_smoothing,
        convention=convention,
    )
    if convention != "exact":
        torch_logits = logits and convention == "torch"  # torch's logits formula has pos_weight
        for option, value in (("clip", clip), ("pos_weight", None if torch_logits else pos_weight)):
            if value is not None:
                reject_with_convention(convention, option, fname=fname)
    fast: Any = NotImplemented
    if check_axis(axis, reduction, fname=fname) is None:  # the kernel reduces every axis
        fast = dispatch.try_fused(
            pred,
            targets,
            logits=logits,
            pos_weight=pos_weight,
            label_smoothing=ls,
            convention=convention,
            reduction=reduction,
            weights=weights,
            mask=mask,
            nan_policy=nan_policy,
            clip=clip,
        )
    if fast is not NotImplemented:
        return fast
    # the kernel raises no floating-point warnings; the formulas' inf and 0 are on purpose
    with quiet_numpy():
        prep = prepare(
            pred,
            targets,
            fname=fname,
            probs=not logits,
            nan_policy=nan_policy,
            label_smoothing=ls,
            convention=convention,
        )
        prep = shield(prep, reduction=reduction, weights=weights, mask=mask, fname=fname)
        values = _values(prep, logits=logits, clip=clip, pos_weight=pos_weight, fname=fname)
        return finish(
            prep, values, reduction=reduction, weights=weights, mask=mask, axis=axis, fname=fname
        )


def _values(
    prep: Prepared, *, logits: bool, clip: float | None, pos_weight: object, fname: str
) -> Array:
    """Per-element cross-entropy of prepared inputs, in the chosen convention."""
    xp, z, y = prep.xp, prep.pred, prep.y
    pw = pos_weight_array(prep, pos_weight, fname=fname)
    convention = prep.convention
    if convention != "exact":
        if logits:
            return framework_conventions.logits_values(xp, convention, z, y, pw)
        # sklearn clips in the input dtype, the frameworks in their compute dtype
        src = prep.pred_in if convention == "sklearn" else z
        return framework_conventions.probs_values(xp, convention, src, y)
    if logits:
        a, b = formulas.neglog_terms_logits(xp, z, y, guard=not prep.clean)
    else:
        bounds = clip_bound(xp, clip, prep.pred_in.dtype, fname=fname)
        p = z if bounds is None else xp.clip(z, *bounds)
        a, b = formulas.neglog_terms_probs(xp, p, y)
    return formulas.cross_entropy(y, a, b, pw)


@quiet
def focal_with_logits(
    logits: Array,
    targets: Array,
    *,
    gamma: float = 2.0,
    alpha: float | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "none",
    weights: Array | None = None,
    mask: Array | None = None,
    axis: AxisArg = None,
    nan_policy: str = "raise",
) -> Array:
    r"""Sigmoid focal loss (Lin et al. 2017) from logits, stable in log space.

    The prediction comes first, the target second (``logits=``/``targets=`` may be
    passed by keyword).

    .. math::

        \ell = \alpha_t\, (1 - p_t)^{\gamma}\, \mathrm{BCE}(x, y), \quad
        1 - p_t = y (1 - \sigma(x)) + (1 - y) \sigma(x), \quad
        \alpha_t = \alpha y + (1 - \alpha)(1 - y)

    :math:`(1 - p_t)^\gamma` is computed as :math:`\exp(\gamma \log(1 - p_t))` with the
    log from log-sigmoids, so values and gradients are finite for every finite logit,
    also for :math:`\gamma < 1`.  ``alpha=None`` applies no class weighting.
    ``gamma=0`` and ``alpha=None`` give exactly :func:`bce_with_logits`.

    >>> import numpy as np
    >>> focal_with_logits(np.array([0.0, 5.0, np.inf]), np.array([1.0, 1.0, 1.0]), gamma=2.0)
    array([1.73286795e-01, 3.00809023e-07, 0.00000000e+00])
    """
    fname = "focal_with_logits"
    ls = check_loss_options(
        fname=fname, reduction=reduction, nan_policy=nan_policy, label_smoothing=label_smoothing
    )
    g, a_ = check_focal(gamma, alpha, fname=fname)
    prep = prepare(
        logits, targets, fname=fname, probs=False, nan_policy=nan_policy, label_smoothing=ls
    )
    prep = shield(prep, reduction=reduction, weights=weights, mask=mask, fname=fname)
    xp, x, y = prep.xp, prep.pred, prep.y
    a, b = formulas.neglog_terms_logits(xp, x, y)
    lp, lq = formulas.log_sigmoid(xp, x), formulas.log_sigmoid(xp, -x)
    pq = (formulas.sigmoid(xp, x), formulas.sigmoid(xp, -x))
    values = formulas.focal(xp, y, lp, lq, a, b, g, a_, pq=pq)
    return finish(
        prep, values, reduction=reduction, weights=weights, mask=mask, axis=axis, fname=fname
    )


@quiet
def focal(
    preds: Array,
    targets: Array,
    *,
    gamma: float = 2.0,
    alpha: float | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "none",
    weights: Array | None = None,
    mask: Array | None = None,
    axis: AxisArg = None,
    nan_policy: str = "raise",
) -> Array:
    r"""Focal loss from probabilities; same formula as :func:`focal_with_logits`.

    The prediction comes first, the target second (``preds=``/``targets=`` may be
    passed by keyword).

    .. math::

        \ell = \alpha_t\, (1 - p_t)^{\gamma}\, \mathrm{BCE}(p, y), \quad
        1 - p_t = y (1 - p) + (1 - y) p

    with :math:`\log p` and :math:`\log(1 - p)` (``log1p(-p)``) as the logs.

    >>> import numpy as np
    >>> focal(np.array([0.5, 1.0]), np.array([1.0, 1.0]), gamma=2.0)
    array([0.1732868, 0.       ])
    """
    fname = "focal"
    ls = check_loss_options(
        fname=fname, reduction=reduction, nan_policy=nan_policy, label_smoothing=label_smoothing
    )
    g, a_ = check_focal(gamma, alpha, fname=fname)
    prep = prepare(
        preds, targets, fname=fname, probs=True, nan_policy=nan_policy, label_smoothing=ls
    )
    prep = shield(prep, reduction=reduction, weights=weights, mask=mask, fname=fname)
    xp, p, y = prep.xp, prep.pred, prep.y
    perfect = None
    p_logs = p  # where the factor's logs are taken
    if g > 0.0 and has_autograd(p):
        # a perfect prediction (p = y = 0 or 1, as a float32 sigmoid gives for logits
        # beyond 17) has loss 0 and derivative 0 for gamma > 0, but autograd through
        # log(p) gives 0 * inf = NaN there: the formulas see 0.5 instead
        perfect = ((y == 0.0) & (p == 0.0)) | ((y == 1.0) & (p == 1.0))
        p = xp.where(perfect, 0.5, p)
        # where the loss is infinite (p = 0 with y > 0, p = 1 with y < 1) the derivative
        # is the factor times that of the cross-entropy (formulas.focal), and the factor's
        # logs have an infinite derivative there (0 * inf = NaN in the chain rule): they
        # are taken at 0.5, and the factor's value comes from the true p (pq)
        p_logs = xp.where(((p == 0.0) & (y > 0.0)) | ((p == 1.0) & (y < 1.0)), 0.5, p)
    a, b = formulas.neglog_terms_probs(xp, p, y)
    lp, lq = xp.log(p_logs), xp.log1p(-p_logs)
    values = formulas.focal(xp, y, lp, lq, a, b, g, a_, pq=(p, 1.0 - p))
    if perfect is not None:
        values = xp.where(perfect, 0.0, values)
    return finish(
        prep, values, reduction=reduction, weights=weights, mask=mask, axis=axis, fname=fname
    )


@quiet
def sigmoid(logits: Array) -> Array:
    r"""Logistic sigmoid :math:`1/(1+e^{-x})`, computed without overflow.

    >>> import numpy as np
    >>> sigmoid(np.array([-np.inf, 0.0, 800.0]))
    array([0. , 0.5, 1. ])
    """
    xp = namespace(logits, fname="sigmoid")
    x = asarray(xp, logits, name="logits", fname="sigmoid")
    check_preds_dtype(xp, x, name="logits", fname="sigmoid", with_targets=False)
    compute, out = dtypes_for(xp, x)
    return xp.astype(formulas.sigmoid(xp, xp.astype(x, compute)), out)
