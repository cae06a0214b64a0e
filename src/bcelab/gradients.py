"""Analytic gradients for NumPy users (who have no autograd).

The same generic formulas run on PyTorch and JAX arrays, and the tests check them
against ``torch.autograd`` and ``jax.grad`` of the losses.  Each function returns
d(loss)/d(prediction) with the prediction's shape.  ``reduction`` says which loss is
differentiated: ``"none"``/``"sum"`` give the per-element derivative (times the
weights), ``"mean"`` divides by the element count and ``"weighted_mean"`` by the
total weight, exactly matching :func:`bcelab.reduce`.  ``mask`` leaves elements out as it
does for the losses: their gradient is 0, and ``"mean"`` divides by the elements kept.
"""

from __future__ import annotations

from typing import Any

from ._core import formulas
from ._core.arrays import accum_dtype, device_of, is_traced, keep_array, quiet, size
from ._core.options import check_focal, check_nan_policy, check_reduction, check_unit_interval
from ._core.prepare import Prepared, clip_bound, keep_mask, pos_weight_array, prepare
from ._core.reducing import check_mean_weight, empty_error, overflow_error
from ._core.validate import check_mask, check_weights
from .kernels import dispatch

__all__ = ["bce_grad", "bce_with_logits_grad", "focal_with_logits_grad"]

Array = Any


GRAD_REDUCTIONS = ("none", "sum", "mean", "weighted_mean")


def _check_options(
    *, fname: str, reduction: object, label_smoothing: object, nan_policy: object
) -> float:
    check_reduction(reduction, fname=fname, allowed=GRAD_REDUCTIONS)
    check_nan_policy(nan_policy, fname=fname)
    return check_unit_interval(label_smoothing, name="label_smoothing", fname=fname)


def _scale(
    prep: Prepared, g: Array, *, reduction: str, weights: object, mask: object, fname: str
) -> Array:
    xp = prep.xp
    # the caller's mask, and nan_policy="omit" (whose NaN elements leave every reduction
    # but "none"), as for the losses
    if reduction == "none":
        keep = None if mask is None else check_mask(xp, mask, g, fname=fname)
    else:
        keep = keep_mask(prep, mask, fname=fname)
    if keep is not None:
        g = xp.where(keep, g, 0.0)
    unweighted = g
    if weights is not None:
        w = check_weights(xp, weights, g, name="weights", fname=fname)
        g = xp.where(w == 0, 0.0, w * g)
        kept = w if keep is None else xp.where(keep, w, 0.0)
        total = xp.sum(xp.astype(kept, accum_dtype(xp, g)))
    else:
        total = None
    count = float(size(g.shape)) if keep is None else float(xp.sum(xp.astype(keep, g.dtype)))
    if total is not None and reduction in ("mean", "weighted_mean") and not is_traced(g):
        if reduction == "weighted_mean" and bool(xp.isinf(total)):
            raise overflow_error(fname, "the weights add up to more (inf)")
        if reduction == "weighted_mean":
            n = xp.asarray(count, dtype=total.dtype, device=device_of(total))
            check_mean_weight(xp, total, n, total.dtype, fname=fname)
        if bool(xp.any(xp.isinf(g) & xp.isfinite(unweighted))):
            raise overflow_error(fname, "a weight times its finite gradient is more (inf)")
    if reduction == "mean":
        if count == 0:
            raise empty_error(fname, "zero elements")
        g = g / count
    elif reduction == "weighted_mean":
        if total is not None and is_traced(total):  # under jax.jit: no value to check
            return keep_array(xp.astype(g / total, prep.out_dtype) + 0.0)
        den = float(total) if total is not None else count
        if den == 0:
            raise empty_error(fname, "a total weight of 0")
        g = g / den
    # + 0.0: a tiny negative gradient rounds to -0.0 in float32
    return keep_array(xp.astype(g, prep.out_dtype) + 0.0)


@quiet
def bce_with_logits_grad(
    logits: Array,
    targets: Array,
    *,
    pos_weight: Array | float | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "none",
    weights: Array | None = None,
    mask: Array | None = None,
    nan_policy: str = "raise",
) -> Array:
    r"""Gradient of :func:`bcelab.bce_with_logits` with respect to the logits.

    The prediction comes first, the target second (``logits=``/``targets=`` may be
    passed by keyword).

    .. math::

        \frac{\partial \ell}{\partial x} = (1 - y)\,\sigma(x) - w_+\, y\, \sigma(-x)

    (``sigmoid(x) - y`` when ``pos_weight`` is 1, written so that a saturated sigmoid
    keeps its gradient: at x = 100, y = 0 it is 1, not 0 as after clipping).

    >>> import numpy as np
    >>> bce_with_logits_grad(np.array([0.0, 100.0, -100.0]), np.array([1.0, 0.0, 1.0]))
    array([-0.5,  1. , -1. ])
    """
    fname = "bce_with_logits_grad"
    ls = _check_options(
        fname=fname, reduction=reduction, label_smoothing=label_smoothing, nan_policy=nan_policy
    )
    if (
        mask is None
        and (
            r := dispatch.try_fused_grad(
                logits,
                targets,
                logits=True,
                pos_weight=pos_weight,
                label_smoothing=ls,
                reduction=reduction,
                weights=weights,
            )
        )
        is not NotImplemented
    ):
        return r  # NumPy input: the fused kernel (bcelab.kernels), same numbers
    prep = prepare(
        logits,
        targets,
        fname=fname,
        probs=False,
        nan_policy=nan_policy,
        label_smoothing=ls,
    )
    pw = pos_weight_array(prep, pos_weight, fname=fname)
    g = formulas.grad_logits(prep.xp, prep.pred, prep.y, pw)
    return _scale(prep, g, reduction=reduction, weights=weights, mask=mask, fname=fname)


@quiet
def bce_grad(
    preds: Array,
    targets: Array,
    *,
    clip: float | None = None,
    pos_weight: Array | float | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "none",
    weights: Array | None = None,
    mask: Array | None = None,
    nan_policy: str = "raise",
) -> Array:
    r"""Gradient of :func:`bcelab.bce` with respect to the probabilities.

    The prediction comes first, the target second (``preds=``/``targets=`` may be
    passed by keyword).

    .. math::

        \frac{\partial \ell}{\partial p} = -\frac{w_+\, y}{p} + \frac{1 - y}{1 - p}

    with terms whose coefficient is 0 dropped (so p = 0, y = 0 gives 1, not NaN).
    With ``clip`` the gradient is 0 where p lies outside [eps, 1 - eps] (the
    derivative of clipping, the reason to prefer logits: keras#9664).

    >>> import numpy as np
    >>> bce_grad(np.array([0.5, 0.0, 1.0]), np.array([1.0, 0.0, 0.0]))
    array([-2.,  1., inf])
    """
    fname = "bce_grad"
    ls = _check_options(
        fname=fname, reduction=reduction, label_smoothing=label_smoothing, nan_policy=nan_policy
    )
    if (
        mask is None
        and (
            r := dispatch.try_fused_grad(
                preds,
                targets,
                logits=False,
                pos_weight=pos_weight,
                label_smoothing=ls,
                reduction=reduction,
                weights=weights,
                clip=clip,
            )
        )
        is not NotImplemented
    ):
        return r  # NumPy input: the fused kernel (bcelab.kernels), same numbers
    prep = prepare(
        preds, targets, fname=fname, probs=True, nan_policy=nan_policy, label_smoothing=ls
    )
    xp, p = prep.xp, prep.pred
    pw = pos_weight_array(prep, pos_weight, fname=fname)
    bounds = clip_bound(xp, clip, prep.pred_in.dtype, fname=fname)
    inside = None
    if bounds is not None:
        inside = (p >= bounds[0]) & (p <= bounds[1])
        p = xp.clip(p, *bounds)
    g = formulas.grad_probs(xp, p, prep.y, pw)
    if inside is not None:
        g = xp.where(inside, g, 0.0)
    return _scale(prep, g, reduction=reduction, weights=weights, mask=mask, fname=fname)


@quiet
def focal_with_logits_grad(
    logits: Array,
    targets: Array,
    *,
    gamma: float = 2.0,
    alpha: float | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "none",
    weights: Array | None = None,
    mask: Array | None = None,
    nan_policy: str = "raise",
) -> Array:
    r"""Gradient of :func:`bcelab.focal_with_logits` with respect to the logits, in log space.

    The prediction comes first, the target second (``logits=``/``targets=`` may be
    passed by keyword).

    With :math:`w = (1 - p_t)^\gamma` and :math:`L = \log(1 - p_t)`:

    .. math::

        \frac{\partial}{\partial x}\bigl[w\,\mathrm{BCE}\bigr] = w\,(\sigma(x) - y)
        + \gamma (1 - 2y)\, e^{(\gamma - 1) L + \log\sigma(x) + \log\sigma(-x)}\, \mathrm{BCE}

    >>> import numpy as np
    >>> focal_with_logits_grad(np.array([0.0]), np.array([1.0]), gamma=0.0)
    array([-0.5])
    """
    fname = "focal_with_logits_grad"
    ls = _check_options(
        fname=fname, reduction=reduction, label_smoothing=label_smoothing, nan_policy=nan_policy
    )
    g_, a_ = check_focal(gamma, alpha, fname=fname)
    prep = prepare(
        logits,
        targets,
        fname=fname,
        probs=False,
        nan_policy=nan_policy,
        label_smoothing=ls,
    )
    g = formulas.grad_focal_logits(prep.xp, prep.pred, prep.y, g_, a_)
    return _scale(prep, g, reduction=reduction, weights=weights, mask=mask, fname=fname)
